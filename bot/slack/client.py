"""The Slack Web API client every part of slabot uses, pointed at `SLACK_API_URL`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest

from bot.settings import Settings

# Calls that create something: after a 5xx or a dropped connection Slack may have done it, so
# repeating them at once could post twice. Only the outbox sends them again, after looking in
# the conversation for the message's metadata. A 429 is always safe: Slack did nothing.
NOT_SAFE_TO_REPEAT = frozenset(
    {"chat.postMessage", "chat.postEphemeral", "files.completeUploadExternal"}
)


# False while the sender delivers bulk alerts: a 429 then comes straight back (the outbox tries
# the item again after Slack's Retry-After, and holds the other alerts meanwhile) instead of
# a worker sleeping it out and taking the first free call from a digest waiting for the same
_WAIT_ON_RATE_LIMIT: ContextVar[bool] = ContextVar("wait_on_rate_limit", default=True)


@contextmanager
def rate_limits_not_waited() -> Iterator[None]:
    """Within this block (this thread), Slack's 429 is raised at once, not slept out."""
    token = _WAIT_ON_RATE_LIMIT.set(False)
    try:
        yield
    finally:
        _WAIT_ON_RATE_LIMIT.reset(token)


def api_method(request: HttpRequest) -> str:
    return request.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


class _SafeToRepeat:
    """Retry only calls that are safe to repeat (mixed into slack_sdk's handlers)."""

    def _can_retry(self, *, request: HttpRequest, **kwargs: Any) -> bool:
        if api_method(request) in NOT_SAFE_TO_REPEAT:
            return False
        return super()._can_retry(request=request, **kwargs)  # type: ignore[misc]


class SafeServerErrorRetryHandler(_SafeToRepeat, ServerErrorRetryHandler):
    pass


class SafeConnectionErrorRetryHandler(_SafeToRepeat, ConnectionErrorRetryHandler):
    pass


class YieldingRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (sleep Retry-After, then again), except for bulk alerts."""

    def _can_retry(self, **kwargs: Any) -> bool:
        return _WAIT_ON_RATE_LIMIT.get() and super()._can_retry(**kwargs)


def make_web_client(settings: Settings, *, timeout: int = 15) -> WebClient:
    """A WebClient with slack_sdk's retry handlers: 429 (honouring Retry-After) for every call
    but bulk alerts', 5xx and dropped connections only for calls that are safe to repeat."""
    return WebClient(
        token=Settings.secret(settings.slack_bot_token) or None,
        base_url=settings.slack_api_url,
        timeout=timeout,
        retry_handlers=[
            SafeConnectionErrorRetryHandler(max_retry_count=3),
            YieldingRateLimitRetryHandler(max_retry_count=5),
            SafeServerErrorRetryHandler(max_retry_count=3),
        ],
    )
