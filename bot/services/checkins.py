"""The check-in before the stand-up: each rep of a team with `checkin` set who holds breached
leads gets one DM, in their own working hours (none on their holiday or out-of-office day);
what they answer, until the stand-up, the digest counts and its thread keeps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from bot.domain.agreement import Agreement, TeamTerms
from bot.domain.checkin import REASONS, checkin_at, lead_time
from bot.domain.sla_rules import Level
from bot.services.clocks import refresh
from bot.services.digest import standup_at
from bot.slack.messages.checkin import checkin_payload
from storage import checkins as store
from storage import outbox
from storage.agreements import agreement_in_force
from storage.alerts import LeadRow, owned_by, queue_clocks


@dataclass(frozen=True)
class Standup:
    """The stand-up a rep's answers go to."""

    team: TeamTerms
    day: date
    at: datetime


def next_standup(agreement: Agreement, email: str, now: datetime) -> Standup | None:
    """The rep's team's stand-up today, if it is still ahead (None: it has begun, or the rep
    is in no team with a check-in)."""
    rep = agreement.rep(email)
    team = agreement.team(rep.team) if rep else None
    if team is None or team.checkin is None:
        return None
    calendar = agreement.team_calendar(team.name)
    day = calendar.today(now)
    at = standup_at(calendar, team, day)
    return Standup(team, day, at) if now < at and calendar.is_business_day(day) else None


def send_checkins(engine: Engine, now: datetime) -> list[int]:
    """Queue the check-ins due by `now`: once per rep and day. Returns the outbox items."""
    agreement = agreement_in_force(engine, on=now.date())
    if agreement is None:
        return []
    queued = []
    for rep in agreement.reps:
        standup = next_standup(agreement, rep.email, now)
        if standup is None or standup.team.checkin is None:
            continue
        calendar = agreement.rep_calendar(rep.email)
        at = checkin_at(standup.at, lead_time(standup.team.checkin), calendar)
        if at is None or now < at:
            continue
        key = f"checkin:{standup.team.name}:{standup.day.isoformat()}:{rep.email}"
        with engine.connect() as connection:
            if outbox.item_by_key(connection, key) is not None:
                continue  # sent today
        refresh(engine, now=now, among=owned_by([rep.email]))  # its leads' clocks, up to date
        with engine.begin() as connection:
            leads = _breached(connection, rep.email, now)
            if not leads:
                continue
            local = standup.at.astimezone(calendar.tz)
            payload = checkin_payload(leads, standup=local.strftime("%H:%M %Z"), answers={})
            item = outbox.enqueue(
                connection,
                key=key,
                kind=outbox.Kind.CHECKIN,
                audience=rep.email,
                day=standup.day,
                payload=payload,
                now=now,
            )
            queued += [item] if item is not None else []
    return queued


def _breached(connection: Connection, email: str, now: datetime) -> list[LeadRow]:
    clocks = queue_clocks(connection, owners=[email], now=now, min_level=Level.BREACHED)
    leads = {clock.lead.id: clock.lead for clock in clocks}
    return [leads[key] for key in sorted(leads)]


def record(
    engine: Engine,
    *,
    email: str,
    lead_id: int,
    reason: str,
    note: str,
    now: datetime,
) -> Standup | None:
    """A rep's answer (lead_id BLOCKER: what blocks them), kept until the stand-up: None when
    it has begun (the answer is not taken) or the rep has no check-in."""
    agreement = agreement_in_force(engine, on=now.date())
    standup = next_standup(agreement, email, now) if agreement else None
    if standup is None or (reason not in REASONS and reason != "blocker"):
        return None
    with engine.begin() as connection:
        store.answer(
            connection,
            team=standup.team.name,
            day=standup.day,
            rep_email=email,
            lead_id=lead_id,
            reason=reason,
            note=note.strip()[:300],
            at=now,
        )
    return standup
