"""What a person sees when a listener fails: never a 500 (Slack would show "dispatch_failed"
or nothing at all), but one short ephemeral line. A database that cannot be reached says so
and asks to try again in a minute; anything else is logged with its traceback here."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import BoltResponse
from slack_bolt.context.respond import Respond

from bot.deps import Deps
from storage.outages import outage_reason, unreachable

log = logging.getLogger(__name__)


def error_answer(deps: Deps, error: Exception) -> str:
    """The one line for the person, after logging the failure for the people running slabot."""
    if unreachable(error):
        log.warning("database unreachable: %s", outage_reason(error))
        return deps.renderer.slack_text("errors/database.txt.j2")
    log.error("listener failed", exc_info=error)
    return deps.renderer.slack_text("errors/unexpected.txt.j2")


def handle_error(
    deps: Deps,
    error: Exception,
    body: dict[str, Any],
    response: BoltResponse | None,
    respond: Respond | None,
) -> BoltResponse | None:
    """Bolt's global error handler. Not yet acknowledged: the answer is the acknowledgement
    (an ephemeral reply to a command or a button, an error under the modal's first input);
    acknowledged already: the answer follows through `response_url` where there is one."""
    text = error_answer(deps, error)
    if response is None:
        if respond is not None:
            respond(text=text, response_type="ephemeral", replace_original=False)
        return None
    if body.get("type") == "view_submission":
        inputs = [
            block["block_id"]
            for block in (body.get("view") or {}).get("blocks") or []
            if block.get("type") == "input" and block.get("block_id")
        ]
        if inputs:
            return _json({"response_action": "errors", "errors": {inputs[0]: text}})
        return BoltResponse(status=200, body="")
    if "command" in body:
        return _json({"response_type": "ephemeral", "text": text})
    if respond is not None:  # a button: the reply goes to the response URL, the ack is empty
        respond(text=text, response_type="ephemeral", replace_original=False)
    return BoltResponse(status=200, body="")


def _json(answer: dict[str, Any]) -> BoltResponse:
    return BoltResponse(
        status=200, body=json.dumps(answer), headers={"content-type": "application/json"}
    )
