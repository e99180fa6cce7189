"""Every table slabot keeps. Times are stored as UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Table,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class AgreementVersion(SQLModel, table=True):
    """One applied version of the SLA agreement. Versions are never rewritten."""

    __tablename__ = "agreement_version"
    __table_args__ = (UniqueConstraint("version"),)

    id: int | None = Field(default=None, primary_key=True)
    version: int
    name: str
    effective: date  # as written in the file
    in_force_from: date = Field(index=True)  # never before the period in which it was applied
    period: str
    terms: dict = Field(sa_column=Column(JSON, nullable=False))
    source_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    applied_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    applied_by: str = ""
    # the signatories' approvals it was stored on ([{"user", "at"}]); empty: from the file
    signed_by: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


def _utc_column(*, nullable: bool = True, index: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


class AgreementProposal(SQLModel, table=True):
    """A new version put to the signatories: its text, and where its card is."""

    __tablename__ = "agreement_proposal"

    id: int | None = Field(default=None, primary_key=True)
    kind: str  # "edit" | "recalibration"
    text: str = Field(sa_column=Column(Text, nullable=False))
    base_version: int  # the version in force it was proposed against
    in_force_from: date  # when it would come into force
    proposed_by: str  # a Slack user id, or "cli"
    created_at: datetime = Field(sa_column=_utc_column(nullable=False))
    status: str = "open"  # open | signed | changes_requested | superseded
    decided_at: datetime | None = Field(default=None, sa_column=_utc_column())
    version: int | None = None  # the version its sign-off stored
    card: int | None = None  # the outbox item of its card
    notes: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ProposalVote(SQLModel, table=True):
    """A signatory's answer to a proposal: approve, or request changes with a reason."""

    __tablename__ = "proposal_vote"
    __table_args__ = (UniqueConstraint("proposal_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(index=True)
    user_id: str
    decision: str  # "approve" | "changes"
    reason: str = ""
    at: datetime = Field(sa_column=_utc_column(nullable=False))


# a lead nobody owns, touched or decided on (spelt once: the partial index and its query)
UNOWNED_OPEN = (
    "owner_email IS NULL AND first_touch_at IS NULL AND sal_at IS NULL AND sql_at IS NULL "
    "AND opportunity_at IS NULL AND recycled_at IS NULL AND closed_at IS NULL"
)


class Lead(SQLModel, table=True):
    """A lead and the time it reached each stage (UTC). External ids are unique per CRM."""

    __table_args__ = (
        UniqueConstraint("source_system", "external_id"),
        Index(
            "ix_lead_clocks_stale",
            "clocks_stale",
            sqlite_where=text("clocks_stale"),
            postgresql_where=text("clocks_stale"),
        ),
        # the digest counts each stage over a time range per source from these alone
        Index("ix_lead_mql", "mql_at", "source", "sql_at"),
        Index("ix_lead_sql", "sql_at", "source"),
        Index("ix_lead_recycled", "recycled_at", "source", "recycle_reason"),
        # the won leads, whose MQL-to-won days are a measured sales cycle
        Index(
            "ix_lead_won",
            "closed_at",
            sqlite_where=text("outcome = 'won'"),
            postgresql_where=text("outcome = 'won'"),
        ),
        # the few leads a cover holds, found every scan without reading the table
        Index(
            "ix_lead_covered_for",
            "covered_for",
            sqlite_where=text("covered_for IS NOT NULL"),
            postgresql_where=text("covered_for IS NOT NULL"),
        ),
        # the few handed-off leads nobody owns or has worked: the digest's routing breach
        Index(
            "ix_lead_unowned_open",
            "mql_at",
            sqlite_where=text(UNOWNED_OPEN),
            postgresql_where=text(UNOWNED_OPEN),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_system: str = "native"  # native | hubspot | salesforce
    external_id: str
    email: str | None = None
    name: str | None = None
    company: str | None = None
    source: str | None = None
    segment: str | None = None
    score: float | None = None
    stage: str | None = None
    owner_email: str | None = Field(default=None, index=True)
    created_at: datetime | None = Field(default=None, sa_column=_utc_column())
    mql_at: datetime | None = Field(default=None, sa_column=_utc_column())
    assigned_at: datetime | None = Field(default=None, sa_column=_utc_column())
    sal_at: datetime | None = Field(default=None, sa_column=_utc_column())
    sql_at: datetime | None = Field(default=None, sa_column=_utc_column())
    opportunity_at: datetime | None = Field(default=None, sa_column=_utc_column())
    closed_at: datetime | None = Field(default=None, sa_column=_utc_column())
    outcome: str | None = None  # won | lost
    amount: float | None = None
    recycled_at: datetime | None = Field(default=None, sa_column=_utc_column())
    recycle_reason: str | None = None
    first_touch_at: datetime | None = Field(default=None, sa_column=_utc_column())
    crm_url: str | None = None
    crm_owner: str | None = None  # the owner as the CRM wrote it (kept when nobody matches)
    # property → HubSpot occurredAt (ms) of the value stored: an older event never overwrites
    crm_times: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # levels an SLA clock had reached before this instant were history when first seen
    # (`slabot import --history`): they are not told
    history_at: datetime | None = Field(default=None, sa_column=_utc_column())
    row_hash: str | None = (
        None  # of the imported fields: a re-import that changes nothing is a no-op
    )
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    # the SLA clocks must be (re)computed: set on insert, on change, on a touch, on new terms
    clocks_stale: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true())
    )
    snoozed_until: datetime | None = Field(default=None, sa_column=_utc_column())
    # a cover holds the lead for this rep (out of office): it is theirs in every report, and
    # goes back to them when they return unless the cover has touched it
    covered_for: str | None = None


class Touch(SQLModel, table=True):
    """A sales touch on a lead (call, email, meeting, other)."""

    __table_args__ = (UniqueConstraint("lead_id", "touched_at", "kind", "rep_email"),)

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id")  # indexed by the unique constraint
    rep_email: str = ""
    kind: str = "other"
    touched_at: datetime = Field(sa_column=_utc_column(nullable=False))


class StageChange(SQLModel, table=True):
    """The full stage history: every stage a lead reached, when, and where we learnt it."""

    __tablename__ = "stage_change"
    __table_args__ = (UniqueConstraint("lead_id", "stage", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id")  # indexed by the unique constraint
    stage: str
    at: datetime = Field(sa_column=_utc_column(nullable=False))
    origin: str = ""  # import | webhook | slack


# an open clock that waits past its warning: told as far as it has reached, or snoozed (spelt
# once: the partial index and its query; a clock not yet told waits at its warning)
HELD_CLOCK = "status = 'open' AND (next_at IS NULL OR next_at > warn_at)"


class SlaClock(SQLModel, table=True):
    """One SLA rule's clock for one lead: the stored instants at which its alert level changes,
    how far it has been told (`alerted`), and when it next needs the scan (`next_at`)."""

    __tablename__ = "sla_clock"
    __table_args__ = (
        UniqueConstraint("lead_id", "rule"),
        # the digest's response figures (counts and median) read this index alone
        Index("ix_sla_clock_settled", "rule", "met_at", "status", "took_minutes"),
        Index("ix_sla_clock_open_due", "status", "due_at"),  # the digest's open breaches
        # the open clocks (a few thousand of millions): queues, /sla and the busy scan
        Index(
            "ix_sla_clock_open",
            "lead_id",
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        # the held clocks (as many as the queues hold told): a busy scan's lines beside its news
        Index(
            "ix_sla_clock_held",
            "lead_id",
            sqlite_where=text(HELD_CLOCK),
            postgresql_where=text(HELD_CLOCK),
        ),
        # SQLite's exact median walks this in order (PostgreSQL has percentile_cont)
        Index("ix_sla_clock_took", "rule", "took_minutes", "met_at", "lead_id").ddl_if(
            dialect="sqlite"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id")
    rule: str
    status: str = "open"  # open | met | late | missed | void
    starts_at: datetime = Field(sa_column=_utc_column(nullable=False))
    warn_at: datetime = Field(sa_column=_utc_column(nullable=False))
    due_at: datetime = Field(sa_column=_utc_column(nullable=False))
    manager_at: datetime = Field(sa_column=_utc_column(nullable=False))
    channel_at: datetime = Field(sa_column=_utc_column(nullable=False))
    met_at: datetime | None = Field(default=None, sa_column=_utc_column())
    took_minutes: float | None = None  # business minutes from assignment to meeting the rule
    alerted: int = 0  # the highest level already queued for delivery (0 = none)
    next_at: datetime | None = Field(default=None, sa_column=_utc_column(index=True))


class Outbox(SQLModel, table=True):
    """Every message slabot sends or updates, keyed for idempotency, with Slack's answer."""

    __table_args__ = (
        Index("ix_outbox_pending", "status", "next_attempt_at"),
        Index("ix_outbox_claimed", "claimed_at"),  # the clock's pace: alerts sent this minute
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)  # e.g. sla:rep:rita@example.com:2026-11-23:3f2a…
    kind: str  # sla_rep | sla_manager | sla_channel | digest | update
    audience: str  # rep or manager email, or a channel id
    day: date  # the recipient's local date the message belongs to
    payload: dict = Field(sa_column=Column(JSON, nullable=False))  # text, blocks
    update_of: int | None = Field(default=None, foreign_key="outbox.id")  # chat.update target
    status: str = "pending"  # pending | sending | sent | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    claimed_at: datetime | None = Field(default=None, sa_column=_utc_column())
    channel: str | None = None  # the conversation Slack posted into (D… for a DM)
    ts: str | None = None
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=_utc_column())


class IngestRun(SQLModel, table=True):
    """One import or webhook delivery: what it brought and what it could not map."""

    __tablename__ = "ingest_run"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False, index=True))
    channel: str  # import | webhook
    source_system: str  # native | hubspot | salesforce
    name: str = ""  # the file, or the webhook's path
    counts: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    unmapped: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class RejectedEvent(SQLModel, table=True):
    """A webhook event that could not be applied, kept with its reason."""

    __tablename__ = "rejected_event"

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=_utc_column(nullable=False, index=True)
    )
    source_system: str
    reason: str
    event: dict | list | str | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class AppliedAction(SQLModel, table=True):
    """A button press or modal submission already applied: a double-click or a replayed
    request (same action, lead, user and message) is applied once."""

    __tablename__ = "applied_action"

    key: str = Field(primary_key=True)  # e.g. contacted:42:U123:1700000000.000100
    at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class SlackProfile(SQLModel, table=True):
    """The workspace's people as `users.list` answered: real names find CRM owners."""

    __tablename__ = "slack_profile"

    user_id: str = Field(primary_key=True)
    email: str = Field(index=True)
    real_name: str = ""
    fetched_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class SlackUser(SQLModel, table=True):
    """Email → Slack user id, as `users.lookupByEmail` answered (looked up once, kept)."""

    __tablename__ = "slack_user"

    email: str = Field(primary_key=True)
    user_id: str = Field(index=True)
    resolved_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class ClockBeat(SQLModel, table=True):
    """The active clock's heartbeat: `/healthz` turns 503 when it is three beats late."""

    __tablename__ = "clock_beat"

    name: str = Field(primary_key=True)  # "clock"
    holder: str  # host:pid of the clock that beat
    every_s: int  # seconds between beats
    at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    scan_seconds: float | None = None  # how long the last breach scan took
    digest_seconds: float | None = None  # and the last stand-up digest


class SyncCursor(SQLModel, table=True):
    """How far a live CRM sync has read one stream (HubSpot contacts, Salesforce leads or
    tasks): the modification time of the last record stored, moved only in the transaction
    that stores the records up to it."""

    __tablename__ = "sync_cursor"

    crm: str = Field(primary_key=True)  # hubspot | salesforce
    stream: str = Field(primary_key=True)  # contacts | leads | tasks
    position: datetime = Field(sa_column=_utc_column(nullable=False))
    records: int = 0  # records stored by this stream, all passes together
    at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class DeliveryPause(SQLModel, table=True):
    """Sending to a service is paused: it refused slabot's credentials as a whole (a revoked
    or inactive token). Messages stay queued; the pause ends when the service accepts them."""

    __tablename__ = "delivery_pause"

    service: str = Field(primary_key=True)  # "slack"
    reason: str  # the service's error code, e.g. token_revoked
    since: datetime = Field(sa_column=_utc_column(nullable=False))
    checked_at: datetime = Field(sa_column=_utc_column(nullable=False))  # last probe


class LeadEvent(SQLModel, table=True):
    """A lead changing hands: reassigned by the rotation, by hand or in the CRM, covered,
    returned, handed back. With its touches and the levels told, a lead's history."""

    __tablename__ = "lead_event"

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(index=True)
    at: datetime = Field(sa_column=_utc_column(nullable=False))
    kind: str  # reassigned | covered | returned | handed_back | crm_owner
    by: str  # who did it: an email, "rotation" or "crm"
    from_owner: str | None = None
    to_owner: str | None = None
    note: str | None = None  # a level told before the lead changed hands: "rule|level"


class RoutingTurn(SQLModel, table=True):
    """A team's rotation: each rep's turn (smooth weighted round-robin), kept across restarts."""

    __tablename__ = "routing_turn"

    team: str = Field(primary_key=True)
    turns: dict = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_column=_utc_column(nullable=False))


class Cover(SQLModel, table=True):
    """A rep's leads held by another (or the rotation, `cover_email` None) until a date."""

    id: int | None = Field(default=None, primary_key=True)
    rep_email: str = Field(index=True)
    cover_email: str | None = None
    starts_at: datetime = Field(sa_column=_utc_column(nullable=False))
    until: date  # the rep's last day away (in their calendar)
    by: str
    ended_at: datetime | None = Field(default=None, sa_column=_utc_column())


class ActionItem(SQLModel, table=True):
    """A stand-up's action item: what, whose, by when; open until its owner marks it done."""

    __tablename__ = "action_item"

    id: int | None = Field(default=None, primary_key=True)
    team: str = Field(index=True)
    text: str
    owner: str  # a Slack user id
    due: date
    created_by: str
    created_at: datetime = Field(sa_column=_utc_column(nullable=False))
    done_at: datetime | None = Field(default=None, sa_column=_utc_column())
    done_by: str | None = None


class CheckinAnswer(SQLModel, table=True):
    """A rep's answer to the morning's check-in: what happened with a breached lead (lead_id
    0: the "anything blocking you?" line). Changed until the stand-up; the last one counts."""

    __tablename__ = "checkin_answer"
    __table_args__ = (UniqueConstraint("team", "day", "rep_email", "lead_id"),)

    id: int | None = Field(default=None, primary_key=True)
    team: str
    day: date
    rep_email: str
    lead_id: int
    reason: str  # a bot.domain.checkin REASONS key, or "blocker"
    note: str = ""
    at: datetime = Field(sa_column=_utc_column(nullable=False))


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined]  # set on every `table=True` class


# the tables, for Core statements (bulk writes and reads that need no ORM objects)
ACTION_ITEMS = _table(ActionItem)
APPLIED = _table(AppliedAction)
CHECKINS = _table(CheckinAnswer)
BEATS = _table(ClockBeat)
COVERS = _table(Cover)
PROPOSALS = _table(AgreementProposal)
VOTES = _table(ProposalVote)
EVENTS = _table(LeadEvent)
CLOCKS = _table(SlaClock)
CURSORS = _table(SyncCursor)
PAUSES = _table(DeliveryPause)
LEADS = _table(Lead)
OUTBOX = _table(Outbox)
PROFILES = _table(SlackProfile)
REJECTED = _table(RejectedEvent)
RUNS = _table(IngestRun)
STAGES = _table(StageChange)
TURNS = _table(RoutingTurn)
TOUCHES = _table(Touch)
USERS = _table(SlackUser)
VERSIONS = _table(AgreementVersion)
