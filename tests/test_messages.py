"""The Block Kit builders (bot/slack/messages): every message they lay out is checked with
slack_sdk's models, and the texts and action ids are the ones written here by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from bot.slack import ids
from bot.slack.messages.queue import QueueView, queue_blocks
from bot.slack.messages.recycle import recycle_modal
from bot.slack.render import Renderer, validate_blocks

RENDERER = Renderer()
QUEUE = RENDERER.parts("alerts/queue_parts.txt.j2")
NOW = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)


def line(lead_id: int, *, level: int = 2, new: bool = False, crm_url: str | None = None) -> Any:
    """What the builder reads of `bot.reports.queue.Line`."""
    lead = SimpleNamespace(
        id=lead_id, company="Acme & Co", name="Ann <Lee>", source="webinar", score=87.0,
        owner_email="rita@example.com", crm_url=crm_url,
    )  # fmt: skip
    state = SimpleNamespace(rule="first touch", level=level, due="Mon 23 Nov 10:00")
    return SimpleNamespace(lead=lead, level=level, new=new, states=[state], since="3h 10m")


def view(kind: str = "sla_rep", lines: list | None = None, **overrides: Any) -> QueueView:
    shown = lines if lines is not None else [line(1, new=True, crm_url="https://crm/1")]
    fields: dict[str, Any] = dict(
        kind=kind, surface="dm", page=0, pages=1, first=1, lines=shown, hidden=0,
        hidden_breached=0, breached=sum(1 for each in shown if each.level >= 2),
        due_soon=sum(1 for each in shown if each.level == 1), total=len(shown),
        new=sum(1 for each in shown if each.new), now=NOW,
    )  # fmt: skip
    return QueueView(**{**fields, **overrides})


def test_a_managers_dm_carries_reassign_with_the_rotations_next_and_cover() -> None:
    routes = {"rita@example.com": (["sam@example.com", "tom@example.com"], "tom@example.com")}
    blocks = queue_blocks(QUEUE, view("sla_manager", routes=routes))
    validate_blocks(blocks)
    elements = next(b for b in blocks if b["type"] == "actions")["elements"]
    assert [e["action_id"] for e in elements] == [
        ids.CONTACTED, ids.SNOOZE, ids.RECYCLE, ids.REASSIGN, ids.COVER, ids.HISTORY,
    ]  # fmt: skip
    picker = elements[3]
    assert [o["value"] for o in picker["options"]] == ["1|sam@example.com", "1|tom@example.com"]
    assert picker["initial_option"]["value"] == "1|tom@example.com"
    assert elements[4]["text"]["text"] == "Cover until…"


def test_a_reps_dm_names_the_lead_its_deadline_and_carries_its_buttons() -> None:
    blocks = queue_blocks(QUEUE, view())
    validate_blocks(blocks)
    assert [b["type"] for b in blocks] == ["header", "context", "section", "actions"]
    assert blocks[0]["text"]["text"] == "🚨 1 lead past the SLA"
    assert blocks[1]["elements"][0]["text"] == (
        "Leads waiting for your first move, most valuable first. The clock runs in your working "
        "hours. As of Mon 23 Nov 15:30 UTC. 1 new."
    )
    assert blocks[2]["block_id"] == "lead:1"
    assert blocks[2]["text"]["text"] == (
        "🔴 *Acme &amp; Co* — Ann &lt;Lee&gt; · webinar · score 87 · *new*\n"
        "first touch was due Mon 23 Nov 10:00 · 3h 10m since assignment · "
        "<https://crm/1|open in CRM>"
    )
    buttons = blocks[3]["elements"]
    assert [(b["action_id"], b["text"]["text"], b["value"]) for b in buttons] == [
        (ids.CONTACTED, "Contacted", "1"),
        (ids.SNOOZE, "Snooze 1h", "1"),
        (ids.RECYCLE, "Recycle…", "1"),
        (ids.HAND_BACK, "Hand back", "1"),
        (ids.HISTORY, "History", "1"),
    ]
    assert buttons[0]["style"] == "primary"


def test_the_channels_post_names_the_owner_and_has_only_history() -> None:
    blocks = queue_blocks(QUEUE, view("sla_channel", [line(7, level=3)]))
    validate_blocks(blocks)
    assert [b["type"] for b in blocks] == ["header", "context", "section"]
    assert blocks[0]["text"]["text"] == "🚨 1 SLA breach still open"
    assert blocks[2]["text"]["text"].endswith(" · owner rita@example.com")
    accessory = blocks[2]["accessory"]
    assert (accessory["action_id"], accessory["value"]) == (ids.HISTORY, "7")


def test_a_dm_too_long_counts_the_rest_and_points_to_home() -> None:
    blocks = queue_blocks(QUEUE, view("sla_manager", hidden=38, hidden_breached=30, total=60))
    validate_blocks(blocks)
    assert blocks[-2]["elements"][0]["text"] == (
        "…and 38 more (30 breached) that do not fit in a message: all 60 are in slabot's "
        "*Home* tab, with the same buttons."
    )
    [show_all] = blocks[-1]["elements"]
    assert (show_all["action_id"], show_all["text"]["text"], show_all["value"]) == (
        ids.OPEN_HOME,
        "Show all 60 in Home",
        "team",
    )


@pytest.mark.parametrize(
    ("page", "shown", "where", "turns"),
    [(0, 22, "Leads 1–22 of 60 · page 1 of 3", [("Next ›", "sla|mine|1")]),
     (1, 22, "Leads 23–44 of 60 · page 2 of 3",
      [("‹ Previous", "sla|mine|0"), ("Next ›", "sla|mine|2")]),
     (2, 16, "Leads 45–60 of 60 · page 3 of 3", [("‹ Previous", "sla|mine|1")])],
)  # fmt: skip
def test_a_paged_queue_turns_to_its_neighbours(
    page: int, shown: int, where: str, turns: list
) -> None:
    lines = [line(n) for n in range(1, shown + 1)]
    blocks = queue_blocks(
        QUEUE, view(lines=lines, surface="sla", page=page, pages=3, first=22 * page + 1, total=60)
    )
    validate_blocks(blocks)
    assert blocks[-2]["elements"][0]["text"] == where
    assert [(b["action_id"], b["text"]["text"], b["value"]) for b in blocks[-1]["elements"]] == [
        (ids.PAGE, *turn) for turn in turns
    ]


def test_an_empty_queue_says_nothing_is_due() -> None:
    blocks = queue_blocks(QUEUE, view(lines=[]))
    validate_blocks(blocks)
    assert blocks[0]["text"]["text"] == "⏰ nothing is due now"
    assert blocks[-1]["text"]["text"] == "Nothing is due. :tada:"


def test_long_crm_text_is_cut_to_slacks_limits_and_still_valid() -> None:
    long = line(3)
    long.lead.company = "&" * 5000  # escapes to 25,000 characters
    blocks = queue_blocks(QUEUE, view(lines=[long]))
    validate_blocks(blocks)
    text = blocks[2]["text"]["text"]
    assert len(text) <= 3000 and text.endswith("&amp;…")  # never cut inside an escape


def test_the_recycle_modal_offers_the_reasons_and_a_note() -> None:
    modal = recycle_modal(
        RENDERER.parts("alerts/recycle_parts.txt.j2"),
        lead="Acme &amp; Co",
        reasons=["Bad fit", "Other"],
        private='{"lead": 1}',
    )
    validate_blocks(modal["blocks"])
    assert (modal["type"], modal["callback_id"], modal["private_metadata"]) == (
        "modal",
        ids.RECYCLE,
        '{"lead": 1}',
    )
    section, reason, note = modal["blocks"]
    assert section["text"]["text"].startswith("Send *Acme &amp; Co* back to marketing.")
    assert reason["block_id"] == reason["element"]["action_id"] == ids.RECYCLE_REASON
    assert [o["value"] for o in reason["element"]["options"]] == ["Bad fit", "Other"]
    assert note["optional"] is True and note["element"]["max_length"] == 300


def test_the_home_tab_puts_the_queue_first_then_what_slabot_does_and_the_quota_math() -> None:
    from bot.slack.messages.home import home_view

    answer = SimpleNamespace(
        period="month", period_label="November 2026", mqls_per_day=48,
        plan=SimpleNamespace(quota=115000, deals=58, opportunities=253, sqls=309, mqls=909),
    )  # fmt: skip
    queue = queue_blocks(QUEUE, view(surface="home"))
    parts = RENDERER.parts("home/parts.txt.j2")
    home = home_view(parts, queue, answer=answer, grammar="/quota [AMOUNT]")
    assert home["type"] == "home"
    blocks = home["blocks"]
    validate_blocks(blocks, where="home", limit=100)
    assert blocks[: len(queue)] == queue
    tail = blocks[len(queue) :]
    assert [block["type"] for block in tail] == [
        "header",
        "section",
        "divider",
        "section",
        "section",
    ]
    assert tail[0]["text"]["text"] == "slabot keeps the SLA between marketing and sales"
    assert tail[3]["text"]["text"] == "*Quota math*\n```/quota [AMOUNT]```"
    assert tail[4]["text"]["text"] == (
        "*This month (November 2026)*: $115,000 needs 58 deals, 253 opportunities, 309 SQLs "
        "and 909 MQLs: 48 MQLs per business day."
    )
    without = home_view(parts, [], answer=None, grammar="/quota [AMOUNT]")["blocks"]
    assert [block["type"] for block in without] == ["header", "section", "divider", "section"]
