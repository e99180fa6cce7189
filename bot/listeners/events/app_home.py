"""The App Home tab: the person's whole SLA queue, a page of up to 44 leads at a time with the
alert buttons, then what slabot does and the quota math in force."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.deps import Deps, deps_of
from bot.domain.quota_args import QuotaInputError, QuotaRequest
from bot.intake.unowned import unmatched_owners
from bot.listeners.leads import lead_context
from bot.services import lead_actions
from bot.services.quota import answer_quota
from bot.slack.messages import home as messages
from bot.slack.render import escape_mrkdwn
from storage.agreements import newest_agreement


def handle_app_home_opened(event: dict, client: WebClient, context: BoltContext) -> None:
    if event.get("tab") != "home":
        return
    publish_home(client, deps_of(context), event["user"])


def publish_home(
    client: WebClient,
    deps: Deps,
    user_id: str,
    *,
    view: str = "",
    page: int = 0,
    note: str | None = None,
) -> None:
    home = home_view(client, deps, user_id, view=view, page=page, note=note)
    client.views_publish(user_id=user_id, view=home)


def home_view(
    client: WebClient, deps: Deps, user_id: str, *, view: str, page: int, note: str | None = None
) -> dict[str, Any]:
    """`view`: "mine" or "team" (a manager's reps); "" picks the person's own queue if they
    hold leads, else their team's if they manage one. An admin sees the set-up first (`note`:
    what their last change did)."""
    try:
        answer = answer_quota(deps.engine, QuotaRequest())
    except QuotaInputError:
        answer = None
    parts = deps.renderer.parts("home/parts.txt.j2")
    setup = []
    if user_id in deps.settings.admins:
        unmatched = unmatched_owners(deps.engine)
        newest = newest_agreement(deps.engine)
        teams = [(t.name, t.channel, t.standup) for t in (newest.teams if newest else [])]
        checklist = _checklist(client, deps)
        setup = messages.setup_blocks(parts, checklist, unmatched, note, teams)
    return messages.home_view(
        parts,
        [*setup, *_queue_blocks(client, deps, user_id, view=view, page=page)],
        answer=answer,
        grammar=deps.renderer.text("quota/grammar.txt.j2"),
    )


def _checklist(client: WebClient, deps: Deps) -> list[str]:
    """`slabot doctor`'s checks, a line each (✓, or ✗ and what to do)."""
    from bot.services.doctor import local_checks
    from bot.slack.installation import slack_checks
    from storage.agreements import agreement_in_force

    now = datetime.now(UTC)
    agreement = agreement_in_force(deps.engine, on=now.date())
    checks = local_checks(deps.engine, deps.settings, agreement, now=now)
    checks += slack_checks(client, agreement)
    sentences = deps.renderer.parts("doctor/checks.txt.j2")
    return [
        f"{'✅' if c.ok else '❌'} *{c.area}* {escape_mrkdwn(sentences.sentence(c))}"
        for c in checks
    ]


def _queue_blocks(
    client: WebClient, deps: Deps, user_id: str, *, view: str, page: int
) -> list[dict[str, Any]]:
    try:
        ctx = lead_context(deps, client)
    except lead_actions.NoAgreement:
        return []  # no agreement in force yet
    email = lead_actions.email_of(deps.engine, client, user_id)
    if email is None:
        return []
    holds = ctx.agreement.rep(email) is not None
    manages = any(rep.manager == email for rep in ctx.agreement.reps)
    team = view == "team" if view else not holds
    if (team and not manages) or (not team and not holds):
        return []
    message = lead_actions.queue_for(
        ctx, email=email, team=team, now=datetime.now(UTC), surface="home", page=page
    )
    return [*message.blocks, {"type": "divider"}]
