"""The proposal modal's and the Request changes modal's submissions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.deps import deps_of
from bot.domain.agreement_file import AgreementFileError
from bot.listeners.actions.agreement import PARTS
from bot.listeners.answering import deliver_soon, patiently
from bot.services import proposals
from bot.slack import ids
from bot.slack.messages.proposals import INPUT, proposal_of, submitted


def handle_propose_submit(
    ack: Ack, body: dict, view: dict, client: WebClient, context: BoltContext
) -> None:
    """The terms as edited become a proposal, or the modal says which field is wrong."""
    deps = deps_of(context)
    values, errors = submitted(view)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    kind = str(json.loads(view.get("private_metadata") or "{}").get("kind") or "edit")
    now, user = datetime.now(UTC), body["user"]["id"]

    def propose() -> tuple[Any, list[int]] | dict[str, str]:
        _, current, text = proposals.in_force(deps.engine, now)
        earliest = proposals.next_period_start(current, now)
        picked = values.get("agreement.effective")
        if isinstance(picked, date) and picked < earliest:
            return {"agreement.effective": deps.renderer.parts(PARTS).too_early(earliest)}
        notes = proposals.recalibrated_text(deps.engine, now)[1] if kind == "recalibration" else {}
        edited = proposals.edited_text(text, values)
        try:
            return proposals.propose(
                deps.engine, deps.renderer, edited, by=user, now=now, kind=kind, notes=notes
            )
        except AgreementFileError as error:
            return _field_errors(error, list(values))
        except proposals.ProposalRefused as error:
            return {next(iter(values), "agreement.effective"): str(error)[:150]}

    done = patiently(propose)
    if isinstance(done, dict):
        ack(response_action="errors", errors=done)
        return
    ack()
    deliver_soon(deps, client, done[1])


def _field_errors(error: AgreementFileError, fields: list[str]) -> dict[str, str]:
    """Each problem under the field it is about (else under the first)."""
    found: dict[str, str] = {}
    for problem in error.problems:
        key = next((field for field in fields if problem.key.startswith(field)), fields[0])
        found.setdefault(key, problem.message[:150])
    return found


def handle_changes_submit(
    ack: Ack, body: dict, view: dict, client: WebClient, context: BoltContext
) -> None:
    """A signatory's reason for requesting changes: in the card's thread, the proposal
    closed, the version in force kept."""
    deps = deps_of(context)
    typed = view["state"]["values"].get(ids.CHANGES_REASON, {}).get(INPUT) or {}
    reason = str(typed.get("value") or "").strip()[:2000]
    proposal_id = proposal_of(json.loads(view.get("private_metadata") or "{}").get("proposal"))
    if not reason or proposal_id is None:
        ack(response_action="errors", errors={ids.CHANGES_REASON: "Say what should change."})
        return
    answer = patiently(
        lambda: proposals.answer(
            deps.engine,
            deps.renderer,
            proposal_id,
            user=body["user"]["id"],
            decision="changes",
            reason=reason,
            now=datetime.now(UTC),
        )
    )
    if answer.outcome != "changes":
        text = getattr(deps.renderer.parts(PARTS), answer.outcome)(answer)
        ack(response_action="errors", errors={ids.CHANGES_REASON: text[:150]})
        return
    ack()
    deliver_soon(deps, client, answer.items)
