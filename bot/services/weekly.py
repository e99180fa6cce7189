"""The weekly summary for a team's managers, at the close of the team's last workday of the
week: the week's pacing (against the targets' share of its business days), first touch,
breaches and what the check-ins said of them, and the action items done and open."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction

from sqlalchemy.engine import Engine

from bot.domain import pacing
from bot.domain.agreement import Agreement, TeamTerms
from bot.domain.calendar import BusinessCalendar
from bot.services.digest import team_owners
from bot.slack.render import Renderer
from storage import action_items, checkins, outbox
from storage import digest as store
from storage.agreements import agreement_in_force
from storage.digest import Response


@dataclass(frozen=True)
class WeeklySummary:
    team: str
    first: date  # Monday
    last: date  # the team's last workday of the week
    business_days: int
    mqls: int
    mqls_expected: Fraction | None  # the target's share of the week's business days
    sqls: int
    sqls_expected: Fraction | None
    response: Response
    breaches: int  # leads with a clock that fell due this week unmet
    reasons: Counter[str]  # what the week's check-ins said of breached leads
    items_done: int
    items_open: int


def last_workday(calendar: BusinessCalendar, day: date) -> date | None:
    """The last business day of `day`'s week (Monday to Sunday), None if it has none."""
    monday = day - timedelta(days=day.weekday())
    days = [monday + timedelta(days=n) for n in range(7)]
    return next((d for d in reversed(days) if calendar.is_business_day(d)), None)


def weekly_summary(
    engine: Engine, agreement: Agreement, team: TeamTerms, day: date, now: datetime
) -> WeeklySummary:
    """The week of `day`, from Monday to `day` (its last workday)."""
    calendar = agreement.team_calendar(team.name)
    first = day - timedelta(days=day.weekday())
    since, until = pacing.midnight(calendar, first), pacing.midnight(calendar, day + timedelta(1))
    week = [first + timedelta(days=n) for n in range((day - first).days + 1)]
    working = [d for d in week if calendar.is_business_day(d)]
    goal = agreement.targets()

    def expected(target: int | None) -> Fraction | None:
        """Each business day of the week is its period's target ÷ its business days."""
        if not target:
            return None
        return sum(
            (Fraction(target, pacing.position(calendar, agreement.period, d).business_days)
             for d in working),
            Fraction(0),
        )  # fmt: skip

    owners = team_owners(agreement, team.name)
    with engine.connect() as connection:
        window = store.Window(since, since, until)
        mqls = store.stage_counts(connection, stage="mql", window=window).total
        sqls = store.stage_counts(connection, stage="sql", window=window).total
        response = store.first_touches(connection, since=since, until=until, owners=owners)
        breaches = store.breaches_due(connection, since=since, until=min(until, now), owners=owners)
        reasons = checkins.reasons_between(connection, team=team.name, first=first, last=day)
        done = action_items.done_between(connection, team=team.name, since=since, until=until)
        still_open = action_items.open_items(connection, team=team.name, at=until)
    return WeeklySummary(
        team=team.name,
        first=first,
        last=day,
        business_days=len(working),
        mqls=mqls,
        mqls_expected=expected(goal.mqls),
        sqls=sqls,
        sqls_expected=expected(goal.sqls),
        response=response,
        breaches=breaches,
        reasons=Counter(dict(sorted(reasons.items()))),  # ties in a stable order
        items_done=done,
        items_open=len(still_open),
    )


def send_weekly(engine: Engine, renderer: Renderer, now: datetime) -> list[int]:
    """At the close of each team's last workday of the week, its managers' summaries (once
    per manager and week). Returns the outbox items queued."""
    agreement = agreement_in_force(engine, on=now.date())
    if agreement is None:
        return []
    queued = []
    for team in agreement.teams:
        calendar = agreement.team_calendar(team.name)
        today = calendar.today(now)
        closes = datetime.combine(today, calendar.closes, calendar.tz)
        if last_workday(calendar, today) != today or now < closes:
            continue
        managers = sorted({rep.manager for rep in agreement.reps
                           if rep.team == team.name and rep.manager})  # fmt: skip
        week = today.isocalendar()
        keys = {m: f"weekly:{team.name}:{week.year}-W{week.week:02d}:{m}" for m in managers}
        with engine.connect() as connection:  # sent already: the week's figures are not read
            due = [m for m in managers if outbox.item_by_key(connection, keys[m]) is None]
        if not due:
            continue
        summary = weekly_summary(engine, agreement, team, today, now)
        text = renderer.slack_text("weekly/summary.txt.j2", s=summary)
        with engine.begin() as connection:
            for manager in due:
                item = outbox.enqueue(
                    connection,
                    key=keys[manager],
                    kind=outbox.Kind.WEEKLY,
                    audience=manager,
                    day=today,
                    payload={"text": text},
                    now=now,
                )
                queued += [item] if item is not None else []
    return queued
