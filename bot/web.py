"""The web process: Bolt over HTTP, the health check and the signed ingest webhooks."""

from __future__ import annotations

import functools
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote

from flask import Flask, Request, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy.engine import Engine

from bot.intake import webhooks
from bot.intake.connector import SignedRequest
from bot.intake.registry import CONNECTORS
from bot.intake.values import clean
from bot.metrics import registry
from bot.settings import Settings
from storage import clock as clock_store
from storage import pauses
from storage.outages import outage_reason, unreachable

SLACK_PATH = "/slack/events"
MAX_SLACK_BYTES = 1024 * 1024  # Slack's own payloads are a few KB; a modal's state well under this
MAX_WEBHOOK_BYTES = 5 * 1024 * 1024
DATABASE_DOWN = "slabot can't reach its database — try again in a minute"
HEALTH_SECONDS = 3  # a health check answers within this, whatever the database does
log = logging.getLogger(__name__)


class WebApp:
    """WSGI entry point. Slack's requests go straight to Bolt's WSGI adapter (they are the hot
    path); everything else is a small Flask app."""

    def __init__(self, bolt_app: App, engine: Engine, settings: Settings) -> None:
        self.slack = SlackRequestHandler(bolt_app, path=SLACK_PATH)
        self.flask = _flask_app(engine, settings)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        slack = path == SLACK_PATH
        refusal = _bounded(environ, MAX_SLACK_BYTES if slack else MAX_WEBHOOK_BYTES)
        if (
            refusal is None
            and slack
            and not _digits(environ, "HTTP_X_SLACK_REQUEST_TIMESTAMP")
            and not _ssl_check(environ)
        ):
            refusal = (401, "bad or missing X-Slack-Request-Timestamp")
        if refusal is not None:
            status, reason = refusal
            # one line, no body; the path and method quoted so they cannot forge log lines
            log.warning(
                "refused %r %r (%s bytes): %s",
                environ.get("REQUEST_METHOD", ""),
                path[:200],
                environ.get("CONTENT_LENGTH") or "?",
                reason,
            )
            body = json.dumps({"ok": False, "error": reason}).encode()
            start_response(
                f"{status} {'Payload Too Large' if status == 413 else 'Unauthorized'}",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        if slack:
            return self.slack(environ, start_response)
        return self.flask(environ, start_response)


class _HealthProbe:
    """The database's answer for `/healthz`, within HEALTH_SECONDS whatever the database does.
    Probes asking at once share one look, on a thread of the probe's own (a hung database holds
    that thread, never the server's); while a look is overdue, the answer is at once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="slabot-health")
        self.lock = threading.Lock()
        self.running: tuple[Future, float] | None = None

    def look(self) -> tuple[tuple[str, int, datetime] | None, pauses.Pause | None]:
        """(the clock's last beat, Slack's pause); FutureTimeout when the database is late."""
        with self.lock:
            if self.running is None or self.running[0].done():
                self.running = (self.pool.submit(self._read), time.monotonic())
            future, started = self.running
        return future.result(timeout=max(0.0, started + HEALTH_SECONDS - time.monotonic()))

    def _read(self) -> tuple[tuple[str, int, datetime] | None, pauses.Pause | None]:
        with self.engine.connect() as connection:
            return clock_store.last_beat(connection), pauses.paused(connection, pauses.SLACK)


def _digits(environ: dict[str, Any], key: str) -> bool:
    value = environ.get(key, "")
    return value.isascii() and value.isdigit() and len(value) < 20


def _ssl_check(environ: dict[str, Any]) -> bool:
    """Slack's certificate check: a form with `ssl_check=1` that Slack sends unsigned (no
    timestamp, no signature). Bolt answers it, doing nothing else."""
    if "application/x-www-form-urlencoded" not in environ.get("CONTENT_TYPE", ""):
        return False
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    environ["wsgi.input"] = io.BytesIO(body)
    return parse_qs(body.decode("latin-1")).get("ssl_check") == ["1"]


def _bounded(environ: dict[str, Any], limit: int) -> tuple[int, str] | None:
    """Refuse a body over `limit` before reading it (by its Content-Length); a body without
    one is read up to the limit and no further."""
    declared = environ.get("CONTENT_LENGTH") or ""
    if declared:
        if not declared.isdigit():
            return 413, "a Content-Length that is not a number"
        if int(declared) > limit:
            return 413, f"the body is over {limit // 1024:,} KB"
        return None
    if environ.get("REQUEST_METHOD") in ("POST", "PUT", "PATCH"):
        body = environ["wsgi.input"].read(limit + 1)
        if len(body) > limit:
            return 413, f"the body is over {limit // 1024:,} KB"
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    return None


def _error(status: int, message: str):
    return jsonify(ok=False, error=message), status


def _json_body(req: Request) -> object:
    """Strict JSON: Python's extensions (NaN, Infinity) are refused, as JSON and PostgreSQL
    refuse them; NUL and lone surrogates are cleaned out of every string where they enter."""
    try:
        return clean(json.loads(req.get_data(), parse_constant=_not_json))
    except (UnicodeDecodeError, ValueError) as error:
        raise webhooks.PayloadRejected(f"the body is not JSON ({error})") from error


def _not_json(constant: str) -> object:
    raise ValueError(f"{constant} is not a JSON value")


def _applied(result: webhooks.WebhookResult):
    """What was applied; a per-event feed (HubSpot) also says what it set aside and why."""
    counts = result.leads
    leads = {"inserted": counts.inserted, "updated": counts.updated, "unchanged": counts.unchanged}
    answer: dict[str, Any] = {"ok": True, "leads": leads, "touches": result.touches}
    if result.per_event:
        answer |= {
            "rejected": result.rejected,
            "ignored": result.ignored,
            "unowned": result.unowned,
            "unmatched": result.unmatched,
        }
    return jsonify(answer)


def _public_uri(req: Request) -> str:
    """The URL HubSpot called, as it was sent: the raw path and query, undecoded (behind a
    proxy, X-Forwarded-Proto/Host give the scheme and host)."""
    proto = req.headers.get("X-Forwarded-Proto", req.scheme).split(",")[0].strip()
    host = req.headers.get("X-Forwarded-Host", req.host).split(",")[0].strip()
    raw = req.environ.get("RAW_URI") or req.environ.get("REQUEST_URI")
    if not raw:
        query = req.query_string.decode("latin-1")
        raw = quote(req.path, safe="/") + (f"?{query}" if query else "")
    return f"{proto}://{host}{raw}"


def _flask_app(engine: Engine, settings: Settings) -> Flask:
    web = Flask("slabot")
    web.config["MAX_CONTENT_LENGTH"] = MAX_WEBHOOK_BYTES
    health = _HealthProbe(engine)

    @web.get("/healthz")
    def healthz():
        """The database answers, the active clock beat within its last three beats (no clock
        yet is not an error: the web process may start first), and Slack accepts the bot token
        (a refused token pauses delivery: 503, with Slack's reason)."""

        try:  # bounded: a database that does not answer is unhealthy, not a hung probe
            beat, pause = health.look()
        except FutureTimeout:
            return jsonify(ok=False, database=f"no answer within {HEALTH_SECONDS} s"), 503
        except Exception as error:  # any database failure means "not healthy"
            return jsonify(ok=False, database=type(error).__name__), 503
        slack = (
            {"paused": pause.reason, "since": pause.since.isoformat()} if pause else {"ok": True}
        )
        clock = None
        silent = False
        if beat is not None:
            holder, every_s, at = beat
            age = (datetime.now(UTC) - at).total_seconds()
            silent = age > 3 * every_s
            clock = {"holder": holder, "last_beat": at.isoformat(), "seconds_ago": round(age, 1)}
        ok = not silent and pause is None
        answer = jsonify(ok=ok, database="ok", clock=clock, slack=slack)
        return answer, 200 if ok else 503

    metrics = registry(engine)

    @web.get("/metrics")
    def prometheus():
        try:
            body = generate_latest(metrics)
        except Exception as error:
            if not unreachable(error):
                raise
            return _error(503, DATABASE_DOWN)
        return body, 200, {"Content-Type": CONTENT_TYPE_LATEST}

    def webhook(
        secret: str,
        setting: str,
        verify: Callable[[str, bytes], bool],
        apply: Callable[[Engine, object], webhooks.WebhookResult],
        refusal: str,
    ):
        """Verify, then apply whole or refuse: 503 unconfigured or the database unreachable,
        401 unsigned, 400 bad body."""
        if not secret:
            return _error(503, f"this webhook is off: set {setting}")
        body = request.get_data()
        if not verify(secret, body):
            return _error(401, refusal)
        try:
            return _applied(apply(engine, _json_body(request)))
        except webhooks.PayloadRejected as error:
            return _error(400, str(error))
        except Exception as error:
            if not unreachable(error):
                raise
            log.warning(
                "webhook %s answered 503: database unreachable (%s)",
                request.path,
                outage_reason(error),
            )
            answer, status = _error(503, DATABASE_DOWN)
            answer.headers["Retry-After"] = "60"  # nothing was applied: send it again
            return answer, status

    @web.post("/webhooks/leads")
    def leads_webhook():
        return webhook(
            Settings.secret(settings.webhook_secret),
            "SLABOT_WEBHOOK_SECRET",
            lambda secret, body: webhooks.slabot_signature_valid(
                secret,
                timestamp=request.headers.get("X-Slabot-Request-Timestamp", ""),
                body=body,
                signature=request.headers.get("X-Slabot-Signature", ""),
            ),
            webhooks.apply_native,
            "bad or missing signature, or a timestamp over 5 minutes old",
        )

    def crm_webhook(name: str):
        hook = CONNECTORS[name].webhook
        assert hook is not None

        def signed(secret: str, body: bytes) -> bool:
            headers = {name.lower(): value for name, value in request.headers.items()}
            signed_request = SignedRequest(request.method, _public_uri(request), headers, body)
            return hook.verify(secret, signed_request)

        return webhook(hook.secret(settings), hook.setting, signed, hook.apply, hook.refusal)

    for crm in CONNECTORS.values():
        if crm.webhook is not None:
            web.add_url_rule(
                f"/webhooks/{crm.name}",
                endpoint=f"{crm.name}_webhook",
                view_func=functools.partial(crm_webhook, crm.name),
                methods=["POST"],
            )

    @web.errorhandler(413)
    def too_large(_error_):
        return _error(413, f"the body is over {MAX_WEBHOOK_BYTES // 1024 // 1024} MB")

    return web


def create_web_app(bolt_app: App, engine: Engine, settings: Settings) -> WebApp:
    return WebApp(bolt_app, engine, settings)
