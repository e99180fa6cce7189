"""The one delivery path: every message slabot posts or updates leaves through the outbox.

A sender claims a queued item, resolves who it is for, calls Slack (slack_sdk's retry
handlers absorb 429s and brief 5xx), and records Slack's `ts`. What still fails is tried
again later with backoff, so nothing is lost while Slack is down. Each post carries message
`metadata` with the item's key: an item whose earlier attempt may have reached Slack (the
process died mid-send, or Slack answered 5xx after posting) is looked for in the conversation
before it is sent again, so nothing is sent twice.
"""

from __future__ import annotations

import base64
import functools
import logging
import threading
import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from bot.intake.errors import CrmError
from bot.intake.write_back import CrmWriter
from bot.slack.channels import join_channel
from bot.slack.client import rate_limits_not_waited
from bot.slack.directory import user_ids
from storage import outbox, pauses, people
from storage.pauses import SLACK

log = logging.getLogger(__name__)
EVENT_TYPE = "slabot_message"
# Slack errors worth another try; any other error Slack answers (users_not_found,
# channel_not_found, invalid_blocks…) cannot be fixed by trying again: failed, and logged
TRANSIENT = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}
# Slack refusing the bot token itself: every message would meet the same answer. Delivery
# pauses (nothing is failed) until Slack accepts the token again.
WORKSPACE_REFUSALS = (
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
    "org_login_required", "ekm_access_denied", "team_access_not_granted",
)  # fmt: skip
# Slack refusing one recipient: that recipient's messages fail, `slabot status` lists them
RECIPIENT_REFUSALS = (
    "user_not_found", "users_not_found", "cannot_dm_bot", "is_archived", "channel_not_found",
    "user_disabled",
)  # fmt: skip


# after Slack's Retry-After on an alert, alerts wait this much longer than a digest does
ALERTS_YIELD = timedelta(seconds=3)
# a fold is a chat.update (Tier 3: 50+ a minute); folds take at most 40 of them, leaving the
# rest to people's button redraws
FOLDS_PER_MINUTE = 40


class Unresolved(Exception):
    """The item cannot be addressed yet (its target message is not sent yet)."""


class Blocked(Exception):
    """A person must act first (invite the app to a private channel); tried again later."""


class Undeliverable(Exception):
    """The item can never be delivered (Slack refused it for good, or its target is gone)."""


class Superseded(Exception):
    """A newer text for the same message is sent or on its way: this one would undo it."""


@dataclass
class DeliveryReport:
    sent: int = 0
    found_already_sent: int = 0
    retrying: int = 0
    failed: int = 0
    superseded: int = 0
    errors: list[str] = field(default_factory=list)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Sender:
    """Delivers the outbox. Safe to run in several processes at once: an item is claimed by
    one of them before any Slack call."""

    def __init__(
        self,
        engine: Engine,
        client: WebClient,
        *,
        lease: timedelta,
        retry_base: timedelta = timedelta(seconds=30),
        workers: int = 8,
        crm: CrmWriter | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.crm = crm  # writes Slack's actions back to the CRM (items of kind "crm")
        self.lease = lease
        self.retry_base = retry_base
        self.stopping = threading.Event()  # set: finish the batch in hand, take no more
        self.workers = workers  # messages to different people go out side by side
        self._lock = threading.Lock()
        # Slack answered an alert 429: no alert starts before then, so the first call Slack
        # allows again goes to a digest or a redraw (they wait out Slack's Retry-After exactly)
        self._alerts_held_until = datetime.min.replace(tzinfo=UTC)

    # -- the loop ----------------------------------------------------------------------------
    def deliver(
        self,
        *,
        wait_up_to: timedelta = timedelta(0),
        only: Collection[int] | None = None,
        alerts_per_minute: int | None = None,
    ) -> DeliveryReport:
        """Send what is due (`only`: just these items), digests and redraws before alerts;
        keep going while retries fall due within `wait_up_to`. With `alerts_per_minute`, stop
        taking alerts once that many were started in the last minute by any sender: the rest
        wait for the next round, and Slack's rate limit keeps room for the digests."""
        report = DeliveryReport()
        deadline = utcnow() + wait_up_to
        with ThreadPoolExecutor(self.workers, thread_name_prefix="slabot-send") as pool:
            while not self.stopping.is_set():
                if self._held():
                    return report  # Slack refuses the token: all stays queued
                with self.engine.begin() as connection:
                    if only is None:  # the whole outbox's round; a redraw sends just its own
                        outbox.release_abandoned(connection, older_than=utcnow() - self.lease)
                    items = outbox.due_items(connection, now=utcnow(), only=only)
                    claimed: set[int] = set()
                    if alerts_per_minute is not None:
                        room = 0 if utcnow() < self._alerts_held_until else alerts_per_minute
                        items, claimed = _paced(connection, items, room)
                if items:
                    self._look_up(items)
                    send = functools.partial(self._deliver_one, report=report, claimed=claimed)
                    list(pool.map(send, items))
                    continue
                if alerts_per_minute is not None:
                    return report  # what is left goes out in the next round
                with self.engine.connect() as connection:
                    upcoming = outbox.next_attempt(connection, only)
                if upcoming is None or upcoming > deadline:
                    return report
                time.sleep(max(0.0, (upcoming - utcnow()).total_seconds()) + 0.01)
        return report

    def deliver_item(self, item_id: int) -> DeliveryReport:
        """Send one queued item now (an interaction's redraw); the clock retries it if Slack
        does not take it."""
        return self.deliver(only=[item_id])

    def _look_up(self, items: list[outbox.Item]) -> None:
        """One look-up round for the people these items go to whom slabot has never seen: a
        `users.list` walk for all of them, not a Tier 3 `users.lookupByEmail` each."""
        new = {
            item.audience
            for item in items
            if item.kind in outbox.PERSON_KINDS and item.channel is None and item.update_of is None
        }
        if new:
            user_ids(self.engine, self.client, new)

    def _deliver_one(
        self, item: outbox.Item, report: DeliveryReport, claimed: Collection[int] = ()
    ) -> None:
        """Claim the item (unless the pace already did), send it and record the answer."""
        if item.id not in claimed:
            with self.engine.begin() as connection:
                if not outbox.claim(connection, item.id, now=utcnow()):
                    return  # another sender has it
        attempts = item.attempts + 1
        alert = item.kind in outbox.ALERT_KINDS
        try:
            with rate_limits_not_waited() if alert else nullcontext():
                channel, ts, found = self._send(item, attempts)
        except Unresolved as error:
            self._retry(item, attempts, str(error), report, wait=timedelta(seconds=1))
            return
        except Undeliverable as error:
            self._fail(item, str(error), report)
            return
        except Superseded as error:
            with self.engine.begin() as connection:
                outbox.mark_superseded(connection, item.id, reason=str(error))
            with self._lock:
                report.superseded += 1
            return
        except Blocked as error:
            self._retry(item, attempts, str(error), report)
            return
        except SlackApiError as error:
            code = str(error.response.get("error", ""))
            if error.response.status_code == 429:
                wait = _retry_after(error)
                if alert:
                    with self._lock:
                        until = utcnow() + wait + ALERTS_YIELD
                        self._alerts_held_until = max(self._alerts_held_until, until)
                self._retry(item, attempts, "ratelimited", report, wait=wait, reached_slack=False)
            elif code in WORKSPACE_REFUSALS:
                pause_delivery(self.engine, code)
                self._retry(item, attempts, code, report, wait=self.retry_base)
            elif error.response.status_code == 200 and code not in TRANSIENT:
                self._fail(item, code, report)
            else:
                self._retry(item, attempts, code or f"HTTP {error.response.status_code}", report)
            return
        except (SlackClientError, OSError) as error:
            self._retry(item, attempts, f"{type(error).__name__}: {error}", report)
            return
        except CrmError as error:
            if not error.transient:
                self._fail(item, str(error), report)
            else:
                after = timedelta(seconds=error.retry_after) if error.retry_after else None
                self._retry(item, attempts, str(error), report, at_least=after)
            return
        with self.engine.begin() as connection:
            outbox.mark_sent(connection, item.id, channel=channel, ts=ts, now=utcnow())
        with self._lock:
            if found:
                report.found_already_sent += 1
            else:
                report.sent += 1

    # -- a workspace-wide refusal: see pause_delivery ----------------------------------------
    def _held(self) -> bool:
        """Whether delivery is paused: while it is, Slack is asked (auth.test) at most once a
        retry interval whether it accepts the token again, and the pause ends when it does."""
        with self.engine.connect() as connection:
            pause = pauses.paused(connection, SLACK)
        if pause is None:
            return False
        if utcnow() - pause.checked_at < self.retry_base:
            return True
        try:
            self.client.auth_test()
        except SlackApiError as error:
            code = str(error.response.get("error", "")) or pause.reason
            with self.engine.begin() as connection:
                pauses.checked(connection, SLACK, reason=code, now=utcnow())
            return True
        except (SlackClientError, OSError):
            with self.engine.begin() as connection:
                pauses.checked(connection, SLACK, reason=pause.reason, now=utcnow())
            return True
        with self.engine.begin() as connection:
            pauses.resume(connection, SLACK)
            held = pauses.release_held(connection, WORKSPACE_REFUSALS, now=utcnow())
        log.warning(
            "Slack accepts the bot token again: delivery resumes (%s messages held back)", held
        )
        return False

    def _fail(self, item: outbox.Item, error: str, report: DeliveryReport) -> None:
        with self.engine.begin() as connection:
            outbox.mark_failed(connection, item.id, error=error)
        log.error("outbox %s (%s) failed for good: %s", item.id, item.key, error)
        with self._lock:
            report.failed += 1
            report.errors.append(f"{item.key}: {error}")

    def _retry(
        self,
        item: outbox.Item,
        attempts: int,
        error: str,
        report: DeliveryReport,
        *,
        wait: timedelta | None = None,
        at_least: timedelta | None = None,
        reached_slack: bool = True,
    ) -> None:
        """Try again after `wait` (by default the backoff for this many attempts, at least
        `at_least`)."""
        wait = wait or outbox.backoff(attempts, base=self.retry_base)
        wait = max(wait, at_least or wait)
        with self.engine.begin() as connection:
            outbox.retry_later(
                connection,
                item.id,
                at=utcnow() + wait,
                error=error,
                reached_slack=reached_slack,
            )
        log.warning("outbox %s (%s): %s; trying again in %s", item.id, item.key, error, wait)
        with self._lock:
            report.retrying += 1

    # -- one Slack call ----------------------------------------------------------------------
    def _send(self, item: outbox.Item, attempts: int) -> tuple[str, str, bool]:
        """(channel, ts, found): post, update or upload, or find that an earlier attempt did."""
        payload = item.payload
        if item.kind == outbox.Kind.CRM:
            if self.crm is None:
                raise Blocked("no CRM is configured in this process: set its credentials")
            record, found = self.crm.write(item.id, payload, attempts=attempts)
            return str(payload["crm"]), record, found
        if item.kind == outbox.Kind.CHART:
            return self._upload(item, attempts)
        if item.kind == outbox.Kind.REPLY:
            return self._reply(item, attempts)
        if item.update_of is not None:
            with self.engine.connect() as connection:
                if outbox.newer_text_exists(connection, item):
                    raise Superseded("a newer text for the same message replaced it")
            channel, ts = self._target(item)
            self.client.chat_update(
                channel=channel, ts=ts, text=payload["text"], blocks=payload.get("blocks")
            )
            return channel, ts, False
        channel = item.channel or self._address(item, open_dm=attempts > 1)
        if attempts > 1:
            posted = self._already_posted(item, channel)
            if posted is not None:
                return (*posted, True)
            if item.kind in outbox.DM_KINDS:  # a newer list says all this one said
                with self.engine.connect() as connection:
                    if outbox.newer_list_exists(connection, item):
                        raise Superseded("a newer list for the same person replaced it")
        response = self.client.chat_postMessage(
            channel=channel,
            text=payload["text"],
            blocks=payload.get("blocks"),
            metadata={"event_type": EVENT_TYPE, "event_payload": {"key": item.key}},
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(response["channel"]), str(response["ts"]), False

    def _target(self, item: outbox.Item) -> tuple[str, str]:
        """(channel, ts) of the sent message an update or a chart refers to."""
        with self.engine.connect() as connection:
            target = outbox.item(connection, item.update_of)  # type: ignore[arg-type]
        if target is None or target.status == "failed":
            raise Undeliverable(f"the message it belongs to (item {item.update_of}) was never sent")
        if target.ts is None or target.channel is None:
            raise Unresolved(f"waiting for item {target.id} to be sent")
        return target.channel, target.ts

    def _upload(self, item: outbox.Item, attempts: int) -> tuple[str, str, bool]:
        """Attach a PNG in the thread of the message it belongs to (files_upload_v2: get an
        upload URL, send the bytes, complete the upload into the thread)."""
        channel, ts = self._target(item)
        payload = item.payload
        if attempts > 1 and self._already_uploaded(channel, ts, payload["filename"]):
            return channel, ts, True
        self.client.files_upload_v2(
            channel=channel,
            thread_ts=ts,
            content=base64.b64decode(payload["png_base64"]),
            filename=payload["filename"],
            title=payload["title"],
            alt_txt=payload.get("alt_txt"),
        )
        return channel, ts, False

    def _reply(self, item: outbox.Item, attempts: int) -> tuple[str, str, bool]:
        """Post in the thread of the message it belongs to; a retry first looks in the
        thread for the earlier attempt (its key is in the reply's metadata)."""
        channel, ts = self._target(item)
        if attempts > 1:
            replies = self._read(
                channel,
                functools.partial(
                    self.client.conversations_replies,
                    channel=channel,
                    ts=ts,
                    include_all_metadata=True,
                    limit=200,
                ),
            )
            for message in replies.get("messages", []):
                metadata = message.get("metadata") or {}
                if (metadata.get("event_payload") or {}).get("key") == item.key:
                    return channel, str(message["ts"]), True
        response = self.client.chat_postMessage(
            channel=channel,
            thread_ts=ts,
            text=item.payload["text"],
            blocks=item.payload.get("blocks"),
            metadata={"event_type": EVENT_TYPE, "event_payload": {"key": item.key}},
        )
        return str(response["channel"]), str(response["ts"]), False

    def _already_uploaded(self, channel: str, ts: str, filename: str) -> bool:
        replies = self._read(
            channel,
            functools.partial(self.client.conversations_replies, channel=channel, ts=ts, limit=200),
        )
        return any(
            file.get("name") == filename
            for message in replies.get("messages", [])
            for file in message.get("files") or []
        )

    def _address(self, item: outbox.Item, *, open_dm: bool) -> str:
        """Where to post: the channel, or for a DM the user (Slack answers with the DM's
        channel). A retry opens the DM first, to look there for the earlier attempt."""
        if item.kind not in outbox.PERSON_KINDS:
            return item.audience
        user_id = resolve_user(self.engine, self.client, item.audience)
        if not open_dm:
            return user_id
        channel = str(self.client.conversations_open(users=user_id)["channel"]["id"])
        with self.engine.begin() as connection:
            outbox.set_channel(connection, item.id, channel)
        return channel

    def _read(self, channel: str, call):
        """A read of the conversation's messages, which needs membership (posting does not, with
        chat:write.public): on `not_in_channel` the app joins the public channel and reads."""
        try:
            return call()
        except SlackApiError as error:
            if error.response.get("error") != "not_in_channel":
                raise
            state = join_channel(self.client, channel)
            if not state.member:
                raise Blocked(f"cannot look in {state.line}") from error
            return call()

    def _already_posted(self, item: outbox.Item, channel: str) -> tuple[str, str] | None:
        """Look in the conversation for a message carrying this item's key."""
        oldest = (item.created_at - timedelta(minutes=1)).timestamp()
        cursor = None
        while True:
            page = self._read(
                channel,
                functools.partial(
                    self.client.conversations_history,
                    channel=channel,
                    oldest=f"{oldest:.6f}",
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                ),
            )
            for message in page.get("messages", []):
                metadata = message.get("metadata") or {}
                if (metadata.get("event_payload") or {}).get("key") == item.key:
                    return channel, str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None


def _retry_after(error: SlackApiError) -> timedelta:
    """How long Slack asked to wait (its Retry-After header; a second if it did not say)."""
    headers = {name.lower(): value for name, value in (error.response.headers or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return timedelta(seconds=max(1, int(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return timedelta(seconds=1)


def _paced(
    connection: Connection, items: list[outbox.Item], per_minute: int
) -> tuple[list[outbox.Item], set[int]]:
    """Every digest, chart and redraw, and as many alerts as this minute has room for (new
    messages up to `per_minute`, folds, a Tier 3 update each, up to FOLDS_PER_MINUTE), those
    claimed here under the pace lock so that another clock counts them at once."""
    posts, folds = outbox.alerts_sent_since(connection, utcnow() - timedelta(minutes=1))
    first = [item for item in items if item.kind not in outbox.ALERT_KINDS]
    room = {False: per_minute - posts, True: min(per_minute, FOLDS_PER_MINUTE) - folds}
    alerts = []
    for item in items:
        fold = item.kind == outbox.Kind.FOLD
        if item.kind in outbox.ALERT_KINDS and room[fold] > 0:
            alerts.append(item)
            room[fold] -= 1
    claimed = {item.id for item in alerts if outbox.claim(connection, item.id, now=utcnow())}
    return first + [item for item in alerts if item.id in claimed], claimed


def pause_delivery(engine: Engine, reason: str) -> None:
    """Stop sending to Slack, saying why once (a refused or revoked token, an uninstall): what
    is queued stays queued, and sending resumes once Slack accepts the bot token again."""
    with engine.begin() as connection:
        first = pauses.pause(connection, SLACK, reason=reason, now=utcnow())
    if first:
        log.error(
            "Slack refuses the bot token (%s): delivery is paused and nothing is lost; it "
            "resumes by itself once Slack accepts the token (check SLACK_BOT_TOKEN, or "
            "reinstall the app)",
            reason,
        )


def resolve_user(engine: Engine, client: WebClient, email: str) -> str:
    """A person's Slack user id as kept (the agreement's, an earlier answer, `users.list`'s),
    else `users.lookupByEmail` (once; the answer is kept)."""
    with engine.connect() as connection:
        kept = people.user_ids(connection, [email])
    if kept:
        return next(iter(kept.values()))
    user_id = str(client.users_lookupByEmail(email=email)["user"]["id"])
    with engine.begin() as connection:
        outbox.cache_user(connection, email=email, user_id=user_id, now=utcnow())
    return user_id
