"""Local stand-ins for HubSpot's and Salesforce's REST APIs, speaking their documented request
and response shapes: HubSpot's CRM search (filterGroups, sorts, `after` paging, the 10,000
result window), owners, notes with associations (v4 association reads, batch reads) and
contact updates; Salesforce's OAuth token endpoint (username-password and JWT bearer flows),
SOQL query with `nextRecordsUrl` paging, sObject create and update, over HTTPS as the real one
(simple-salesforce speaks nothing else). Both record every call and can answer a queued
fault (429 with Retry-After, 5xx, an expired session), before or after doing the work.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import ipaddress
import itertools
import json
import re
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

UTC = dt.UTC


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class Fault:
    match: str  # a substring of "METHOD /path"
    status: int
    times: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    after_doing: bool = False
    skip: int = 0  # let this many matching calls through first


def iso_ms(at: dt.datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


class _Stand:
    """The HTTP plumbing both stand-ins share: routing, call records, faults."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self.scheme = "http"
        self.served_seconds = 0.0  # time spent answering (the sync benchmark's floor)
        self.latency = 0.0  # seconds every answer waits first (a round trip from afar)
        self.in_flight = 0  # calls being answered now, and the most at once
        self.most_in_flight = 0
        self._stall: tuple[str, int] | None = None
        self.released = threading.Event()

    def stall(self, match: str, *, after: int) -> None:
        """Let `after` calls matching `match` through, then hold the rest until `released`."""
        self._stall = (match, after)

    def start(self, context: ssl.SSLContext | None = None):  # type: ignore[no-untyped-def]
        stand = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                stand._handle(self)

            do_GET = do_POST = do_PATCH = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if context is not None:
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def fail(
        self,
        match: str,
        status: int,
        *,
        times: int = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
        after_doing: bool = False,
        skip: int = 0,
    ) -> None:
        with self.lock:
            self.faults.append(
                Fault(
                    match,
                    status,
                    times,
                    body,
                    headers or {},
                    after_doing,
                    len(self.calls_to(match)) + skip,
                )
            )

    def calls_to(self, match: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if match in f"{c.method} {c.path}"]

    def _fault(self, line: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if (
                    fault.times > 0
                    and fault.match in line
                    and len(self.calls_to(fault.match)) > fault.skip
                ):
                    fault.times -= 1
                    return fault
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        started = dt.datetime.now(UTC)
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self._answer(handler, started)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _answer(self, handler: BaseHTTPRequestHandler, started: dt.datetime) -> None:
        limited = self.rate_limit()  # counted as the call arrives; a refused call does nothing
        if self.latency:  # the network and the vendor's own time, as a far client sees them
            time.sleep(self.latency)
        parsed = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        kind = handler.headers.get("Content-Type", "")
        if "json" in kind and raw:
            body: Any = json.loads(raw)
        elif raw:
            body = dict(urllib.parse.parse_qsl(raw.decode()))
        else:
            body = None
        call = Call(handler.command, parsed.path, urllib.parse.parse_qs(parsed.query), body)
        with self.lock:
            self.calls.append(call)
        line = f"{handler.command} {parsed.path}"
        if self._stall is not None and self._stall[0] in line:
            with self.lock:
                held = len(self.calls_to(self._stall[0])) > self._stall[1]
            if held:
                self.released.wait(60)
        fault = self._fault(line)
        if limited is not None and limited[1]:
            status, answer = 429, HUBSPOT_RATE_LIMIT | {"policyName": "TEN_SECONDLY_ROLLING"}
            headers = {}
        elif fault is not None and not fault.after_doing:
            status, answer, headers = fault.status, fault.body, fault.headers
        else:
            status, answer = self.route(handler, call)
            headers = {}
            if fault is not None:
                status, answer, headers = fault.status, fault.body, fault.headers
        if limited is not None:
            headers = {**headers, **limited[0]}
        payload = b"" if answer is None else json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json;charset=UTF-8")
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)
        with self.lock:
            self.served_seconds += (dt.datetime.now(UTC) - started).total_seconds()

    def route(self, handler: BaseHTTPRequestHandler, call: Call) -> tuple[int, Any]:
        raise NotImplementedError

    def rate_limit(self) -> tuple[dict[str, str], bool] | None:
        """(the rate-limit headers to send, whether this call is refused); None: no limit."""
        return None


# -- HubSpot -------------------------------------------------------------------------------
ASSOCIATION = {"notes": 202, "calls": 194}  # HUBSPOT_DEFINED types: engagement → contact
HUBSPOT_RATE_LIMIT = {
    "status": "error",
    "message": "You have reached your secondly limit.",
    "errorType": "RATE_LIMIT",
    "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24",
    "policyName": "SECONDLY",
}


class FakeHubSpot(_Stand):
    def __init__(self, token: str = "pat-na1-test") -> None:
        super().__init__()
        self.token = token
        self.contacts: dict[str, dict[str, str]] = {}  # id → properties
        self.owners: list[dict[str, Any]] = []
        # kind (notes, calls) → id → {"properties", "contact"}
        self.engagements: dict[str, dict[str, dict[str, Any]]] = {"notes": {}, "calls": {}}
        # hs_lead_status's options as a real portal answers them (value → label)
        self.lead_statuses = {
            "NEW": "New", "OPEN": "Open", "IN_PROGRESS": "In Progress", "OPEN_DEAL": "Open Deal",
            "UNQUALIFIED": "Unqualified", "ATTEMPTED_TO_CONTACT": "Attempted to Contact",
            "CONNECTED": "Connected", "BAD_TIMING": "Bad Timing",
        }  # fmt: skip
        self._ids = itertools.count(51)
        self._order: list[tuple[str, dict[str, str]]] | None = None  # by lastmodifieddate
        self._order_keys: list[str] | None = None
        self.rate: tuple[int, int] | None = None  # (calls, per milliseconds)
        self.window: list[float] = []  # monotonic times of the calls in the current window
        self.refused = 0  # calls answered 429 by the rate limit

    # -- test controls
    def add_owner(
        self, owner_id: str, email: str, first: str = "", last: str = "", archived: bool = False
    ) -> None:
        self.owners.append(
            {"id": owner_id, "email": email, "type": "PERSON", "firstName": first,
             "lastName": last, "userId": int(owner_id) + 1000, "userIdIncludingInactive":
             int(owner_id) + 1000, "createdAt": "2025-01-10T15:00:00.000Z",
             "updatedAt": "2025-01-10T15:00:00.000Z", "archived": archived}
        )  # fmt: skip

    def limit_rate(self, calls: int, *, per_ms: int) -> None:
        """Enforce a rate limit as HubSpot does: `calls` per window of `per_ms`, answered with
        the X-HubSpot-RateLimit-* headers, and a 429 without Retry-After past it."""
        with self.lock:
            self.rate = (calls, per_ms)
            self.window = []

    def _ordered(self) -> list[tuple[str, dict[str, str]]]:
        with self.lock:
            if self._order is None:
                self._order = sorted(
                    self.contacts.items(), key=lambda i: (i[1]["lastmodifieddate"], int(i[0]))
                )
            return self._order

    def _keys(self, rows: list[tuple[str, dict[str, str]]]) -> list[str]:
        with self.lock:
            if self._order_keys is None or len(self._order_keys) != len(rows):
                self._order_keys = [c["lastmodifieddate"] for _, c in rows]
            return self._order_keys

    def upsert_contact(self, contact_id: str, at: dt.datetime | None = None, **props: str) -> None:
        """Create or change a contact, as a rep or a workflow would: lastmodifieddate moves."""
        with self.lock:
            self._order = self._order_keys = None
            now = at or dt.datetime.now(UTC)
            contact = self.contacts.setdefault(
                contact_id, {"hs_object_id": contact_id, "createdate": iso_ms(now)}
            )
            contact.update(props)
            contact["lastmodifieddate"] = iso_ms(now)

    def log_call(self, contact_id: str, at: dt.datetime) -> None:
        """A call logged on the contact: HubSpot sets Last Contacted and touches the record."""
        self.upsert_contact(contact_id, notes_last_contacted=iso_ms(at))

    # -- the API
    def route(self, handler: BaseHTTPRequestHandler, call: Call) -> tuple[int, Any]:
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {
                "status": "error",
                "message": "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "correlationId": "4d9b1e2e-2f3c-4a2e-9d7c-0a1b2c3d4e5f",
                "category": "INVALID_AUTHENTICATION",
            }
        path, method = call.path, call.method
        if method == "POST" and path == "/crm/v3/objects/contacts/search":
            return self._search(call.body or {})
        if method == "GET" and path == "/crm/v3/owners":
            return self._owners(call.query)
        if method == "GET" and path == "/crm/v3/properties/contacts/hs_lead_status":
            options = [
                {"label": label, "value": value, "displayOrder": n, "hidden": False}
                for n, (value, label) in enumerate(self.lead_statuses.items())
            ]
            return 200, {"name": "hs_lead_status", "label": "Lead Status", "type": "enumeration",
                         "fieldType": "radio", "options": options}  # fmt: skip
        found = re.fullmatch(r"/crm/v3/objects/(notes|calls)", path)
        if method == "POST" and found:
            return self._log(found.group(1), call.body)
        found = re.fullmatch(r"/crm/v3/objects/(notes|calls)/batch/read", path)
        if method == "POST" and found:
            kind = found.group(1)
            return 200, {
                "status": "COMPLETE",
                "results": [
                    self._engagement(kind, i["id"])
                    for i in call.body["inputs"]
                    if i["id"] in self.engagements[kind]
                ],
                "startedAt": iso_ms(dt.datetime.now(UTC)),
                "completedAt": iso_ms(dt.datetime.now(UTC)),
            }
        found = re.fullmatch(r"/crm/v4/objects/contacts?/(\d+)/associations/(notes|calls)", path)
        if method == "GET" and found:
            contact, kind = found.groups()
            with self.lock:
                ids = [i for i, n in self.engagements[kind].items() if n["contact"] == contact]
            return 200, {
                "results": [
                    {"toObjectId": int(i), "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": ASSOCIATION[kind],
                         "label": None}]}
                    for i in ids
                ]
            }  # fmt: skip
        found = re.fullmatch(r"/crm/v3/objects/contacts/(\d+)", path)
        if found and found.group(1) not in self.contacts:
            return 404, {"status": "error", "message": "resource not found",
                         "category": "OBJECT_NOT_FOUND"}  # fmt: skip
        if found and method == "GET":
            wanted = (call.query.get("properties") or [""])[0].split(",")
            contact = self.contacts[found.group(1)]
            return 200, self._contact(found.group(1), {k: contact.get(k) for k in wanted})
        if found and method == "PATCH":
            status = call.body["properties"].get("hs_lead_status")
            if status is not None and status not in self.lead_statuses:
                return 400, {
                    "status": "error",
                    "message": f'Property values were not valid: [{{"isValid":false,"message":'
                    f'"{status} was not one of the allowed options: {list(self.lead_statuses)}",'
                    f'"error":"INVALID_OPTION","name":"hs_lead_status"}}]',
                    "category": "VALIDATION_ERROR",
                }
            self.upsert_contact(found.group(1), **call.body["properties"])
            return 200, self._contact(found.group(1), self.contacts[found.group(1)])
        return 404, {"status": "error", "message": f"no route {method} {path}"}

    def rate_limit(self) -> tuple[dict[str, str], bool] | None:
        if self.rate is None:
            return None
        calls, per_ms = self.rate
        with self.lock:
            now = time.monotonic()
            self.window = [t for t in self.window if now - t < per_ms / 1000]
            refused = len(self.window) >= calls
            if refused:
                self.refused += 1
            else:
                self.window.append(now)
            remaining = max(0, calls - len(self.window))
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(per_ms),
            "X-HubSpot-RateLimit-Max": str(calls),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
        }, refused

    def _contact(self, contact_id: str, properties: dict[str, Any]) -> dict[str, Any]:
        contact = self.contacts[contact_id]
        return {
            "id": contact_id,
            "properties": properties,
            "createdAt": contact["createdate"],
            "updatedAt": contact["lastmodifieddate"],
            "archived": False,
        }

    def _search(self, body: dict[str, Any]) -> tuple[int, Any]:
        limit = int(body.get("limit", 10))
        after = _offset(body.get("after"))
        if after is None:
            return 400, {"status": "error", "message": "Invalid input JSON on line 1: after",
                         "category": "VALIDATION_ERROR"}  # fmt: skip
        if limit > 200:
            return 400, {"status": "error", "message": "limit must be at most 200",
                         "category": "VALIDATION_ERROR"}  # fmt: skip
        if after + limit > 10_000:
            return 400, {
                "status": "error",
                "message": "There was a problem with the request.",
                "category": "VALIDATION_ERROR",
                "context": {"after": ["must be less than or equal to 10000 - limit"]},
            }
        bounds = []  # (epoch ms, operator): one filter group, its filters ANDed
        for group in body.get("filterGroups") or []:
            for rule in group.get("filters") or []:
                assert rule["propertyName"] == "lastmodifieddate"
                assert rule["operator"] in ("GTE", "GT", "LT", "LTE")
                bounds.append((int(rule["value"]), rule["operator"]))
        rows = self._ordered()
        keys = self._keys(rows)
        low, high = 0, len(rows)  # ISO times of one format sort as text: bisect the keys
        for value, operator in bounds:
            bound = iso_ms(dt.datetime.fromtimestamp(value / 1000, tz=UTC))
            if operator in ("GTE", "GT"):
                cut = bisect.bisect_left if operator == "GTE" else bisect.bisect_right
                low = max(low, cut(keys, bound))
            else:
                cut = bisect.bisect_left if operator == "LT" else bisect.bisect_right
                high = min(high, cut(keys, bound))
        rows = rows[low:high]
        wanted = body.get("properties") or ["createdate", "email", "firstname", "hs_object_id",
                                             "lastmodifieddate", "lastname"]  # fmt: skip
        page = rows[after : after + limit]
        answer: dict[str, Any] = {
            "total": len(rows),
            "results": [self._contact(i, {k: c.get(k) for k in wanted}) for i, c in page],
        }
        if after + limit < len(rows):
            answer["paging"] = _paging(after + limit)
        return 200, answer

    def _owners(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        """`/crm/v3/owners`: `limit` (default 100, at most 500), an opaque `after`, and
        `archived=true` for the archived owners alone (the active ones otherwise)."""
        archived = (query.get("archived") or ["false"])[0] == "true"
        limit = int((query.get("limit") or ["100"])[0])
        start = _offset((query.get("after") or [None])[0])
        if limit > 500 or start is None:
            return 400, {"status": "error", "message": "Invalid input: limit or after",
                         "category": "VALIDATION_ERROR"}  # fmt: skip
        with self.lock:
            matching = [o for o in self.owners if o["archived"] == archived]
        answer: dict[str, Any] = {"results": matching[start : start + limit]}
        if start + limit < len(matching):
            answer["paging"] = _paging(start + limit)
        return 200, answer

    def _log(self, kind: str, body: dict[str, Any]) -> tuple[int, Any]:
        """A note or a call on a contact. A completed call sets the contact's Last Contacted to
        its time, as HubSpot does for a logged call (a note does not)."""
        [association] = body["associations"]
        assert association["types"] == [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": ASSOCIATION[kind]}
        ]
        properties = body["properties"]
        record_id = str(next(self._ids) * 1000 + 7)
        contact = association["to"]["id"]
        with self.lock:
            self.engagements[kind][record_id] = {"properties": properties, "contact": contact}
        if kind == "calls" and properties.get("hs_call_status") == "COMPLETED":
            self.upsert_contact(contact, notes_last_contacted=properties["hs_timestamp"])
        return 201, self._engagement(kind, record_id)

    def _engagement(self, kind: str, record_id: str) -> dict[str, Any]:
        record = self.engagements[kind][record_id]
        now = iso_ms(dt.datetime.now(UTC))
        properties = {**record["properties"], "hs_object_id": record_id}
        return {"id": record_id, "properties": properties, "createdAt": now, "updatedAt": now,
                "archived": False}  # fmt: skip

    @property
    def notes(self) -> dict[str, dict[str, Any]]:
        return self.engagements["notes"]

    @property
    def logged_calls(self) -> dict[str, dict[str, Any]]:
        return self.engagements["calls"]


def _paging(offset: int) -> dict[str, Any]:
    """HubSpot's paging object: an opaque cursor (base64, URL-encoded, as its spec shows)."""
    token = urllib.parse.quote(base64.b64encode(f"{offset}\n".encode()).decode())
    return {"next": {"after": token, "link": f"?after={token}"}}


def _offset(token: object) -> int | None:
    """The offset a cursor of `_paging` stands for (0 for none); None for a token it never gave."""
    if token in (None, ""):
        return 0
    try:
        return int(base64.b64decode(urllib.parse.unquote(str(token)), validate=True))
    except ValueError:
        return None


# -- Salesforce ----------------------------------------------------------------------------
def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key), to serve HTTPS as Salesforce does."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "stand-in.pem", folder / "stand-in.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


_SELECT = re.compile(
    r"^SELECT (?P<fields>.+?) FROM (?P<object>\w+)(?: WHERE (?P<where>.+?))?"
    r"(?: ORDER BY (?P<order>[\w, ]+))?$"
)
_CONDITION = re.compile(r"^(\w+) (>=|>|=|IN) (.+)$")


class FakeSalesforce(_Stand):
    """A Salesforce org: Lead, Task and User records, 18-character ids."""

    def __init__(self, *, username: str = "api@acme.example", password: str = "pw+token",
                 consumer_key: str = "3MVG9-key", consumer_secret: str = "secret",
                 version: str = "62.0", batch: int = 2000) -> None:  # fmt: skip
        super().__init__()
        self.username, self.password = username, password
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.version, self.batch = version, batch
        self.records: dict[str, dict[str, dict[str, Any]]] = {"Lead": {}, "Task": {}, "User": {}}
        self.tokens: set[str] = set()
        self._seq = itertools.count(1)
        self._locators: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self.public_key: str | None = None  # the connected app's certificate (JWT flow)
        # the Lead Status picklist: the classic default set (an org may have the newer one)
        self.lead_statuses = ["Open - Not Contacted", "Working - Contacted",
                              "Closed - Converted", "Closed - Not Converted"]  # fmt: skip

    # -- test controls
    def new_id(self, prefix: str) -> str:
        """An 18-character id with the object's key prefix (its checksum as Salesforce adds)."""
        from bot.intake.salesforce.ids import salesforce_id18

        return salesforce_id18(f"{prefix}5e000{next(self._seq):07d}")

    def put(
        self, sobject: str, record_id: str, at: dt.datetime | None = None, **fields: Any
    ) -> str:
        with self.lock:
            now = at or dt.datetime.now(UTC)
            stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"
            record = self.records[sobject].setdefault(
                record_id, {"Id": record_id, "CreatedDate": stamp}
            )
            record.update(fields)
            record["SystemModstamp"] = stamp
        return record_id

    def sessions_expire_after(self, calls: int) -> None:
        """After `calls` more API calls every session expires (as a revoked token does)."""
        self._expire_at = len(self.calls) + calls

    _expire_at: int | None = None

    # -- the API
    def route(self, handler: BaseHTTPRequestHandler, call: Call) -> tuple[int, Any]:
        if call.method == "POST" and call.path == "/services/oauth2/token":
            return self._token(call.body or {})
        if self._expire_at is not None and len(self.calls) > self._expire_at:
            self._expire_at = None
            self.tokens.clear()
        auth = handler.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.tokens:
            return 401, [
                {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
            ]
        base = f"/services/data/v{self.version}/"
        if not call.path.startswith(base):
            return 404, [
                {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
            ]
        rest = call.path[len(base) :]
        if rest.rstrip("/") == "query" and call.method == "GET":
            return self._query(call.query["q"][0])
        if rest.startswith("query/") and call.method == "GET":
            return self._more(rest.split("/", 1)[1])
        if rest == "sobjects/Lead/describe" and call.method == "GET":
            return 200, {"name": "Lead", "fields": [{"name": "Status", "type": "picklist",
                         "restrictedPicklist": True, "picklistValues": [
                             {"value": value, "label": value, "active": True,
                              "defaultValue": n == 0, "validFor": None}
                             for n, value in enumerate(self.lead_statuses)]}]}  # fmt: skip
        found = re.fullmatch(r"sobjects/(\w+)/?(\w*)", rest)
        if found and call.method == "POST" and not found.group(2):
            sobject = found.group(1)
            record_id = self.new_id({"Task": "00T", "Lead": "00Q"}[sobject])
            fields = dict(call.body)
            if sobject == "Task":
                fields.setdefault("IsClosed", fields.get("Status") == "Completed")
                fields.setdefault("TaskSubtype", "Task")
            self.put(sobject, record_id, **fields)
            return 201, {"id": record_id, "success": True, "errors": []}
        if found and call.method == "PATCH" and found.group(2):
            sobject, record_id = found.groups()
            status = (call.body or {}).get("Status")
            if sobject == "Lead" and status is not None and status not in self.lead_statuses:
                return 400, [{"message": f"bad value for restricted picklist field: {status}",
                              "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                              "fields": ["Status"]}]  # fmt: skip
            if record_id not in self.records[sobject]:
                return 404, [
                    {
                        "errorCode": "NOT_FOUND",
                        "message": f"The requested resource does not exist: {record_id}",
                    }
                ]
            self.put(sobject, record_id, **call.body)
            return 204, None
        return 404, [{"errorCode": "NOT_FOUND", "message": f"no route {call.method} {call.path}"}]

    def _token(self, form: dict[str, str]) -> tuple[int, Any]:
        grant = form.get("grant_type")
        if grant == "password":
            ok = (form.get("client_id"), form.get("client_secret"), form.get("username"),
                  form.get("password")) == (self.consumer_key, self.consumer_secret,
                                            self.username, self.password)  # fmt: skip
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            import jwt

            # Salesforce's documented audiences: the authorization server, never a My Domain
            try:
                claims = jwt.decode(
                    form["assertion"],
                    self.public_key or "",
                    algorithms=["RS256"],
                    audience=["https://login.salesforce.com", "https://test.salesforce.com"],
                    options={"verify_signature": self.public_key is not None},
                )
            except jwt.InvalidTokenError as error:
                return 400, {"error": "invalid_grant", "error_description": str(error)}
            ok = claims.get("iss") == self.consumer_key and claims.get("sub") == self.username
        elif grant == "client_credentials":
            ok = (form.get("client_id"), form.get("client_secret")) == (
                self.consumer_key,
                self.consumer_secret,
            )
        else:
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "grant type not supported",
            }
        if not ok:
            return 400, {"error": "invalid_grant", "error_description": "authentication failure"}
        token = f"00D5e0000000001!AQ{next(self._seq):06d}"
        with self.lock:
            self.tokens.add(token)
        return 200, {
            "access_token": token,
            "instance_url": self.url,
            "id": f"{self.url}/id/00D5e0000000001EAA/0055e000000AAAAAAA",
            "token_type": "Bearer",
            "issued_at": str(int(dt.datetime.now(UTC).timestamp() * 1000)),
            "signature": "e3eI6bCBnvXAnb/kBAbD0oGsuUMbAbWDKhwjm+rSDrI=",
        }

    def _query(self, soql: str) -> tuple[int, Any]:
        found = _SELECT.match(" ".join(soql.split()))
        if found is None:
            return 400, [{"message": f"unexpected query {soql}", "errorCode": "MALFORMED_QUERY"}]
        fields = [name.strip() for name in found.group("fields").split(",")]
        sobject = found.group("object")
        with self.lock:
            rows = [dict(r) for r in self.records[sobject].values()]
        for condition in (
            (found.group("where") or "").split(" AND ") if found.group("where") else []
        ):
            name, operator, value = _CONDITION.match(condition.strip()).groups()  # type: ignore[union-attr]
            rows = [r for r in rows if _holds(r.get(name), operator, value)]
        if found.group("order"):
            keys = [key.strip() for key in found.group("order").split(",")]
            rows.sort(key=lambda r: tuple(str(r.get(k) or "") for k in keys))
        prefix = f"/services/data/v{self.version}/sobjects/{sobject}/"
        selected = [
            {"attributes": {"type": sobject, "url": prefix + r["Id"]},
             **{name: r.get(name) for name in fields}}
            for r in rows
        ]  # fmt: skip
        return 200, self._batch(selected, 0)

    def _more(self, locator: str) -> tuple[int, Any]:
        with self.lock:
            rows, _ = self._locators[locator.split("-")[0]]
        return 200, self._batch(rows, int(locator.split("-")[1]))

    def _batch(self, rows: list[dict[str, Any]], start: int) -> dict[str, Any]:
        end = start + self.batch
        answer: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows),
                                  "records": rows[start:end]}  # fmt: skip
        if end < len(rows):
            locator = f"01g5e00000{next(self._seq):08d}"
            with self.lock:
                self._locators[locator] = (rows, end)
            answer["nextRecordsUrl"] = f"/services/data/v{self.version}/query/{locator}-{end}"
        return answer


def _holds(stored: Any, operator: str, literal: str) -> bool:
    if operator == "IN":
        return stored in [v.strip().strip("'") for v in literal.strip("()").split(",")]
    if literal in ("true", "false"):
        return bool(stored) == (literal == "true")
    if literal.startswith("'"):
        return operator == "=" and stored == literal.strip("'")
    # a datetime literal against a stored Salesforce timestamp
    if stored is None:
        return False
    when = _sf_time(str(stored))
    bound = dt.datetime.fromisoformat(literal.replace("Z", "+00:00"))
    return {">=": when >= bound, ">": when > bound, "=": when == bound}[operator]


def _sf_time(text: str) -> dt.datetime:
    if len(text) == 10:
        return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)
    return dt.datetime.fromisoformat(text[:-2] + ":" + text[-2:] if text[-5] in "+-" else text)


def https_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context
