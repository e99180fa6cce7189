"""The agreement's sign-off in Slack: the proposal modal (prefilled from a version, read back
into the keys it edits), a proposal's card, the news of a signed version, and the modal
asking why changes are requested."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from bot.domain.agreement import Agreement
from bot.slack import ids
from bot.slack.render import Renderer
from storage.proposals import Proposal, Vote

INPUT = "value"  # every field's action id (its block id is the key it sets)
RATES = ("aov", "win", "sql_to_opp", "mql_to_sql")
LABELS = {
    "marketing.mql_target": "MQL target per period (blank: from the quota)",
    "marketing.sql_target": "SQL target per period (blank: from the quota)",
    "funnel.quota": "Revenue quota per period",
    "aov": "Average deal size (AOV)",
    "win": "Win rate (opportunity → won)",
    "sql_to_opp": "SQL → opportunity",
    "mql_to_sql": "MQL → SQL",
    "share": "Share of the quota",
    "sales.first_touch": "First touch within (e.g. 4h)",
    "sales.accept_within": "Accept or recycle within (e.g. 2bd)",
}
WHOLE = ("marketing.mql_target", "marketing.sql_target", "funnel.quota")  # and every aov


def form_values(agreement: Agreement) -> dict[str, str]:
    """The modal's fields as the version gives them: key → text (blank: not set)."""
    terms = agreement.model_dump(mode="json")
    found = {
        "marketing.mql_target": terms["marketing"].get("mql_target"),
        "marketing.sql_target": terms["marketing"].get("sql_target"),
        "funnel.quota": terms["funnel"].get("quota"),
        **{f"funnel.{key}": terms["funnel"].get(key) for key in RATES},
    }
    for name, override in terms["funnel"].get("sources", {}).items():
        found |= {f"funnel.sources.{name}.{key}": override.get(key) for key in RATES}
    for name, segment in terms["funnel"].get("segments", {}).items():
        keys = ("share", *RATES)
        found |= {f"funnel.segments.{name}.{key}": segment.get(key) for key in keys}
    found["sales.first_touch"] = terms["sales"]["first_touch"]
    found["sales.accept_within"] = terms["sales"]["accept_within"]
    return {key: "" if value is None else _plain(value) for key, value in found.items()}


def _plain(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _label(key: str) -> str:
    *where, name = key.split(".")
    text = LABELS.get(key) or LABELS.get(name, name)
    if len(where) == 3:  # funnel.sources.NAME / funnel.segments.NAME
        text = f"{where[2]} ({where[1][:-1]}): {text}"
    return text[:150]


def proposal_modal(
    values: dict[str, str], *, effective: date, kind: str, note: str | None = None
) -> dict[str, Any]:
    """The modal `/sla propose` opens: every term it edits, prefilled; Recalibrate refills
    the rates from the last quarter's actuals."""
    blocks: list[Any] = [
        ContextBlock(elements=[MarkdownTextObject(text=note or (
            "Change any term, then *Propose*: the signatories get a card to approve. Rates "
            "as decimals or percentages (0.34 or 34%)."
        ))]),
        ActionsBlock(block_id="recalibrate", elements=[ButtonElement(
            action_id=ids.RECALIBRATE, text="Recalibrate from last quarter", value="recalibrate",
        )]),
        InputBlock(
            block_id="agreement.effective",
            label="In force from",
            element=DatePickerElement(action_id=INPUT, initial_date=effective.isoformat()),
        ),
    ]  # fmt: skip
    for key, value in values.items():
        blocks.append(
            InputBlock(
                block_id=key,
                label=_label(key),
                optional=True,
                element=PlainTextInputElement(action_id=INPUT, initial_value=value or None),
            )
        )
    view = View(
        type="modal",
        callback_id=ids.PROPOSE,
        title="Propose new terms",
        submit="Propose",
        close="Cancel",
        private_metadata=json.dumps({"kind": kind}),
        blocks=blocks,
    )
    return view.to_dict()


def submitted(view: dict[str, Any]) -> tuple[dict[str, object | None], dict[str, str]]:
    """(key → value, or None to leave it out; block id → the problem) from the modal."""
    state = view.get("state", {}).get("values", {})
    values: dict[str, object | None] = {}
    errors: dict[str, str] = {}
    for key, actions in state.items():
        field = actions.get(INPUT) or {}
        if key == "agreement.effective":
            picked = field.get("selected_date")
            if picked:
                values[key] = date.fromisoformat(picked)
            continue
        text = str(field.get("value") or "").strip()
        try:
            values[key] = _read(key, text)
        except ValueError as error:
            errors[key] = str(error)
    return values, errors


def _read(key: str, text: str) -> object | None:
    if not text:
        return None
    name = key.rsplit(".", 1)[-1]
    if key.startswith("sales."):
        return text
    number = text.replace(",", "").replace("$", "").strip()
    percent = number.endswith("%")
    try:
        value = float(number.rstrip("%").strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if key in WHOLE or name == "aov":
        if percent or not value.is_integer():
            raise ValueError(f"{text!r} is not a whole amount")
        return int(value)
    return round(value / 100 if percent or value > 1 else value, 6)


def card_payload(
    renderer: Renderer, proposal: Proposal, agreement: Agreement, votes: list[Vote]
) -> dict[str, Any]:
    context: dict[str, Any] = {"p": proposal, "a": agreement, "votes": votes, "ids": ids}
    return {
        "text": renderer.slack_text("agreement/card.txt.j2", **context),
        "blocks": renderer.blocks("agreement/card.json.j2", **context),
    }


def signed_payload(
    renderer: Renderer,
    agreement: Agreement,
    version: int,
    signed_by: list[dict],
    in_force_from: date,
) -> dict[str, Any]:
    text = renderer.slack_text(
        "agreement/signed.txt.j2",
        a=agreement,
        version=version,
        signed_by=signed_by,
        in_force_from=in_force_from,
    )
    return {"text": text}


def changes_modal(proposal_id: int) -> dict[str, Any]:
    """Request changes: the reason, posted in the card's thread."""
    view = View(
        type="modal",
        callback_id=ids.REQUEST_CHANGES,
        title="Request changes",
        submit="Send",
        close="Cancel",
        private_metadata=json.dumps({"proposal": proposal_id}),
        blocks=[
            InputBlock(
                block_id=ids.CHANGES_REASON,
                label="What should change, and why?",
                element=PlainTextInputElement(
                    action_id=INPUT, multiline=True, max_length=2000, min_length=3
                ),
            )
        ],
    )
    return view.to_dict()


def proposal_of(value: object) -> int | None:
    """A card's button value → the proposal's id (None for anything else)."""
    text = str(value or "")
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else None
