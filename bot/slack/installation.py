"""Slack's side of `slabot doctor`: the bot token, the scopes the manifest asks for, each team
channel and each person of the agreement as a Slack user."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.domain.agreement import Agreement
from bot.domain.checkup import Check
from bot.resources import manifest
from bot.slack.channels import join_channel


def slack_checks(client: WebClient, agreement: Agreement | None) -> list[Check]:
    """The token (auth.test), its scopes against the manifest's (Slack names them in every
    answer's `x-oauth-scopes`), and, with an agreement, each team channel (public ones are
    joined) and each rep and manager found by email."""
    try:
        answer = client.auth_test()
    except SlackApiError as error:
        return [Check("Slack", False, "token_refused", {"code": error.response.get("error")})]
    except (SlackClientError, OSError) as error:
        return [Check("Slack", False, "unreachable", {"error": str(error)})]
    checks = [
        Check("Slack", True, "token", {"user": answer.get("user"), "team": answer.get("team")})
    ]
    headers = {name.lower(): value for name, value in (answer.headers or {}).items()}
    granted = {scope.strip() for scope in str(headers.get("x-oauth-scopes", "")).split(",")}
    wanted = manifest()["oauth_config"]["scopes"]["bot"]
    missing = [scope for scope in wanted if scope not in granted]
    checks.append(Check("scopes", not missing, "scopes", {"missing": missing, "all": len(wanted)}))
    if agreement is None:
        return checks
    for team in agreement.teams:
        state = join_channel(client, team.channel)
        checks.append(
            Check("channel", state.member, "channel", {"team": team.name, "state": state})
        )
    people = {rep.email for rep in agreement.reps} | {
        rep.manager for rep in agreement.reps if rep.manager
    }
    unknown = sorted(people - _workspace_emails(client))
    checks.append(Check("people", not unknown, "people", {"unknown": unknown, "all": len(people)}))
    return checks


def _workspace_emails(client: WebClient) -> set[str]:
    """The emails of the workspace's active users (users.list, 200 a page)."""
    found: set[str] = set()
    for page in client.users_list(limit=200):
        for member in page.get("members", []):
            email = str((member.get("profile") or {}).get("email") or "").lower()
            if email and not member.get("deleted"):
                found.add(email)
    return found
