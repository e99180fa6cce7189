"""An SLA queue as Block Kit: a header, what the list is, each lead with its state and (but in
the channel's post) its buttons, then the rest (a DM) or the pages (`/sla`, the Home tab).
The sentences are the macros of `alerts/queue_parts.txt.j2`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from bot.domain.sla_rules import Level
from bot.reports.queue import Line, Queue
from bot.slack import ids
from bot.slack.messages.blocks import Block, actions, button, context, header, section
from bot.slack.render import MAX_BLOCKS, MAX_VIEW_BLOCKS, Renderer, fit_blocks
from storage.outbox import Kind

BLOCKS_PER_LINE: dict[str, int] = {Kind.REP: 2, Kind.MANAGER: 2, Kind.CHANNEL: 1}
FRAME_BLOCKS = 5  # header, intro, note, the rest (or the pages), its button
HOME_BLOCKS = 6  # what the Home tab shows below the queue: a divider, about, quota math


@dataclass(frozen=True)
class QueueView:
    """One page of a queue, as one audience sees it."""

    kind: str  # sla_rep | sla_manager | sla_channel
    surface: str  # dm | sla | home
    page: int
    pages: int
    first: int  # the position of the page's first lead (from 1)
    lines: list[Line]  # the page's leads
    hidden: int  # leads a DM could not show
    hidden_breached: int
    breached: int
    due_soon: int
    total: int
    new: int
    now: datetime  # in the reader's timezone
    also_open: int = 0  # a channel's post: leads escalated before that are still open
    note: str | None = None
    title: str | None = None
    # a manager's DM: each owner's teammates a lead can go to, the rotation's next first
    routes: dict[str, tuple[list[str], str | None]] = field(default_factory=dict)
    by_value: bool = False  # ordered by each lead's expected pipeline, which each line shows

    def as_context(self) -> dict[str, Any]:
        """The names the notification text's template reads."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def queue_blocks(parts: Any, q: QueueView) -> list[Block]:
    """`parts`: the sentences' template module (`Renderer.parts`)."""
    blocks = [header(parts.title(q)), context(parts.intro(q))]
    if q.note:
        blocks.append(context(q.note))
    line_text = parts.line
    for line in q.lines:
        lead = str(line.lead.id)
        shown = section(line_text(q, line), block_id=f"lead:{lead}")
        if q.kind == Kind.CHANNEL:  # the channel's post has no row of buttons: History beside
            shown["accessory"] = button(ids.HISTORY, "History", lead)
        blocks.append(shown)
        if q.kind != Kind.CHANNEL:
            elements = [
                button(ids.CONTACTED, "Contacted", lead, style="primary"),
                button(ids.SNOOZE, "Snooze 1h", lead),
                button(ids.RECYCLE, "Recycle…", lead),
            ]
            if q.kind == Kind.REP:
                elements.append(button(ids.HAND_BACK, "Hand back", lead))
            else:
                picker = reassign_picker(
                    lead, *q.routes.get(line.lead.owner_email or "", ([], None))
                )
                elements += [picker] if picker else []
                elements.append(button(ids.COVER, "Cover until…", lead))
            elements.append(button(ids.HISTORY, "History", lead))
            blocks.append(actions(elements, block_id=f"act:{lead}"))
    view = ("team" if q.kind == Kind.MANAGER else "mine") + ("+value" if q.by_value else "")
    if q.hidden:
        blocks.append(context(parts.more(q)))
        blocks.append(actions([button(ids.OPEN_HOME, parts.show_all(q), view)], block_id="more"))
    elif q.pages > 1:
        blocks.append(context(parts.page_of(q)))
        turns = []
        if q.page > 0:
            turns.append(button(ids.PAGE, "‹ Previous", f"{q.surface}|{view}|{q.page - 1}"))
        if q.page + 1 < q.pages:
            turns.append(button(ids.PAGE, "Next ›", f"{q.surface}|{view}|{q.page + 1}"))
        blocks.append(actions(turns, block_id="pages"))
    if q.also_open:
        blocks.append(context(parts.also_open(q)))
    if not q.lines:
        blocks.append(section(parts.nothing(q)))
    return fit_blocks(blocks)


def reassign_picker(lead: str, reps: list[str], preselected: str | None) -> Block | None:
    """Reassign to…: a menu of the owner's teammates, the rotation's next one chosen."""
    options = [
        {"text": {"type": "plain_text", "text": email[:75]}, "value": f"{lead}|{email}"}
        for email in reps[:100]
        if len(lead) + len(email) < 150  # Slack's longest option value
    ]
    if not options:
        return None
    menu: Block = {
        "type": "static_select",
        "action_id": ids.REASSIGN,
        "placeholder": {"type": "plain_text", "text": "Reassign to…"},
        "options": options,
    }
    chosen = next((each for each in options if each["value"] == f"{lead}|{preselected}"), None)
    if chosen is not None:
        menu["initial_option"] = chosen
    return menu


@dataclass
class Message:
    """One audience's queue, ready for the outbox."""

    kind: str  # sla_rep | sla_manager | sla_channel
    audience: str  # email, or the channel id
    day: date
    lines: list[Line]  # the leads it shows
    total: int  # the leads in the queue, shown or not
    text: str
    blocks: list[dict]
    key: str = ""
    heading: str = ""

    @property
    def payload(self) -> dict:
        return {"text": self.text, "blocks": self.blocks}


def _room(kind: str, surface: str) -> int:
    """How many leads a page of the queue holds."""
    limit = MAX_VIEW_BLOCKS - HOME_BLOCKS if surface == "home" else MAX_BLOCKS
    return (limit - FRAME_BLOCKS) // BLOCKS_PER_LINE[kind]


@dataclass(frozen=True)
class Page:
    """What a surface shows of a queue: one page of its lines (a DM, the first)."""

    number: int
    pages: int
    first: int  # the position of its first lead, from 1
    lines: list[Line]


def page_of(queue: Queue, *, kind: str, surface: str = "dm", page: int = 0) -> Page:
    room = _room(kind, surface)
    pages = max(1, -(-queue.total // room))
    number = min(max(page, 0), pages - 1) if surface != "dm" else 0
    start = number * room
    return Page(number, pages, start + 1, queue.lines(start, start + room))


def render_queue(
    renderer: Renderer,
    *,
    kind: str,
    audience: str,
    queue: Queue,
    page: Page,
    now: datetime,
    note: str | None = None,
    title: str | None = None,
    surface: str = "dm",
    routes: dict[str, tuple[list[str], str | None]] | None = None,
) -> Message:
    """The message for one audience: a page of its queue (`page_of`), the most urgent first.
    A DM counts the rest and points to the Home tab; `/sla` ("sla") and the Home tab ("home",
    100 blocks) show the page with buttons to the others. A channel's news counts the leads
    escalated before (`Queue.left_out`); times are in the reader's calendar (`Queue.calendar`)."""
    calendar, shown = queue.calendar, page.lines
    breached = queue.breached
    hidden = queue.total - len(shown) if surface == "dm" else 0  # a DM shows the first page
    view = QueueView(
        kind=kind,
        surface=surface,
        page=page.number,
        pages=page.pages,
        first=page.first,
        lines=shown,
        hidden=hidden,
        hidden_breached=hidden and breached - sum(line.level >= Level.BREACHED for line in shown),
        breached=breached,
        due_soon=queue.levels[Level.DUE_SOON],
        total=queue.total,
        new=queue.new,
        now=now.astimezone(calendar.tz),
        also_open=queue.left_out,
        note=note,
        title=title,
        routes=routes or {},
        by_value=queue.by_value,
    )
    blocks = queue_blocks(renderer.parts("alerts/queue_parts.txt.j2"), view)
    return Message(
        kind=kind,
        audience=audience,
        day=calendar.today(now),
        lines=shown,
        total=queue.total,
        text=renderer.slack_text("alerts/queue.txt.j2", **view.as_context()),
        blocks=blocks,
    )
