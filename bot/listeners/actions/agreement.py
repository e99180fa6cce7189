"""A proposal's buttons (Approve, Request changes) and the proposal modal's Recalibrate."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from slack_bolt import Respond
from slack_sdk import WebClient

from bot.deps import Deps
from bot.listeners.answering import deliver_soon, pressed
from bot.services import proposals
from bot.slack.messages.proposals import (
    changes_modal,
    form_values,
    proposal_modal,
    proposal_of,
)

PARTS = "agreement/answers.txt.j2"


@pressed
def handle_approve(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    """Approve: counted for a signatory; the last approval stores the version."""
    proposal_id = proposal_of((body.get("actions") or [{}])[0].get("value"))
    user = body["user"]["id"]
    answer = proposals.answer(
        deps.engine,
        deps.renderer,
        proposal_id or 0,
        user=user,
        decision="approve",
        now=datetime.now(UTC),
    )
    deliver_soon(deps, client, answer.items)
    text = getattr(deps.renderer.parts(PARTS), answer.outcome)(answer)
    respond(response_type="ephemeral", replace_original=False, text=text)


@pressed
def handle_request_changes(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    """Request changes: a signatory says why (a modal); anyone else is told who signs."""
    proposal_id = proposal_of((body.get("actions") or [{}])[0].get("value"))
    _, current, _ = proposals.in_force(deps.engine, datetime.now(UTC))
    if body["user"]["id"] not in current.agreement.signatories or proposal_id is None:
        answer = proposals.Answer("refused")
        text = deps.renderer.parts(PARTS).refused(answer)
        respond(response_type="ephemeral", replace_original=False, text=text)
        return
    client.views_open(trigger_id=body["trigger_id"], view=changes_modal(proposal_id))


@pressed
def handle_recalibrate(body: dict, respond: Respond, client: WebClient, deps: Deps) -> None:
    """The modal's fields refilled with the last quarter's actual rates (too few leads: the
    assumed value stays), for the proposer to review before proposing."""
    from bot.domain.agreement_file import parse_agreement

    now = datetime.now(UTC)
    text, measured = proposals.recalibrated_text(deps.engine, now)
    agreement = parse_agreement(text)
    flagged = sorted({f"{m['group']} {m['key']}" for m in measured["measured"] if m["flagged"]})
    note = deps.renderer.parts(PARTS).recalibrated(measured["quarter"], flagged)
    view = body["view"]
    effective = proposals.next_period_start(agreement, now)
    refilled = proposal_modal(
        form_values(agreement), effective=effective, kind="recalibration", note=note
    )
    refilled["private_metadata"] = json.dumps({"kind": "recalibration"})
    client.views_update(view_id=view["id"], hash=view.get("hash"), view=refilled)
