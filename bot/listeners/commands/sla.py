"""`/sla`: your open queue (`/sla`), your team's (`/sla team`), the terms (`/sla terms`), your
out-of-office days (`/sla away 24 Dec – 2 Jan`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.deps import Deps, deps_of
from bot.listeners.answering import answer_command
from bot.listeners.leads import lead_context
from bot.services import lead_actions
from storage.agreements import version_in_force


def queue_message(
    deps: Deps, client: WebClient, user_id: str, *, team: bool, by_value: bool = False
) -> dict[str, Any]:
    """The caller's open leads (or their reps'), with deadlines and the alert buttons; the
    most expected pipeline first with `by_value`."""
    renderer = deps.renderer
    try:
        ctx = lead_context(deps, client)
    except lead_actions.NoAgreement:
        return {"text": renderer.slack_text("sla/none.txt.j2")}
    email = lead_actions.email_of(deps.engine, client, user_id)
    if email is None:
        return {"text": renderer.slack_text("sla/who.txt.j2")}
    if team and not any(rep.manager == email for rep in ctx.agreement.reps):
        return {"text": renderer.slack_text("sla/not_a_manager.txt.j2", email=email)}
    message = lead_actions.queue_for(
        ctx, email=email, team=team, now=datetime.now(UTC), by_value=by_value
    )
    return message.payload


def away_message(deps: Deps, client: WebClient, user_id: str, typed: str) -> dict[str, Any]:
    """`/sla away DAYS`: add the caller's out-of-office days (a new agreement version);
    `/sla away`: list those ahead."""
    from bot.domain.away import AwayError, away_days
    from bot.services.agreement_edits import NotARep, set_out_of_office
    from storage.agreements import newest_agreement

    sentences = deps.renderer.parts("sla/away.txt.j2")
    email = lead_actions.email_of(deps.engine, client, user_id)
    if email is None:
        return {"text": deps.renderer.slack_text("sla/who.txt.j2")}
    agreement = newest_agreement(deps.engine)
    rep = agreement.rep(email) if agreement is not None else None
    if rep is None:
        return {"text": sentences.not_a_rep(email)}
    now = datetime.now(UTC)
    today = agreement.rep_calendar(email).today(now)  # type: ignore[union-attr]
    if not typed.strip():
        return {"text": sentences.listed([day for day in rep.out_of_office if day >= today])}
    try:
        days = away_days(typed, today)
        applied = set_out_of_office(deps.engine, email, days, by=f"slack:{user_id}", now=now)
    except AwayError:
        return {"text": sentences.bad_days(typed.strip())}
    except NotARep:
        return {"text": sentences.not_a_rep(email)}
    return {"text": sentences.stored(days[0], days[-1], len(days), applied.version)}


def queue_words(words: list[str]) -> tuple[bool, bool] | None:
    """`/sla`, `/sla team`, either with `by value` (or `value`): (team, by value); None for
    any other words."""
    lowered = [word.lower() for word in words]
    whose = lowered[0] if lowered[:1] in (["team"], ["mine"]) else ""
    rest = lowered[1:] if whose else lowered
    if rest not in ([], ["value"], ["by", "value"]):
        return None
    return whose == "team", bool(rest)


def sla_message(
    deps: Deps,
    text: str,
    *,
    today: date | None = None,
    client: WebClient | None = None,
    user_id: str = "",
) -> dict[str, Any]:
    words = text.split()
    sub = words[0].lower() if words else ""
    renderer = deps.renderer
    queue = queue_words(words)
    if queue is not None and client is not None:
        team, by_value = queue
        return queue_message(deps, client, user_id, team=team, by_value=by_value)
    help_text = renderer.slack_text("sla/help.txt.j2")
    if sub == "terms":
        found = version_in_force(deps.engine, on=today or date.today())
        if found is None:
            return {"text": renderer.slack_text("sla/none.txt.j2")}
        row, agreement = found
        blocks = renderer.blocks(
            "sla/terms.json.j2",
            agreement=agreement,
            version=row.version,
            in_force_from=row.in_force_from,
            signed_by=row.signed_by,
            applied_by=row.applied_by,
        )
        text = renderer.slack_text(
            "sla/terms_title.txt.j2", agreement=agreement, version=row.version
        )
        return {"text": text, "blocks": blocks}
    if sub == "away" and client is not None:
        return away_message(deps, client, user_id, " ".join(words[1:]))
    if sub == "help":
        return {"text": f"```{help_text}```"}
    return {"text": renderer.slack_text("sla/unknown.txt.j2", typed=text.strip(), help=help_text)}


def propose_modal(deps: Deps, client: WebClient, trigger_id: str, user_id: str) -> str | None:
    """`/sla propose`: the proposal modal, prefilled from the version in force (signatories
    and admins); else why not."""
    from bot.services import proposals
    from bot.services.agreement_edits import NoAgreementApplied
    from bot.slack.messages.proposals import form_values, proposal_modal

    now = datetime.now(UTC)
    try:
        _, current, _ = proposals.in_force(deps.engine, now)
    except NoAgreementApplied:
        return deps.renderer.slack_text("sla/none.txt.j2")
    if user_id not in deps.settings.admins and user_id not in current.agreement.signatories:
        return str(deps.renderer.parts("agreement/answers.txt.j2").not_allowed())
    effective = proposals.next_period_start(current, now)
    view = proposal_modal(form_values(current), effective=effective, kind="edit")
    client.views_open(trigger_id=trigger_id, view=view)
    return None


def handle_sla(
    ack: Ack, command: dict, respond: Respond, client: WebClient, context: BoltContext
) -> None:
    deps = deps_of(context)
    text, user = command.get("text") or "", command.get("user_id", "")
    if text.strip().lower() == "propose":
        ack()
        refusal = propose_modal(deps, client, command.get("trigger_id", ""), user)
        if refusal is not None:
            respond(response_type="ephemeral", text=refusal)
        return
    answer_command(ack, respond, deps, lambda: sla_message(deps, text, client=client, user_id=user))
