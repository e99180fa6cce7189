"""A local stand-in for the Slack Web API (and for `response_url`s).

It binds to an ephemeral port on 127.0.0.1, records every call, answers the methods slabot
uses with the shapes Slack documents, and can be told to answer 429 (with `Retry-After`) or
5xx, either for the next N calls of a method or at random with a seeded rate.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml

MANIFEST_SCOPES = tuple(
    yaml.safe_load((Path(__file__).resolve().parent.parent / "manifest.yml").read_text())[
        "oauth_config"
    ]["scopes"]["bot"]
)
BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"


@dataclass
class Call:
    method: str  # "chat.postMessage", or "response_url" for posts to a response URL
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int = 200


@dataclass
class Fault:
    status: int
    remaining: int
    retry_after: int = 0
    error: str = "service_unavailable"
    after_doing: bool = False  # do what was asked, then answer with the fault anyway


@dataclass
class FakeSlack:
    users_by_email: dict[str, str] = field(default_factory=dict)
    real_names: dict[str, str] = field(default_factory=dict)  # email → profile real name
    random_fault_rate: float = 0.0
    seed: int = 7
    socket_mode_url: str = ""  # what apps.connections.open hands out
    # channels whose membership matters: id → {"name", "is_private", "is_member"}; any other
    # channel behaves as one the app is in
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the bot token's scopes, named in every answer's `x-oauth-scopes` (default: the manifest's)
    scopes: list[str] = field(default_factory=lambda: list(MANIFEST_SCOPES))

    def __post_init__(self) -> None:
        self.calls: list[Call] = []
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._random = random.Random(self.seed)
        self._server: ThreadingHTTPServer | None = None
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.users_by_id: dict[str, str] = {}
        self.views: list[dict[str, Any]] = []
        self.files: dict[str, dict[str, Any]] = {}  # file id → name, title, bytes, shares
        self._stall_after: int | None = None  # chat.postMessage answers after which to hang
        self._limits: dict[str, tuple[int, float, list[float]]] = {}  # method → (n, window, recent)
        self._channel_gap: float | None = None  # chat.postMessage: seconds between two posts
        self._last_post: dict[str, float] = {}  # channel → when it was last posted to
        self.posted_at: dict[tuple[str, str], float] = {}  # (channel, ts) → time.time()
        self.stall_seconds = 60.0
        self.refusing: str | None = None  # every Web API call answers this error (a token outage)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                fake._handle(self)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, name: str = "1") -> str:
        return f"{self.base}/response/{name}"

    # -- test controls -------------------------------------------------------------------
    def fail(
        self,
        method: str,
        status: int,
        times: int = 1,
        retry_after: int = 0,
        error: str = "",
        after_doing: bool = False,
    ) -> None:
        """Answer the next `times` calls of `method` with `status` (200 with `error`: Slack's
        refusal, such as not_in_channel). `after_doing`: the call takes effect first (a post
        is in the channel) and the answer is the error all the same, as in a Slack 500."""
        fault = Fault(status, times, retry_after, error or "service_unavailable", after_doing)
        with self._lock:
            self._faults.setdefault(method, []).append(fault)

    def limit(self, method: str, per_minute: int, window: float = 60.0) -> None:
        """Rate-limit `method` as Slack does: past `per_minute` calls in the last `window`
        seconds (a minute; a test may compress it), answer 429 with the seconds until a call
        is allowed again in `Retry-After`."""
        with self._lock:
            self._limits[method] = (per_minute, window, [])

    def limit_per_channel(self, per_second: float = 1.0) -> None:
        """Allow `chat.postMessage` `per_second` posts to any one channel (Slack: about one a
        second; a DM is its own channel); a post sooner answers 429 with `Retry-After: 1`."""
        self._channel_gap = 1 / per_second

    def _over_channel_limit(self, body: dict[str, Any]) -> int | None:
        if self._channel_gap is None:
            return None
        channel = str(body.get("channel", ""))
        with self._lock:
            now = time.monotonic()
            if now - self._last_post.get(channel, -math.inf) < self._channel_gap:
                return 1
            self._last_post[channel] = now  # a post the workspace's limit refuses counts too
            return None

    def _over_limit(self, method: str) -> int | None:
        """Seconds to wait if this call is over the method's limit (it is then not counted)."""
        with self._lock:
            if method not in self._limits:
                return None
            per_minute, window, recent = self._limits[method]
            now = time.monotonic()
            recent[:] = [at for at in recent if now - at < window]
            if len(recent) >= per_minute:
                return max(1, math.ceil(window - (now - recent[0])))
            recent.append(now)
            return None

    def stall_post_after(self, answered: int, seconds: float = 60.0) -> None:
        """Record the post after `answered` answered posts, then hang instead of answering: the
        message is in Slack but the sender never hears so (a process killed mid-send)."""
        self._stall_after, self.stall_seconds = answered, seconds

    def posts_in(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for (c, _), m in self.messages.items() if c == channel]

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and c.status == 200]

    # -- the protocol --------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        data = request.rfile.read(length) if length else b""
        if len(data) < length:  # the client died mid-request: a server never acts on half of one
            request.close_connection = True
            return
        path = request.path.split("?", 1)[0]
        if path.startswith("/upload/"):  # the upload URL files.getUploadURLExternal handed out
            self._receive_upload(request, path.removeprefix("/upload/"), data)
            return
        raw = data.decode()
        content_type = request.headers.get("Content-Type", "")
        body: dict[str, Any]
        body = json.loads(raw) if "json" in content_type and raw else dict(parse_qsl(raw))
        method = "response_url" if path.startswith("/response/") else path.removeprefix("/api/")
        headers = {key.lower(): value for key, value in request.headers.items()}
        status, payload, extra = self._answer(method, body, headers)
        with self._lock:
            self.calls.append(Call(method, path, body, headers, status))
            stall = (
                method == "chat.postMessage"
                and status == 200
                and self._stall_after is not None
                and len([c for c in self.calls if c.method == method and c.status == 200])
                > self._stall_after
            )
            if stall:
                self._stall_after = None
        if stall:
            threading.Event().wait(self.stall_seconds)
        data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        for key, value in extra.items():
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _receive_upload(self, request: BaseHTTPRequestHandler, file_id: str, data: bytes) -> None:
        fault = self._fault_for("upload")
        with self._lock:
            known = file_id in self.files
            if known and fault is None:
                self.files[file_id]["content"] = data
            self.calls.append(Call("upload", request.path, {"bytes": len(data)}, {}, 200))
        status = fault.status if fault else (200 if known else 404)
        answer = f"OK - {len(data)}".encode()
        request.send_response(status)
        request.send_header("Content-Type", "text/plain")
        request.send_header("Content-Length", str(len(answer)))
        request.end_headers()
        request.wfile.write(answer)

    def _fault_for(self, method: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(method) or []
            if queue:
                fault = queue[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.pop(0)
                return fault
            if self.random_fault_rate and self._random.random() < self.random_fault_rate:
                return Fault(self._random.choice([429, 503]), 1, retry_after=0)
        return None

    def _answer(
        self, method: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        fault = self._fault_for(method)
        wait = None
        if fault is None and method == "chat.postMessage":
            wait = self._over_channel_limit(body)  # a post refused here is not counted below
        if fault is None and wait is None:
            wait = self._over_limit(method)
        if wait is not None:
            fault = Fault(429, 1, retry_after=wait)
        if fault is not None and fault.after_doing:
            self._answer_plainly(method, body, headers)
            fault = replace(fault, after_doing=False)
        if fault is not None:
            if fault.status == 429:
                return (
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(fault.retry_after)},
                )
            if fault.status == 200:  # Slack's own refusal, e.g. not_in_channel
                return 200, {"ok": False, "error": fault.error}, {}
            return fault.status, {"ok": False, "error": "service_unavailable"}, {}
        return self._answer_plainly(method, body, headers)

    def _answer_plainly(
        self, method: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "response_url":
            return 200, {"ok": True}, {}
        token = headers.get("authorization", "").removeprefix("Bearer ") or body.get("token")
        if method == "apps.connections.open":
            if token != APP_TOKEN:
                return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
            return 200, {"ok": True, "url": self.socket_mode_url}, {}
        if token != BOT_TOKEN:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if self.refusing:  # the workspace refuses the token, whatever the method
            return 200, {"ok": False, "error": self.refusing}, {}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        return 200, handler(body), {"x-oauth-scopes": ",".join(self.scopes)}  # as Slack says

    def _m_auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://test.slack.com/",
            "team": "Test Team",
            "user": "slabot",
            "team_id": "T0TEST",
            "user_id": "U0BOT",
            "bot_id": "B0BOT",
        }

    def _m_chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:
        ts = f"{int(time.time())}.{next(self._ts):06d}"  # like Slack's: now, and unique
        channel = body.get("channel", "")
        if channel.startswith(("U", "W")):  # a user id posts into the DM with the app
            channel = "D" + channel.lstrip("UW")
        known = self.channels.get(channel)
        if known is not None and known["is_private"] and not known["is_member"]:
            return {"ok": False, "error": "channel_not_found"}  # chat:write.public: public only
        message = {"text": body.get("text"), "blocks": _json(body.get("blocks")), "ts": ts}
        if "metadata" in body:
            message["metadata"] = _json(body["metadata"])
        if body.get("thread_ts"):
            message["thread_ts"] = body["thread_ts"]
        with self._lock:
            self.messages[(channel, ts)] = message
            self.posted_at[(channel, ts)] = time.time()
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _m_chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (body.get("channel", ""), body.get("ts", ""))
        with self._lock:
            if key not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            self.messages[key].update(text=body.get("text"), blocks=_json(body.get("blocks")))
        return {"ok": True, "channel": key[0], "ts": key[1], "text": body.get("text")}

    def _m_views_publish(self, body: dict[str, Any]) -> dict[str, Any]:
        view = body.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        return {"ok": True, "view": {"id": "V0HOME", **(view or {})}}

    def _m_views_open(self, body: dict[str, Any]) -> dict[str, Any]:
        view = _json(body.get("view"))
        with self._lock:
            self.views.append(view)
        return {"ok": True, "view": {"id": f"V{len(self.views)}", **(view or {})}}

    def _m_views_update(self, body: dict[str, Any]) -> dict[str, Any]:
        """A modal redrawn in place: `view_id` (and `hash`, which Slack checks) name it."""
        if not body.get("view_id") and not body.get("external_id"):
            return {"ok": False, "error": "invalid_arguments"}
        view = _json(body.get("view"))
        with self._lock:
            self.views.append({**(view or {}), "updated": body.get("view_id")})
        return {"ok": True, "view": {"id": body.get("view_id"), **(view or {})}}

    def _membership_error(self, channel: str) -> dict[str, Any] | None:
        known = self.channels.get(channel)
        if known is None or known["is_member"]:
            return None
        return {
            "ok": False,
            "error": "channel_not_found" if known["is_private"] else "not_in_channel",
        }

    def _m_conversations_info(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = body.get("channel", "")
        known = self.channels.get(
            channel, {"name": channel.lower(), "is_private": False, "is_member": True}
        )
        if known["is_private"] and not known["is_member"]:
            return {"ok": False, "error": "channel_not_found"}  # the app cannot see it
        return {"ok": True, "channel": {"id": channel, "is_channel": True, **known}}

    def _m_conversations_join(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = body.get("channel", "")
        known = self.channels.setdefault(
            channel, {"name": channel.lower(), "is_private": False, "is_member": True}
        )
        if known["is_private"]:
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        already = known["is_member"]
        known["is_member"] = True
        answer = {"ok": True, "channel": {"id": channel, **known}}
        return answer | ({"warning": "already_in_channel"} if already else {})

    def _m_conversations_history(self, body: dict[str, Any]) -> dict[str, Any]:
        """Newest first; `metadata` only with include_all_metadata, as Slack documents."""
        refused = self._membership_error(body.get("channel", ""))
        if refused is not None:
            return refused
        channel, oldest = body.get("channel", ""), float(body.get("oldest") or 0)
        with_metadata = str(body.get("include_all_metadata")).lower() in ("1", "true")
        with self._lock:
            found = [
                {"type": "message", "ts": ts, "text": m.get("text")}
                | ({"metadata": m["metadata"]} if with_metadata and "metadata" in m else {})
                for (c, ts), m in self.messages.items()
                if c == channel and float(ts) > oldest
            ]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        return {"ok": True, "messages": found, "has_more": False}

    def _m_conversations_replies(self, body: dict[str, Any]) -> dict[str, Any]:
        """The parent message, then its thread replies, oldest first."""
        refused = self._membership_error(body.get("channel", ""))
        if refused is not None:
            return refused
        channel, ts = body.get("channel", ""), body.get("ts", "")
        with_metadata = str(body.get("include_all_metadata")).lower() in ("1", "true")
        with self._lock:
            found = [
                {"type": "message", "ts": t, "text": m.get("text"), "files": m.get("files", [])}
                | ({"metadata": m["metadata"]} if with_metadata and "metadata" in m else {})
                for (c, t), m in self.messages.items()
                if c == channel and (t == ts or m.get("thread_ts") == ts)
            ]
        if not found:
            return {"ok": False, "error": "thread_not_found"}
        found.sort(key=lambda m: float(m["ts"]))
        return {"ok": True, "messages": found, "has_more": False}

    def _m_files_getUploadURLExternal(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("filename") or not str(body.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{len(self.files) + 1:08d}"
        with self._lock:
            self.files[file_id] = {
                "name": body["filename"],
                "length": int(body["length"]),
                "alt_txt": body.get("alt_txt"),
                "content": None,
            }
        return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, body: dict[str, Any]) -> dict[str, Any]:
        """Share the uploaded files: a file message in the channel (in a thread with
        thread_ts), as Slack does once the upload is complete."""
        files = _json(body.get("files") or "[]")
        with self._lock:
            known = [f for f in files if self.files.get(f.get("id"), {}).get("content")]
        if not files or len(known) != len(files):
            return {"ok": False, "error": "file_not_found"}
        shared = []
        for spec in files:
            record = self.files[spec["id"]]
            record["title"] = spec.get("title") or record["name"]
            shared.append({"id": spec["id"], "name": record["name"], "title": record["title"]})
        channel = body.get("channel_id")
        if channel:
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            message = {"text": body.get("initial_comment", ""), "ts": ts, "files": shared}
            if body.get("thread_ts"):
                message["thread_ts"] = body["thread_ts"]
            with self._lock:
                self.messages[(channel, ts)] = message
        return {"ok": True, "files": shared}

    def _m_users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        user = body.get("user", "")
        email = next((e for e, u in self.users_by_email.items() if u == user), None)
        if email is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {"id": user, "profile": {"email": email}}}

    def _m_users_list(self, body: dict[str, Any]) -> dict[str, Any]:
        """Paged like Slack: `limit` members a page, `response_metadata.next_cursor` after."""
        members = [
            {
                "id": user_id,
                "deleted": False,
                "is_bot": False,
                "real_name": self.real_names.get(email, ""),
                "profile": {"email": email, "real_name": self.real_names.get(email, "")},
            }
            for email, user_id in sorted(self.users_by_email.items())
        ]
        members.append({"id": "UBOT", "is_bot": True, "profile": {"real_name": "slabot"}})
        start, size = int(body.get("cursor") or 0), int(body.get("limit") or 200)
        following = start + size if start + size < len(members) else ""
        return {
            "ok": True,
            "members": members[start : start + size],
            "response_metadata": {"next_cursor": str(following)},
        }

    def _m_conversations_list(self, body: dict[str, Any]) -> dict[str, Any]:
        """The channels in `channels`, paged like Slack: fewer than `limit` a page (Slack may
        return fewer; here two), `response_metadata.next_cursor` after."""
        listed = [
            {"id": channel_id, "name": info.get("name", ""), "is_channel": True,
             "is_private": bool(info.get("is_private")), "is_member": bool(info.get("is_member")),
             "is_archived": False}
            for channel_id, info in sorted(self.channels.items())
        ]  # fmt: skip
        start = int(body.get("cursor") or 0)
        size = min(2, int(body.get("limit") or 100))
        following = start + size if start + size < len(listed) else ""
        return {
            "ok": True,
            "channels": listed[start : start + size],
            "response_metadata": {"next_cursor": str(following)},
        }

    def _m_users_lookupByEmail(self, body: dict[str, Any]) -> dict[str, Any]:
        user_id = self.users_by_email.get(body.get("email", "").lower())
        if user_id is None:
            return {"ok": False, "error": "users_not_found"}
        return {"ok": True, "user": {"id": user_id, "profile": {"email": body["email"]}}}

    def _m_conversations_open(self, body: dict[str, Any]) -> dict[str, Any]:
        users = body.get("users", "")
        return {"ok": True, "channel": {"id": "D" + users.split(",")[0].lstrip("UW")}}


def _json(value: Any) -> Any:
    """Form-encoded calls carry JSON as strings; JSON calls carry it as it is."""
    return json.loads(value) if isinstance(value, str) else value
