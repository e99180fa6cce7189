"""What the buttons on an alert do: record a touch, snooze, recycle, and redraw the message.

Only the lead's owner, the owner's manager or an admin may act on a lead.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Connection, Engine

from bot.domain.agreement import Agreement
from bot.intake.registry import connected
from bot.intake.write_back import WriteBack
from bot.services.alerts import audience_message, audience_owners
from bot.services.clocks import refresh, refresh_clocks
from bot.services.routing import Routing
from bot.settings import Settings
from bot.slack.delivery import Sender, resolve_user
from bot.slack.messages.queue import Message
from bot.slack.messages.routing import lead_text
from bot.slack.render import Renderer
from storage import alerts as store
from storage import outbox
from storage import routing as routing_store
from storage.agreements import agreement_in_force
from storage.outbox import DM_KINDS, Kind
from storage.routing import HandOver

SNOOZE = timedelta(hours=1)
RECYCLE_REASONS = (
    "No budget",
    "Not the decision maker",
    "Not a fit (size or industry)",
    "Bad contact data",
    "Student or job seeker",
    "Competitor",
    "Already a customer or in a deal",
    "Other",
)


class NoAgreement(Exception):
    """No agreement is in force: there is no SLA to act on yet."""


@dataclass(frozen=True)
class Context:
    engine: Engine
    client: WebClient
    settings: Settings
    renderer: Renderer
    agreement: Agreement
    sender: Sender  # the outbox's sender: a redraw and a write-back go out at once


def context(
    engine: Engine, client: WebClient, settings: Settings, renderer: Renderer, sender: Sender
) -> Context:
    """What a press is judged and answered with; NoAgreement before one is in force."""
    agreement = agreement_in_force(engine, on=datetime.now(UTC).date())
    if agreement is None:
        raise NoAgreement
    return Context(engine, client, settings, renderer, agreement, sender)


def email_of(engine: Engine, client: WebClient, user_id: str) -> str | None:
    """A Slack user's email: from the identities slabot has resolved, else `users.info`."""
    with engine.connect() as connection:
        email = outbox.cached_email(connection, user_id)
    if email:
        return email
    try:
        profile = client.users_info(user=user_id)["user"].get("profile") or {}
    except SlackApiError:
        return None
    email = (profile.get("email") or "").lower() or None
    if email:
        with engine.begin() as connection:
            outbox.cache_user(connection, email=email, user_id=user_id, now=datetime.now(UTC))
    return email


def may_act(ctx: Context, lead: store.LeadRow, user_id: str) -> bool:
    """The owner, the owner's manager, or an admin."""
    if user_id in ctx.settings.admins:
        return True
    rep = ctx.agreement.rep(lead.owner_email)
    for email in (lead.owner_email, rep.manager if rep else None):
        if not email:
            continue
        try:
            if resolve_user(ctx.engine, ctx.client, email) == user_id:
                return True
        except SlackApiError:
            continue
    return False


def find_lead(ctx: Context, lead_id: int) -> store.LeadRow | None:
    with ctx.engine.connect() as connection:
        return store.lead_row(connection, lead_id)


def press_key(action: str, lead_id: int, user: str, message: str | None) -> str:
    """What makes a press the same press: the action, the lead, who, and on which message."""
    return f"{action}:{lead_id}:{user}:{message or '-'}"


def _then_refresh(ctx: Context, lead_id: int, write, now: datetime, *, press: str) -> bool:
    """Apply a change and recompute the lead's clocks in the same transaction, so the next
    scan sees the new deadlines (or none). False, changing nothing, for a press already
    applied (a double-click, a replayed request)."""
    with ctx.engine.begin() as connection:
        store.serialize_scans(connection)
        if not store.claim_action(connection, key=press, at=now):
            return False
        write(connection)
        # this lead's clocks only: a large import's stale leads are the scan's work
        refresh_clocks(connection, now=now, among=store.the_lead(lead_id))
        crm_item = (
            outbox.item_by_key(connection, f"crm:{press}") if connected(ctx.settings) else None
        )
    if crm_item is not None:  # the CRM hears now, beside the redraw (else the clock's round)
        threading.Thread(
            target=ctx.sender.deliver_item,
            args=(crm_item.id,),
            name="slabot-write-back",
            daemon=True,
        ).start()
    return True


def _write_back(
    ctx: Context,
    connection: Connection,
    lead: store.LeadRow,
    *,
    action: str,
    by: str,
    now: datetime,
    press: str,
    reason: str | None = None,
) -> None:
    """Queue the CRM record of a press, in the press's transaction (so exactly once): only
    for a lead from a CRM that this install reads and writes."""
    if not connected(ctx.settings):
        return
    crm, external_id = store.crm_identity(connection, lead.id)
    if crm not in connected(ctx.settings):
        return
    section = ctx.agreement.crm.section(crm)
    status = section.contacted_status if action == "contacted" else section.recycled_status
    agreement = ctx.agreement  # the presser's own day (a manager's: the lead owner's)
    tz = agreement.rep_calendar(by if agreement.rep(by) else lead.owner_email).tz
    write = WriteBack(crm, external_id, action, now, by, reason, status, now.astimezone(tz).date())
    outbox.enqueue(
        connection,
        key=f"crm:{press}",
        kind=Kind.CRM,
        audience=lead.owner_email or by,
        day=now.date(),
        payload=write.payload(),
        now=now,
    )


def mark_contacted(
    ctx: Context, lead: store.LeadRow, *, by_email: str | None, now: datetime, press: str
) -> bool:
    by = by_email or lead.owner_email or ""
    # to the millisecond, as CRMs keep times: the logged call comes back at this very instant
    # (HubSpot's Last Contacted), and is recognised as this touch
    at = now.replace(microsecond=now.microsecond // 1000 * 1000)

    def write(connection: Connection) -> None:
        store.add_touch(connection, lead_id=lead.id, at=at, kind="other", rep_email=by)
        _write_back(ctx, connection, lead, action="contacted", by=by, now=at, press=press)

    return _then_refresh(ctx, lead.id, write, now, press=press)


def snooze(ctx: Context, lead: store.LeadRow, *, now: datetime) -> datetime:
    until = now + SNOOZE
    with ctx.engine.begin() as connection:
        store.snooze_lead(connection, lead_id=lead.id, until=until)
    return until


def recycle(
    ctx: Context,
    lead: store.LeadRow,
    *,
    reason: str,
    now: datetime,
    press: str,
    by_email: str | None = None,
) -> bool:
    by = by_email or lead.owner_email or ""

    def write(connection: Connection) -> None:
        store.recycle_lead(connection, lead_id=lead.id, at=now, reason=reason)
        _write_back(
            ctx, connection, lead, action="recycled", by=by, now=now, press=press, reason=reason
        )

    return _then_refresh(ctx, lead.id, write, now, press=press)


def lead_label(lead: store.LeadRow) -> str:
    """ "Acme — Jane Doe", escaped for mrkdwn."""
    return lead_text(lead)


def redraw(ctx: Context, *, channel: str, ts: str, note: str, now: datetime) -> Message | None:
    """Redraw a delivered alert in place (through the outbox), with `note` on top. None when
    the message is not one slabot keeps (an ephemeral reply): the caller redraws that."""
    with ctx.engine.begin() as connection:
        item = outbox.item_at(connection, channel=channel, ts=ts)
        if item is None or item.kind not in DM_KINDS:
            return None
        message = audience_message(
            connection,
            ctx.agreement,
            ctx.renderer,
            kind=item.kind,
            audience=item.audience,
            now=now,
            note=note,
        )
        update_id = outbox.enqueue(
            connection,
            key=f"redraw:{item.id}:{uuid.uuid4().hex}",
            kind=Kind.UPDATE,
            audience=item.audience,
            day=item.day,
            payload=message.payload,
            now=now,
            update_of=item.id,
        )
    if update_id is not None:
        ctx.sender.deliver_item(update_id)
    return message


def queue_for(
    ctx: Context,
    *,
    email: str,
    team: bool,
    now: datetime,
    note: str | None = None,
    surface: str = "sla",
    page: int = 0,
    by_value: bool = False,
) -> Message:
    """`/sla` and the Home tab: every open lead of the caller (or, with `team`, of the
    caller's reps), a page at a time; `by_value`: the most expected pipeline first."""
    kind = Kind.MANAGER if team else Kind.REP
    title = ctx.renderer.parts("alerts/queue_parts.txt.j2").asked_title(team)
    # leads not yet seen by a scan (a large import a moment ago) are shown with their clocks
    owners = store.owned_by(audience_owners(ctx.agreement, kind, email))
    refresh(ctx.engine, among=owners, now=now)
    with ctx.engine.connect() as connection:
        return audience_message(
            connection,
            ctx.agreement,
            ctx.renderer,
            kind=kind,
            audience=email,
            now=now,
            min_level=0,
            note=note,
            title=title,
            surface=surface,
            page=page,
            by_value=by_value,
        )


# -- routing by hand -----------------------------------------------------------------------
def route_lead(
    ctx: Context, change: Callable[[Connection, Routing], HandOver | None], *, now: datetime
) -> HandOver | None:
    """A routing change made in Slack, in one transaction under the scan's lock (a clock
    routing the same lead waits, then finds it moved): the lead's new clocks are computed,
    and the new owner's DM and the CRM's owner change go out at once."""
    with ctx.engine.begin() as connection:
        store.serialize_scans(connection)
        routing = Routing(ctx.agreement, ctx.renderer, connected(ctx.settings), now)
        moved = change(connection, routing)
        items = []
        if moved is not None:
            refresh_clocks(connection, now=now, among=store.the_lead(moved.lead_id))
            for key in (f"handoff:{moved.event_id}", f"crm:owner:{moved.event_id}"):
                item = outbox.item_by_key(connection, key)
                items += [item.id] if item is not None else []
    for item_id in items:
        threading.Thread(
            target=ctx.sender.deliver_item, args=(item_id,), name="slabot-handoff", daemon=True
        ).start()
    return moved


def history_lines(ctx: Context, lead: store.LeadRow, tz: tzinfo) -> list[tuple[datetime, str]]:
    """The lead's history in the reader's time: hand-off, changes of hands, levels told,
    touches, oldest first."""
    parts = ctx.renderer.parts("routing/parts.txt.j2")
    with ctx.engine.connect() as connection:
        events = routing_store.history(connection, lead.id)
        touches = routing_store.touches_of(connection, lead.id)
        told = routing_store.told_levels(connection, lead.id)
    moves = [e for e in events if e.kind != routing_store.TOLD]
    lines: list[tuple[datetime, str]] = []
    if lead.assigned_at is not None and not moves:
        lines.append((lead.assigned_at, parts.assigned(lead.owner_email)))
    for e in events:
        if e.kind == routing_store.TOLD:  # told before the lead changed hands
            rule, _, level = (e.note or "|0").partition("|")
            lines.append((e.at, parts.told(rule.replace("_", " "), int(level))))
        else:
            lines.append((e.at, parts.event(e.kind, e.by, e.from_owner, e.to_owner)))
    lines += [(at, parts.told(rule.replace("_", " "), level)) for rule, level, at in told]
    lines += [(at, parts.touched(kind, by)) for at, kind, by in touches]
    return [(at.astimezone(tz), text) for at, text in sorted(lines, key=lambda each: each[0])]
