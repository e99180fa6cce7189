"""Salesforce's REST API, as slabot uses it, through simple-salesforce.

slabot asks for the OAuth token itself (a connected app's client credentials, JWT bearer or
username-password flow) at `SALESFORCE_LOGIN_URL`, and hands the token and the instance to
simple-salesforce: its own logins ask `https://{domain}.salesforce.com` only, and sign a JWT for
the My Domain, where Salesforce wants the authorization server (`jwt_audience`). An expired
session (401 INVALID_SESSION_ID) logs in again once and repeats the call; a request limit
(403 REQUEST_LIMIT_EXCEEDED) is waited out. Reads: SOQL on Lead, Task and User with
`queryMore` paging. Writes: a completed Task on a lead and the lead's Status.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import requests

from bot.intake.errors import CrmError

if TYPE_CHECKING:  # simple-salesforce (and zeep) load on first use: a HubSpot sync needs neither
    from simple_salesforce import Salesforce
    from simple_salesforce.exceptions import SalesforceError

    from bot.settings import Settings

LEAD_FIELDS = (
    "Id", "FirstName", "LastName", "Company", "Email", "LeadSource", "Status", "OwnerId",
    "CreatedDate", "ConvertedDate", "IsConverted", "SystemModstamp",
)  # fmt: skip
TASK_FIELDS = (
    "Id", "WhoId", "OwnerId", "Subject", "TaskSubtype", "Type", "Status", "IsClosed",
    "CreatedDate", "CompletedDateTime", "SystemModstamp", "Description",
)  # fmt: skip
LEAD_PREFIX = "00Q"  # the key prefix of Lead ids: a Task's WhoId may also name a Contact
READ_TRIES = 4
T = TypeVar("T")


@dataclass(frozen=True)
class RecordPage:
    records: list[dict]
    total: int
    last_modified: datetime | None  # SystemModstamp of the page's last record


@dataclass(frozen=True)
class Credentials:
    login_url: str
    username: str
    consumer_key: str
    password: str = ""  # with the security token appended
    consumer_secret: str = ""
    private_key: str = ""  # PEM, for the JWT bearer flow
    instance_url: str | None = None  # overrides the token answer's


def parse_time(value: str | None) -> datetime | None:
    """`2026-11-20T14:03:00.000+0000` (Salesforce's datetime) → UTC."""
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text).astimezone(UTC)


def soql_time(at: datetime) -> str:
    """A SOQL datetime literal (UTC, no quotes)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def soql_ids(ids: list[str]) -> str:
    """`('00Q…','00Q…')`: ids are alphanumeric, anything else is refused."""
    if not all(value.isalnum() for value in ids):
        raise ValueError("a Salesforce id is alphanumeric")
    return "(" + ",".join(f"'{value}'" for value in ids) + ")"


class SalesforceApi:
    def __init__(self, credentials: Credentials, *, version: str, timeout: float = 30.0) -> None:
        self.credentials = credentials
        self.version = version
        self.timeout = timeout
        self._client: Salesforce | None = None

    # -- session -----------------------------------------------------------------------------
    def _login(self) -> Salesforce:
        from simple_salesforce import Salesforce

        c = self.credentials
        if c.private_key:
            import jwt

            claims = {
                "iss": c.consumer_key,
                "sub": c.username,
                "aud": jwt_audience(c.login_url),
                "exp": int((datetime.now(UTC) + timedelta(minutes=3)).timestamp()),
            }
            data = {
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": jwt.encode(claims, c.private_key, algorithm="RS256"),
            }
        elif c.username:
            data = {
                "grant_type": "password",
                "client_id": c.consumer_key,
                "client_secret": c.consumer_secret,
                "username": c.username,
                "password": c.password,
            }
        else:
            if not _my_domain(c):
                raise CrmError(
                    "the client credentials flow asks your My Domain for its token: set "
                    "SALESFORCE_LOGIN_URL to it (https://yourco.my.salesforce.com)",
                    transient=False,
                )
            data = {
                "grant_type": "client_credentials",
                "client_id": c.consumer_key,
                "client_secret": c.consumer_secret,
            }
        try:
            response = requests.post(
                c.login_url + "/services/oauth2/token", data=data, timeout=self.timeout
            )
        except requests.RequestException as error:
            raise CrmError(
                f"Salesforce's login could not be reached: {error}", transient=True
            ) from error
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code != 200 or "access_token" not in answer:
            reason = answer.get("error_description") or answer.get("error") or response.status_code
            who = c.username or f"the connected app {c.consumer_key}"
            raise CrmError(
                f"Salesforce refused the login of {who} ({reason}): check "
                "SALESFORCE_USERNAME, SALESFORCE_PASSWORD (+ SALESFORCE_SECURITY_TOKEN), "
                "SALESFORCE_CONSUMER_KEY and SALESFORCE_CONSUMER_SECRET (or the private key)",
                transient=response.status_code >= 500,
            )
        session = requests.Session()
        return Salesforce(
            instance_url=c.instance_url or answer["instance_url"],
            session_id=answer["access_token"],
            version=self.version,
            session=session,
        )

    @property
    def client(self) -> Salesforce:
        if self._client is None:
            self._client = self._login()
        return self._client

    def _call(self, work: Callable[[Salesforce], T], *, idempotent: bool = True) -> T:
        """Run `work` with a live session: an expired one is renewed once; a read meeting a
        5xx or a dropped connection is tried again with backoff."""
        from simple_salesforce.exceptions import (
            SalesforceError,
            SalesforceExpiredSession,
            SalesforceGeneralError,
        )

        renewed = False
        for attempt in range(1, READ_TRIES + 1):
            try:
                return work(self.client)
            except SalesforceExpiredSession as error:
                if renewed:
                    raise CrmError(
                        f"Salesforce refused a fresh session: {error}", transient=False
                    ) from error
                self._client, renewed = None, True
            except SalesforceGeneralError as error:
                # a 429 did nothing: even a write may be repeated; a 5xx write may have landed
                again = error.status == 429 or (error.status >= 500 and idempotent)
                if not again or attempt == READ_TRIES:
                    transient = error.status == 429 or error.status >= 500
                    raise CrmError(_message(error), transient=transient) from error
                time.sleep(2 ** (attempt - 1))
            except SalesforceError as error:
                # REQUEST_LIMIT_EXCEEDED comes as a 403: the org's 24-hour allocation
                # ("TotalRequests Limit exceeded") returns within hours; too many long-running
                # requests at once ("ConcurrentRequests …") within seconds. Either way the call
                # did nothing, so even a write may be repeated.
                text = str(error.content)
                if "REQUEST_LIMIT_EXCEEDED" not in text:
                    raise CrmError(_message(error), transient=False) from error
                if "TotalRequests" in text or attempt == READ_TRIES:
                    wait = 3600 if "TotalRequests" in text else 60
                    raise CrmError(_message(error), transient=True, retry_after=wait) from error
                time.sleep(2 ** (attempt - 1))
            except requests.RequestException as error:
                if not idempotent or attempt == READ_TRIES:
                    raise CrmError(
                        f"Salesforce could not be reached: {error}", transient=True
                    ) from error
                time.sleep(2 ** (attempt - 1))
        raise CrmError("Salesforce did not answer", transient=True)

    # -- reads -------------------------------------------------------------------------------
    def _query_all(self, soql: str) -> dict[str, Any]:
        return self._call(lambda sf: sf.query_all(soql))

    def _query_more(self, url: str) -> dict[str, Any]:
        return self._call(lambda sf: sf.query_more(url, identifier_is_url=True))

    def changed(
        self, sobject: str, fields: tuple[str, ...], since: datetime | None, where: str = ""
    ) -> Iterator[RecordPage]:
        """Every record of `sobject` modified at or after `since` (all for None), oldest
        change first, a `queryMore` batch at a time."""
        conditions = [where] if where else []
        if since is not None:
            conditions.append(f"SystemModstamp >= {soql_time(since)}")
        soql = f"SELECT {', '.join(fields)} FROM {sobject}"
        if conditions:
            soql += " WHERE " + " AND ".join(conditions)
        soql += " ORDER BY SystemModstamp, Id"
        answer: dict[str, Any] = self._call(lambda sf: sf.query(soql))
        while True:
            records = answer.get("records") or []
            last = parse_time(records[-1].get("SystemModstamp")) if records else None
            yield RecordPage(records, int(answer.get("totalSize") or 0), last)
            next_url = answer.get("nextRecordsUrl")
            if answer.get("done", True) or not next_url:
                return
            answer = self._query_more(next_url)

    def leads(self, ids: list[str], fields: Sequence[str] = LEAD_FIELDS) -> list[dict]:
        """These leads now, with `fields` (a task names a lead no pass has read yet)."""
        found: list[dict] = []
        for start in range(0, len(ids), 200):
            chunk = soql_ids(ids[start : start + 200])
            soql = f"SELECT {', '.join(fields)} FROM Lead WHERE Id IN {chunk}"
            found += self._query_all(soql).get("records") or []
        return found

    def users(self) -> dict[str, str]:
        """User id (18 characters) → email, active or not (old leads keep their owners)."""
        answer = self._query_all("SELECT Id, Email FROM User")
        return {
            str(user["Id"]): str(user["Email"]).lower()
            for user in answer.get("records") or []
            if user.get("Email")
        }

    def tasks_on(self, lead_id: str, since: datetime) -> list[dict]:
        soql = (
            f"SELECT Id, Description FROM Task WHERE WhoId = {soql_ids([lead_id])[1:-1]}"
            f" AND CreatedDate >= {soql_time(since)}"
        )
        return self._query_all(soql).get("records") or []

    def lead_status(self, lead_id: str) -> str | None:
        soql = f"SELECT Status FROM Lead WHERE Id = {soql_ids([lead_id])[1:-1]}"
        found = self._query_all(soql).get("records") or []
        return str(found[0].get("Status") or "") or None if found else None

    def lead_statuses(self) -> list[str]:
        """The org's active Lead Status values, in their picklist order (`describe`)."""
        answer = self._call(lambda sf: _sobject(sf, "Lead").describe())
        fields = answer.get("fields") or []
        status: dict[str, Any] = next((f for f in fields if f.get("name") == "Status"), {})
        return [
            str(value["value"])
            for value in status.get("picklistValues") or []
            if value.get("active", True)
        ]

    # -- writes (never repeated here) --------------------------------------------------------
    def create_task(self, fields: dict[str, object]) -> str:
        answer = self._call(lambda sf: _sobject(sf, "Task").create(fields), idempotent=False)
        return str(answer["id"])

    def update_lead(self, lead_id: str, fields: dict[str, object]) -> None:
        self._call(lambda sf: _sobject(sf, "Lead").update(lead_id, fields))


def jwt_audience(login_url: str) -> str:
    """The JWT bearer flow's `aud`, as Salesforce's OAuth documentation gives it: the
    authorization server, `https://login.salesforce.com`, or `https://test.salesforce.com` for a
    sandbox, whatever My Domain the token is asked from; an Experience Cloud site's own URL."""
    host = urllib.parse.urlsplit(login_url).hostname or ""
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return "https://test.salesforce.com"
    if host.endswith((".force.com", ".my.site.com")):
        return login_url.rstrip("/")  # an Experience Cloud site is its own audience
    return "https://login.salesforce.com"


def _my_domain(c: Credentials) -> bool:
    """Whether the token is asked from a My Domain (not login. or test.salesforce.com)."""
    host = urllib.parse.urlsplit(c.login_url).hostname or ""
    return host not in ("login.salesforce.com", "test.salesforce.com")


def _sobject(sf: Salesforce, name: str) -> Any:
    """An sObject's REST resource (`sf.Task`: simple-salesforce resolves it by name)."""
    return getattr(sf, name)


def credentials(settings: Settings) -> Credentials:
    """The OAuth flow the settings describe (the JWT flow when a private key file is set)."""
    secret = settings.secret
    key = settings.salesforce_private_key_file
    return Credentials(
        login_url=settings.salesforce_login_url,
        username=settings.salesforce_username or "",
        consumer_key=str(settings.salesforce_consumer_key),
        password=secret(settings.salesforce_password) + secret(settings.salesforce_security_token),
        consumer_secret=secret(settings.salesforce_consumer_secret),
        private_key=Path(key).read_text() if key else "",
        instance_url=settings.salesforce_instance_url,
    )


def _message(error: SalesforceError) -> str:
    content = error.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        detail = f"{content[0].get('errorCode')}: {content[0].get('message')}"
    else:
        detail = str(content)[:300]
    return f"Salesforce answered {error.status} to {error.resource_name}: {detail}"
