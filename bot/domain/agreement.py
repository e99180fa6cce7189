"""The SLA agreement: the terms marketing and sales signed, as a validated model.

The agreement file (`sla.toml`) is parsed into :class:`Agreement`; a stored version keeps the
same structure as JSON. Every key has a default where one makes sense.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from bot.domain.business_time import Cadence, Duration
from bot.domain.calendar import WEEKDAYS, BusinessCalendar, check_holidays, parse_hours
from bot.domain.funnel import FunnelRates, reverse_funnel
from bot.domain.leads import STAGES, is_stage
from bot.domain.routing import Candidate
from bot.domain.targets import Rates, Targets, targets

CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")  # public (C…) or older private (G…) channel


def exact(value: float | int) -> Fraction:
    """A TOML number as the exact decimal the user wrote (0.34 → 17/50, not a binary float)."""
    return Fraction(Decimal(str(value)))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_duration(value: str) -> str:
    try:
        Duration.parse(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a duration; use e.g. 30m or 4h (business time), 2bd (business "
            "days) or 14d (calendar days)"
        ) from None
    return value.strip()


def _check_timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA timezone such as America/New_York") from exc
    return value


def _check_hours(value: str) -> str:
    parse_hours(value)
    return value


class AgreementHeader(_Section):
    name: str = "Marketing & Sales SLA"
    effective: date
    period: Literal["month", "quarter"] = "month"
    tolerance: float = Field(0.10, ge=0, lt=1)
    # levels leads reached before this are history: shown and counted, never paged. Unset,
    # slabot watches each rep from the moment they were first in an applied agreement; set it
    # earlier to replay past data in a trial (a date is its midnight in the calendar's zone)
    watch_from: datetime | None = None
    # who signs a new version in Slack (Slack user ids: typically the heads of marketing and
    # sales), and where proposals are posted (None: the first team's channel)
    signatories: list[str] = Field(default_factory=list)
    channel: str | None = None

    @field_validator("signatories")
    @classmethod
    def _user_ids(cls, value: list[str]) -> list[str]:
        for user in value:
            if not re.fullmatch(r"[UW][A-Z0-9]{2,}", user):
                raise ValueError(f"{user!r} is not a Slack user id (e.g. U012AB3CD)")
        if len(set(value)) != len(value):
            raise ValueError("a signatory is named twice")
        return value

    @field_validator("watch_from", mode="before")
    @classmethod
    def _midnight(cls, value: object) -> object:
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime.combine(value, time())
        return value


class CalendarTerms(_Section):
    timezone: str = "UTC"
    workdays: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    hours: str = "09:00-17:00"
    holidays: str = ""  # "US", "DE-SN", "GB-SCT", "NYSE"
    closed: list[date] = Field(default_factory=list)  # closed besides the holidays
    open: list[date] = Field(default_factory=list)  # holidays worked after all

    _tz = field_validator("timezone")(_check_timezone)
    _hours = field_validator("hours")(_check_hours)

    @field_validator("workdays")
    @classmethod
    def _workdays(cls, value: list[str]) -> list[str]:
        days = [day.strip().lower()[:3] for day in value]
        unknown = [day for day in days if day not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown weekday(s) {unknown}; use {', '.join(WEEKDAYS)}")
        if not days:
            raise ValueError("at least one workday is needed")
        return days

    _holidays = field_validator("holidays")(check_holidays)

    def to_calendar(
        self,
        *,
        team: TeamTerms | None = None,
        rep: RepTerms | None = None,
    ) -> BusinessCalendar:
        """The agreement's calendar, as a team keeps it (its timezone, holidays, closed and
        open days) and as a rep works it (the rep's own timezone, hours, holidays, days off)."""
        opens, closes = parse_hours((rep.hours if rep else None) or self.hours)
        teams_closed = team.closed if team else []
        teams_open = team.open if team else []
        return BusinessCalendar(
            timezone=(rep.timezone if rep else None)
            or (team.timezone if team else None)
            or self.timezone,
            workdays=frozenset(WEEKDAYS.index(day) for day in self.workdays),
            opens=opens,
            closes=closes,
            holidays=_first(
                rep.holidays if rep else None, team.holidays if team else None, self.holidays
            ),
            closed=frozenset(self.closed) | frozenset(teams_closed),
            opened=frozenset(self.open) | frozenset(teams_open),
            out_of_office=frozenset(rep.out_of_office) if rep else frozenset(),
        )


def _first(*specs: str | None) -> str:
    """The most specific holiday calendar that is set ("" — none — counts as set)."""
    return next((spec for spec in specs if spec is not None), "")


class MarketingTerms(_Section):
    mql_target: int | None = Field(None, gt=0)
    sql_target: int | None = Field(None, gt=0)
    sources: dict[str, float] = Field(default_factory=dict)

    @field_validator("sources")
    @classmethod
    def _split(cls, value: dict[str, float]) -> dict[str, float]:
        if any(share <= 0 for share in value.values()):
            raise ValueError("every source share must be above 0")
        if value and abs(sum(value.values()) - 1) > 1e-6:
            total = sum(value.values())
            raise ValueError(f"source shares must add up to 1 (they add up to {total:g})")
        return {name.lower(): share for name, share in value.items()}


class SalesTerms(_Section):
    first_touch: str = "4h"
    accept_within: str = "2bd"
    follow_up: list[str] = Field(default_factory=lambda: ["3 in 14d", "5 in 28d", "8 in 49d"])
    warn_at: float = Field(0.75, gt=0, lt=1)
    escalate_manager_after: str = "4h"
    escalate_channel_after: str = "1bd"

    _durations = field_validator(
        "first_touch", "accept_within", "escalate_manager_after", "escalate_channel_after"
    )(_check_duration)

    @field_validator("follow_up")
    @classmethod
    def _cadence(cls, value: list[str]) -> list[str]:
        for rule in value:
            Cadence.parse(rule)  # its error says how to write one
        return [rule.strip() for rule in value]


class FunnelOverride(_Section):
    quota: float | None = Field(None, gt=0)
    aov: float | None = Field(None, gt=0)
    win: float | None = Field(None, gt=0, le=1)
    sql_to_opp: float | None = Field(None, gt=0, le=1)
    mql_to_sql: float | None = Field(None, gt=0, le=1)
    cycle: str | None = None  # the sales cycle, MQL to won: "30d" (calendar) or "20bd"

    @field_validator("cycle")
    @classmethod
    def _cycle(cls, value: str | None) -> str | None:
        if value is None:
            return value
        _check_duration(value)
        if Duration.parse(value).unit not in ("d", "bd"):
            raise ValueError(f"a sales cycle is days long: {value!r} (use e.g. 30d or 20bd)")
        return value.strip()


class SegmentTerms(FunnelOverride):
    """`[funnel.segments.NAME]`: a segment's share of the quota and its own funnel (each value
    it does not give is the blended `[funnel]`'s)."""

    share: float = Field(gt=0, le=1)


class FunnelTerms(FunnelOverride):
    sources: dict[str, FunnelOverride] = Field(default_factory=dict)
    segments: dict[str, SegmentTerms] = Field(default_factory=dict)

    @field_validator("sources")
    @classmethod
    def _lower(cls, value: dict[str, FunnelOverride]) -> dict[str, FunnelOverride]:
        return {name.lower(): terms for name, terms in value.items()}

    @field_validator("segments")
    @classmethod
    def _shares(cls, value: dict[str, SegmentTerms]) -> dict[str, SegmentTerms]:
        total = sum(terms.share for terms in value.values())
        if value and abs(total - 1) > 1e-6:
            raise ValueError(f"segment shares must add up to 1 (they add up to {total:g})")
        return {name.lower(): terms for name, terms in value.items()}


class PoolRep(_Section):
    """A rep's share of the rotation: `weight` leads for every one of a weight-1 rep, and at
    most `cap` a day."""

    weight: int = Field(1, ge=1, le=100)
    cap: int | None = Field(None, ge=1)


class RoutingTerms(_Section):
    """`[teams.routing]`: what happens to a breached lead nobody touches."""

    # business time after the breach before the lead goes to the next rep; "never": it stays
    reassign_after: str = "never"
    reps: dict[str, PoolRep] = Field(default_factory=dict)  # the pool's weights and caps

    @field_validator("reassign_after")
    @classmethod
    def _after(cls, value: str) -> str:
        return value if value == "never" else _check_duration(value)

    @field_validator("reps")
    @classmethod
    def _emails(cls, value: dict[str, PoolRep]) -> dict[str, PoolRep]:
        return {email.lower(): terms for email, terms in value.items()}

    @property
    def reassigns(self) -> bool:
        return self.reassign_after != "never"


class TeamTerms(_Section):
    name: str
    channel: str
    standup: str = "09:00"
    timezone: str | None = None
    holidays: str | None = None  # the team's own holiday calendar ("DE-BY")
    closed: list[date] = Field(default_factory=list)  # added to the agreement's closed days
    open: list[date] = Field(default_factory=list)  # holidays this team works
    routing: RoutingTerms = Field(default_factory=RoutingTerms)
    # the check-in DM to reps holding breached leads, this long before the stand-up ("30m";
    # None: none)
    checkin: str | None = None

    _tz = field_validator("timezone")(lambda v: v if v is None else _check_timezone(v))
    _holidays = field_validator("holidays")(lambda v: v if v is None else check_holidays(v))

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not CHANNEL_ID.match(value):
            raise ValueError(
                f"channel {value!r} is not a channel id: Slack posts by id (C…, at the bottom "
                "of the channel's details); with SLACK_BOT_TOKEN set, `slabot sla apply` looks "
                "a #name up for you"
            )
        return value

    @field_validator("checkin")
    @classmethod
    def _checkin(cls, value: str | None) -> str | None:
        if value is not None:
            _check_duration(value)
            if Duration.parse(value).unit not in ("m", "h"):
                raise ValueError(f"a check-in comes minutes or hours before: {value!r} (e.g. 30m)")
        return value

    @field_validator("standup")
    @classmethod
    def _standup(cls, value: str) -> str:
        try:
            time.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"standup must be a local time like 09:00 (got {value!r})") from exc
        return value


class RepTerms(_Section):
    email: str
    team: str
    manager: str | None = None
    slack: str | None = None
    name: str | None = None  # as the CRM shows the owner ("Rita Ortiz")
    hubspot_owner_id: str | None = None
    salesforce_user_id: str | None = None  # 15 or 18 characters
    timezone: str | None = None
    hours: str | None = None
    holidays: str | None = None  # the rep's own holiday calendar, if not the team's
    out_of_office: list[date] = Field(default_factory=list)

    _tz = field_validator("timezone")(lambda v: v if v is None else _check_timezone(v))
    _hours = field_validator("hours")(lambda v: v if v is None else _check_hours(v))
    _holidays = field_validator("holidays")(lambda v: v if v is None else check_holidays(v))

    @field_validator("email", "manager")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            raise ValueError(f"{value!r} is not an email address")
        return value.lower() if value else value

    @field_validator("slack")
    @classmethod
    def _slack(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[UW][A-Z0-9]{2,}$", value):
            raise ValueError(f"{value!r} is not a Slack user id such as U012AB3CD")
        return value


class StatusTerms(_Section):
    """What a CRM status says: the stage it means, and whether the lead was contacted."""

    stage: str | None = None
    contacted: bool = False


class CrmSection(_Section):
    """How one CRM's exports and webhooks map onto slabot (portals rename their labels)."""

    columns: dict[str, str] = Field(default_factory=dict)  # standard label → this portal's label
    stages: dict[str, str] = Field(default_factory=dict)  # CRM value → lead|mql|sal|sql|…
    sources: dict[str, str] = Field(default_factory=dict)  # CRM value → slabot source name
    owners: dict[str, str] = Field(default_factory=dict)  # owner name or id → email
    # the CRM field holding a lead's segment (its API name; an export's column of that name,
    # or the label `columns.Segment` gives), and its values that are not a segment's own name
    segment_field: str | None = None
    segments: dict[str, str] = Field(default_factory=dict)  # CRM value → [funnel.segments] name
    record_url: str | None = None  # e.g. "https://app.hubspot.com/contacts/123/record/0-1/{id}"
    date_order: Literal["MDY", "DMY", "YMD"] | None = None  # numeric dates in exports
    statuses: dict[str, StatusTerms | str] = Field(default_factory=dict)  # Salesforce Lead Status
    lead_statuses: dict[str, StatusTerms | str] = Field(default_factory=dict)  # hs_lead_status
    # the status written back when a rep presses Contacted or recycles a lead in Slack (None:
    # the CRM's standard value; a lead already at a contacted status keeps it)
    contacted_status: str | None = None
    recycled_status: str | None = None

    @field_validator("statuses", "lead_statuses")
    @classmethod
    def _statuses(cls, value: dict[str, StatusTerms | str]) -> dict[str, StatusTerms | str]:
        for name, terms in value.items():
            stage = terms if isinstance(terms, str) else terms.stage
            if stage is not None and stage != "contacted" and not is_stage(stage):
                raise ValueError(
                    f"status {name!r}: {stage!r} is not a stage; use one of "
                    f'{", ".join(STAGES)}, "contacted", or {{ stage = "sal", contacted = true }}'
                )
        return value

    @field_validator("segments")
    @classmethod
    def _segment_names(cls, value: dict[str, str]) -> dict[str, str]:
        return {crm_value: name.strip().lower() for crm_value, name in value.items()}

    @field_validator("stages")
    @classmethod
    def _stages(cls, value: dict[str, str]) -> dict[str, str]:
        for name, stage in value.items():
            if not is_stage(stage):
                raise ValueError(f"stage {name!r}: {stage!r} is not one of {', '.join(STAGES)}")
        return value

    @field_validator("record_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and "{id}" not in value:
            raise ValueError("record_url needs an {id} placeholder for the record id")
        return value


class CrmTerms(BaseModel):
    """`[crm.<name>]`: a section per CRM. Which names exist is the intake's to say (the
    agreement is checked against its registry when it is applied)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, CrmSection] = Field(init=False)

    def sections(self) -> dict[str, CrmSection]:
        return dict(self.__pydantic_extra__ or {})

    def section(self, name: str) -> CrmSection:
        """The CRM's section, its defaults where the agreement has none."""
        return self.sections().get(name) or CrmSection()


class Agreement(_Section):
    agreement: AgreementHeader
    calendar: CalendarTerms = Field(default_factory=CalendarTerms)
    marketing: MarketingTerms = Field(default_factory=MarketingTerms)
    sales: SalesTerms = Field(default_factory=SalesTerms)
    funnel: FunnelTerms = Field(default_factory=FunnelTerms)
    teams: list[TeamTerms] = Field(default_factory=list)
    reps: list[RepTerms] = Field(default_factory=list)
    crm: CrmTerms = Field(default_factory=CrmTerms)
    _calendar: BusinessCalendar | None = PrivateAttr(None)
    _calendars: dict[str, BusinessCalendar] = PrivateAttr(default_factory=dict)
    _reps_by_email: dict[str, RepTerms] | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _references(self) -> Agreement:
        team_names = [team.name for team in self.teams]
        if len(set(team_names)) != len(team_names):
            raise ValueError("team names must be unique")
        for rep in self.reps:
            if rep.team not in team_names:
                raise ValueError(f"rep {rep.email} names team {rep.team!r}, which is not defined")
        self._crm_segments()
        for team in self.teams:
            members = {rep.email for rep in self.reps if rep.team == team.name}
            strangers = sorted(set(team.routing.reps) - members)
            if strangers:
                raise ValueError(
                    f"team {team.name}'s routing names {', '.join(strangers)}, not a rep of the "
                    "team (the pool is the team's reps)"
                )
        return self

    def _crm_segments(self) -> None:
        """A CRM's segment values map onto the segments `[funnel.segments]` names."""
        known = self.funnel.segments
        for name, section in self.crm.sections().items():
            if (section.segment_field or section.segments) and not known:
                raise ValueError(
                    f"[crm.{name}] reads a segment, but [funnel.segments] names none: add "
                    "[funnel.segments.NAME] with its share of the quota"
                )
            for value, segment in section.segments.items():
                if segment not in known:
                    raise ValueError(
                        f"[crm.{name}.segments] maps {value!r} to {segment!r}, which is not "
                        f"one of [funnel.segments] ({', '.join(known)})"
                    )

    def teammates(self, email: str | None) -> list[str]:
        """The other reps of the rep's team (none for someone not a rep)."""
        rep = self.rep(email)
        if rep is None:
            return []
        return [
            each.email for each in self.reps if each.team == rep.team and each.email != rep.email
        ]

    def pool(self, team: str) -> list[Candidate]:
        """The team's rotation: its reps in the agreement's order, with their weights and caps."""
        terms = self.team(team)
        shares = terms.routing.reps if terms else {}
        return [
            Candidate(rep.email, shares[rep.email].weight, shares[rep.email].cap)
            if rep.email in shares
            else Candidate(rep.email)
            for rep in self.reps
            if rep.team == team
        ]

    @property
    def period(self) -> str:
        return self.agreement.period

    @property
    def proposal_channel(self) -> str | None:
        """Where proposals are posted: `[agreement] channel`, else the first team's."""
        return self.agreement.channel or (self.teams[0].channel if self.teams else None)

    def business_calendar(self) -> BusinessCalendar:
        """The default calendar (built once per agreement: its holiday table is reused)."""
        if self._calendar is None:
            self._calendar = self.calendar.to_calendar()
        return self._calendar

    def team(self, name: str | None) -> TeamTerms | None:
        return next((team for team in self.teams if team.name == name), None)

    def rep(self, email: str | None) -> RepTerms | None:
        if self._reps_by_email is None:
            self._reps_by_email = {rep.email: rep for rep in self.reps}
        return self._reps_by_email.get((email or "").lower())

    def team_calendar(self, name: str | None) -> BusinessCalendar:
        """The team's calendar: the default one in the team's own timezone, if it has one."""
        team = self.team(name)
        if team is None:
            return self.business_calendar()
        return self._memo(f"team:{name}", lambda: self.calendar.to_calendar(team=team))

    def rep_calendar(self, email: str | None, away: list[date] | None = None) -> BusinessCalendar:
        """The calendar a rep's SLA clock runs on: the team's, with the rep's own timezone,
        hours and out-of-office days (`away`: these instead, a newer version's). Owners not
        named in the agreement get the default."""
        rep = self.rep(email)
        if rep is None:
            return self.business_calendar()
        if away is not None and away != rep.out_of_office:
            rep = rep.model_copy(update={"out_of_office": away})
        team, terms = self.team(rep.team), rep
        key = f"rep:{rep.email}:{','.join(day.isoformat() for day in rep.out_of_office)}"
        return self._memo(key, lambda: self.calendar.to_calendar(team=team, rep=terms))

    def person_calendar(self, email: str) -> BusinessCalendar:
        """The calendar a person is told in and reads deadlines in: a rep's own; a manager
        who is not a rep, the calendar of the team they manage (of their first rep's team)."""
        if self.rep(email) is not None:
            return self.rep_calendar(email)
        managed = next((rep for rep in self.reps if rep.manager == email.lower()), None)
        return self.team_calendar(managed.team if managed else None)

    def _memo(self, key: str, build) -> BusinessCalendar:
        if key not in self._calendars:
            self._calendars[key] = build()
        return self._calendars[key]

    def sources(self) -> list[str]:
        return sorted(set(self.marketing.sources) | set(self.funnel.sources))

    def mql_value(self, source: str | None, segment: str | None) -> Fraction | None:
        """What one MQL is worth in expected revenue (quota ÷ the MQLs it needs): with its
        segment's funnel and share where the agreement has the segment, else its source's
        overrides, else the blended funnel. None when the funnel does not say."""
        goal = self.targets()
        if segment and segment in goal.segments:
            return goal.segments[segment].value_per_mql
        funnel = self.funnel
        if funnel.quota is None:
            return None
        override = funnel.sources.get(source or "")

        def rate(key: str) -> Fraction | None:
            own = getattr(override, key, None) if override else None
            value = own if own is not None else getattr(funnel, key)
            return exact(value) if value is not None else None

        aov, win, sql_to_opp, mql_to_sql = (
            rate(k) for k in ("aov", "win", "sql_to_opp", "mql_to_sql")
        )
        if not (aov and win and sql_to_opp and mql_to_sql):
            return None
        plan = reverse_funnel(exact(funnel.quota), FunnelRates(aov, win, sql_to_opp, mql_to_sql))
        return plan.value_per_mql

    def targets(self) -> Targets:
        """The MQL and SQL targets: as typed in `[marketing]`, else from the quota and funnel
        (per segment where `[funnel.segments]` splits the quota)."""
        funnel = self.funnel

        def given(value: float | None) -> Fraction | None:
            return exact(value) if value is not None else None

        def rates(terms: FunnelOverride) -> Rates:
            """Each value the terms give, else the blended funnel's."""

            def value(key: str) -> Fraction | None:
                own = getattr(terms, key)
                return given(own if own is not None else getattr(funnel, key))

            return value("aov"), value("win"), value("sql_to_opp"), value("mql_to_sql")

        quota = given(funnel.quota)
        return targets(
            typed_mqls=self.marketing.mql_target,
            typed_sqls=self.marketing.sql_target,
            quota=quota,
            rates=rates(funnel),
            segments={name: (exact(terms.share), rates(terms))
                      for name, terms in funnel.segments.items()},
        )  # fmt: skip


@dataclass(frozen=True)
class Versions:
    """Every applied version with the instant it took effect, oldest first. A lead's clocks
    are judged by the version in force at its hand-off, whenever and by whichever command they
    are computed; a hand-off before the first version is judged by the first."""

    starts: tuple[datetime, ...]  # ascending
    agreements: tuple[Agreement, ...]
    watched: dict[str, datetime] = field(default_factory=dict)  # rep → first applied with
    watch_from: datetime | None = None  # the newest version's explicit start, if any

    def at(self, instant: datetime) -> Agreement:
        index = bisect.bisect_right(self.starts, instant) - 1
        return self.agreements[max(index, 0)]

    def rep_calendar(self, owner: str | None, handed_off: datetime) -> BusinessCalendar:
        """The owner's calendar under the version in force at the hand-off, with the newest
        version's out-of-office days: a rep who goes away pauses the leads they already hold."""
        newest = self.agreements[-1].rep(owner) if self.agreements else None
        away = newest.out_of_office if newest is not None else None
        return self.at(handed_off).rep_calendar(owner, away)

    def history_until(self, owner: str, *, now: datetime) -> datetime:
        """Until when what the owner's leads reached is history, not news: the agreement's
        `watch_from`, else the moment the owner was first in an applied agreement (an owner in
        none is not watched yet: all until `now`)."""
        if self.watch_from is not None:
            return self.watch_from
        return self.watched.get(owner.lower(), now)


def watch_start(agreement: Agreement) -> datetime | None:
    """The agreement's `watch_from` as an instant (a naive one is in the calendar's zone)."""
    start = agreement.agreement.watch_from
    if start is None or start.tzinfo is not None:
        return start
    return start.replace(tzinfo=agreement.business_calendar().tz)


def took_effect(
    agreement: Agreement, in_force_from: date, applied_at: datetime, *, first: bool
) -> datetime:
    """When a version took effect: the start of its first day in force (in its calendar), but
    never before it was applied, the first version excepted (it judges what came before it)."""
    start = datetime.combine(in_force_from, time(), agreement.business_calendar().tz)
    if first:
        return start.astimezone(UTC)
    applied = applied_at if applied_at.tzinfo else applied_at.replace(tzinfo=UTC)
    return max(start, applied).astimezone(UTC)
