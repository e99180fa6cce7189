"""The managers' weekly summary, against a hand-counted week: Thanksgiving week 2026 in New
York (Mon 23 – Fri 27 November, the 26th off)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

from sqlalchemy.engine import Engine

EXAMPLE = (Path(__file__).resolve().parent.parent / "examples" / "sla.toml").read_text()


def _ny(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour + 5, tzinfo=UTC)  # EST is UTC−5 in November


def _week(engine: Engine) -> None:
    """7 plain MQLs in the week (3 of them SQLs), 2 the Friday before and 1 on Saturday; Rita's
    L1 (Mon 10:00, touched 11:00: met in 60 min), L2 (Mon 10:00, touched Tue 10:00: late, 7h +
    1h = 480 business minutes) and L3 (Tue 10:00, never touched). Check-ins: L3 wrong owner
    (Tue), no answer (Wed), a blocker. Two action items, one done on Wednesday."""
    from bot.domain.leads import LeadRecord, TouchRecord
    from bot.services.agreements import apply_agreement
    from bot.services.clocks import refresh
    from storage import action_items, checkins
    from storage.ingest import record_touches, upsert_leads

    apply_agreement(engine, EXAMPLE, now=datetime(2026, 11, 2, tzinfo=UTC))
    rows = [LeadRecord(f"M{n}", {"mql_at": _ny(23 + n % 3, 11), "stage": "mql"}) for n in range(7)]
    for n in range(3):
        rows[n].values |= {"sql_at": _ny(24, 12), "stage": "sql"}
    rows += [LeadRecord(f"F{n}", {"mql_at": _ny(20, 11), "stage": "mql"}) for n in range(2)]
    rows.append(LeadRecord("S0", {"mql_at": _ny(28, 11), "stage": "mql"}))
    for name, day in (("L1", 23), ("L2", 23), ("L3", 24)):
        rows.append(
            LeadRecord(
                name,
                {
                    "mql_at": _ny(day, 10),
                    "assigned_at": _ny(day, 10),
                    "stage": "mql",
                    "owner_email": "rita@example.com",
                },
            )
        )
    with engine.begin() as connection:
        upsert_leads(connection, rows, source_system="native", origin="import")
        record_touches(connection, [
            TouchRecord("L1", _ny(23, 11), "call", "rita@example.com"),
            TouchRecord("L2", _ny(24, 10), "call", "rita@example.com"),
        ], source_system="native")  # fmt: skip
        for day, reason, note in ((24, "wrong_owner", ""), (25, "no_answer", "")):
            checkins.answer(connection, team="na", day=date(2026, 11, day),
                            rep_email="rita@example.com", lead_id=7, reason=reason, note=note,
                            at=_ny(day, 8))  # fmt: skip
        checkins.answer(connection, team="na", day=date(2026, 11, 25), lead_id=checkins.BLOCKER,
                        rep_email="rita@example.com", reason="blocker", note="CRM down",
                        at=_ny(25, 8))  # fmt: skip
        for text in ("Fix the form", "Call Hooli"):
            action_items.add(connection, team="na", text=text, owner="U0RITA",
                             due=date(2026, 11, 30), by="U0MAX", at=_ny(23, 9))  # fmt: skip
        action_items.mark_done(connection, 1, by="U0RITA", at=_ny(25, 12))
    refresh(engine, now=_ny(27, 17))


def test_the_week_by_hand(engine: Engine) -> None:
    """4 business days of November's 19: MQLs expected 3,900 × 4 / 19 = 821.05 and SQLs
    1,326 × 4 / 19 = 279.16; 10 MQLs (7 plain and L1–L3) and 3 SQLs. First touch: 1 of 2 in
    SLA, median (60 + 480) / 2 = 270 minutes. Breached: L1 (accept-or-recycle due Wed), L2
    (late first touch), L3 (first touch due Tue): 3."""
    from bot.services.weekly import weekly_summary
    from bot.slack.render import Renderer
    from storage.agreements import agreement_in_force

    _week(engine)
    agreement = agreement_in_force(engine, on=date(2026, 11, 27))
    assert agreement is not None
    team = agreement.teams[0]
    week = weekly_summary(engine, agreement, team, date(2026, 11, 27), _ny(27, 17))
    assert (week.first, week.business_days) == (date(2026, 11, 23), 4)
    assert (week.mqls, week.mqls_expected) == (10, Fraction(3900 * 4, 19))
    assert (week.sqls, week.sqls_expected) == (3, Fraction(1326 * 4, 19))
    assert (week.response.met, week.response.late, week.response.median_minutes) == (1, 1, 270)
    assert week.breaches == 3
    assert dict(week.reasons) == {"wrong_owner": 1, "no_answer": 1}
    assert (week.items_done, week.items_open) == (1, 1)
    shown = Renderer().slack_text("weekly/summary.txt.j2", s=week)
    assert "*Week of 23 Nov–27 Nov · team na* (4 business days)" in shown
    assert "MQLs 10 of 821 expected (1.2% of pace) · SQLs 3 of 279 expected (1.1%)" in shown
    assert "First touch in SLA: 50% of 2 (median 4h 30m)" in shown
    assert "Breached leads: 3 · the check-ins said: 1 called, no answer, 1 wrong owner" in shown
    assert "Action items: 1 done this week, 1 open" in shown


def test_the_summary_goes_to_the_managers_once_at_the_week_s_close(engine: Engine) -> None:
    """Friday is the week's last workday (Thursday is Thanksgiving): nothing on Thursday, nor
    on Friday before 17:00; at 17:00 one DM to Max, once."""
    from bot.services.weekly import last_workday, send_weekly
    from bot.slack.render import Renderer
    from storage.agreements import agreement_in_force

    _week(engine)
    agreement = agreement_in_force(engine, on=date(2026, 11, 27))
    assert agreement is not None
    calendar = agreement.team_calendar("na")
    assert last_workday(calendar, date(2026, 11, 24)) == date(2026, 11, 27)
    assert send_weekly(engine, Renderer(), _ny(26, 17)) == []
    assert send_weekly(engine, Renderer(), _ny(27, 16)) == []
    sent = send_weekly(engine, Renderer(), _ny(27, 17) + timedelta(minutes=1))
    assert len(sent) == 1
    assert send_weekly(engine, Renderer(), _ny(27, 18)) == []
    from sqlalchemy import text

    with engine.connect() as connection:
        audience = connection.execute(
            text("SELECT audience FROM outbox WHERE kind = 'weekly'")
        ).scalar()
    assert audience == "max@example.com"
