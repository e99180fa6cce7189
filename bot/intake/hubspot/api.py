"""HubSpot's CRM API, as slabot uses it (private-app token, plain HTTP over one session).

Reads: contacts changed since a time (the CRM search API, 200 a page, sorted by
`lastmodifieddate`), the owners (`/crm/v3/owners`: owner id → email) and the portal's Lead
Status options. Writes: a logged call or a note on a contact, and its lead status. Calls are
paced by HubSpot's `X-HubSpot-RateLimit-*` headers (none is sent while the window's remaining
count is 0); a 429 is waited out (its `Retry-After`, else the window's length, else a second)
unless it is the daily limit; a read meeting a 5xx or a dropped connection is tried again with
backoff; a write is never repeated here (the outbox looks for it first, then tries again).
Paging tokens (`paging.next.after`) are opaque strings.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from bot.intake.errors import CrmError
from bot.intake.hubspot.search import (
    ContactPage,
    Search,
    SearchPace,
    changed_contacts,
    next_after,
)

CONTACT_PROPERTIES = (
    "hs_object_id", "firstname", "lastname", "email", "company", "lifecyclestage",
    "hs_lead_status", "hubspot_owner_id", "createdate",
    "hs_lifecyclestage_marketingqualifiedlead_date",
    "hs_lifecyclestage_salesqualifiedlead_date", "hs_lifecyclestage_opportunity_date",
    "hs_lifecyclestage_customer_date", "hubspot_owner_assigneddate", "hs_analytics_source",
    "hubspotscore", "notes_last_contacted", "lastmodifieddate",
)  # fmt: skip
# engagement kind → (its body property, the HUBSPOT_DEFINED association type to a contact)
ENGAGEMENTS = {"notes": ("hs_note_body", 202), "calls": ("hs_call_body", 194)}
READ_TRIES = 5
LONGEST_WAIT = 60.0  # a Retry-After longer than this ends the pass (the next one resumes)


@dataclass(frozen=True)
class CellPage:
    """A page of contacts as the cells of export rows whose header is the properties read
    (CONTACT_PROPERTIES, and the agreement's segment field): what the export mapping reads."""

    cells: list[list[str]]
    total: int
    last_modified: datetime | None


def contact_cells(
    contact: Mapping[str, object], names: Sequence[str] = CONTACT_PROPERTIES
) -> list[str]:
    properties = contact.get("properties") or {}
    assert isinstance(properties, Mapping)
    get = properties.get
    cells = [str(get(name) or "") for name in names]
    if not cells[0]:
        cells[0] = str(contact.get("id") or "")  # hs_object_id is first
    return cells


class HubSpotApi:
    def __init__(
        self, token: str, base_url: str, *, timeout: float = 30.0, pace: SearchPace | None = None
    ) -> None:
        self.token = token
        self.search_pace = pace or SearchPace()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._ready_at = 0.0  # monotonic time before which no call is sent (rate limit)
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        )

    # -- reads -------------------------------------------------------------------------------
    def changed_contacts(
        self, since: datetime | None, properties: Sequence[str] = CONTACT_PROPERTIES
    ) -> Iterator[ContactPage]:
        """Every contact modified at or after `since` (all of them for None), oldest change
        first where read in one walk, with `properties` (`bot.intake.hubspot.search`: a large
        read goes in time slices side by side, at HubSpot's five searches a second)."""
        return changed_contacts(self.search, self._twin_search, since, properties)

    def search(self, body: dict) -> dict:
        """One contacts search; each try starts within the searches' pace (shared by this
        client's twins)."""
        return self._call(
            "POST", "/crm/v3/objects/contacts/search", json=body, pace=self.search_pace
        )

    def _twin_search(self) -> Search:
        """The search of a client of its own (a session per thread) on the same pace."""
        twin = HubSpotApi(self.token, self.base_url, timeout=self.timeout, pace=self.search_pace)
        return twin.search

    def changed_contact_cells(
        self, since: datetime | None, properties: Sequence[str] = CONTACT_PROPERTIES
    ) -> Iterator[CellPage]:
        for page in self.changed_contacts(since, properties):
            cells = [contact_cells(contact, properties) for contact in page.contacts]
            yield CellPage(cells, page.total, page.last_modified)

    def owners(self) -> dict[str, str]:
        """Owner id → email, for every owner (archived ones too: old leads keep them)."""
        found: dict[str, str] = {}
        for archived in ("false", "true"):
            after = None
            while True:
                params = {"limit": "500", "archived": archived}
                if after:
                    params["after"] = after
                answer = self._call("GET", "/crm/v3/owners", params=params)
                for owner in answer.get("results") or []:
                    if owner.get("email"):
                        found.setdefault(str(owner["id"]), str(owner["email"]).lower())
                after = next_after(answer)
                if not after:
                    break
        return found

    def logged_on(self, contact_id: str, kind: str) -> list[dict]:
        """The engagements of `kind` (notes, calls) associated with a contact, with their
        body: to find one written before."""
        ids, after = [], None
        while True:
            params = {"limit": "500", **({"after": after} if after else {})}
            answer = self._call(
                "GET", f"/crm/v4/objects/contacts/{contact_id}/associations/{kind}", params=params
            )
            ids += [str(result["toObjectId"]) for result in answer.get("results") or []]
            after = next_after(answer)
            if not after:
                break
        found: list[dict] = []
        for start in range(0, len(ids), 100):
            answer = self._call(
                "POST",
                f"/crm/v3/objects/{kind}/batch/read",
                json={
                    "properties": [ENGAGEMENTS[kind][0]],
                    "inputs": [{"id": record_id} for record_id in ids[start : start + 100]],
                },
            )
            found += answer.get("results") or []
        return found

    def lead_statuses(self) -> list[str]:
        """The portal's Lead Status values (`hs_lead_status`'s options, hidden ones left out)."""
        answer = self._call("GET", "/crm/v3/properties/contacts/hs_lead_status")
        return [
            str(option["value"])
            for option in answer.get("options") or []
            if not option.get("hidden")
        ]

    def contact_status(self, contact_id: str) -> str | None:
        answer = self._call(
            "GET",
            f"/crm/v3/objects/contacts/{contact_id}",
            params={"properties": "hs_lead_status"},
        )
        return (answer.get("properties") or {}).get("hs_lead_status") or None

    # -- writes (never repeated here) --------------------------------------------------------
    def log(
        self, kind: str, contact_id: str, *, body: str, at: datetime, owner_id: str | None
    ) -> str:
        """Log an engagement on a contact: a note, or a completed outbound call (which moves
        the contact's *Last Contacted*, as a rep's logged call does)."""
        body_property, association = ENGAGEMENTS[kind]
        properties = {body_property: body, "hs_timestamp": _iso(at)}
        if kind == "calls":
            properties |= {
                "hs_call_title": "Contacted",
                "hs_call_status": "COMPLETED",
                "hs_call_direction": "OUTBOUND",
            }
        if owner_id:
            properties["hubspot_owner_id"] = owner_id
        answer = self._call(
            "POST",
            f"/crm/v3/objects/{kind}",
            idempotent=False,
            json={
                "properties": properties,
                "associations": [
                    {
                        "to": {"id": contact_id},
                        "types": [
                            {
                                "associationCategory": "HUBSPOT_DEFINED",
                                "associationTypeId": association,
                            }
                        ],
                    }
                ],
            },
        )
        return str(answer["id"])

    def update_contact(self, contact_id: str, properties: dict[str, str]) -> None:
        self._call(
            "PATCH", f"/crm/v3/objects/contacts/{contact_id}", json={"properties": properties}
        )

    # -- one call ----------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool = True,
        pace: SearchPace | None = None,
        **kwargs,
    ) -> dict:
        for attempt in range(1, READ_TRIES + 1):
            time.sleep(max(0.0, self._ready_at - time.monotonic()))
            if pace is not None:
                pace.wait()
            try:
                response = self.session.request(
                    method, self.base_url + path, timeout=self.timeout, **kwargs
                )
            except requests.RequestException as error:
                if not idempotent or attempt == READ_TRIES:
                    raise CrmError(
                        f"HubSpot could not be reached: {error}", transient=True
                    ) from error
                time.sleep(2 ** (attempt - 1))
                continue
            status = response.status_code
            self._pace(response)
            if status < 300:
                return response.json() if response.content else {}
            answer = _json(response)
            message = str(answer.get("message") or response.reason or status)
            if status == 429:
                wait = _retry_after(response)
                if answer.get("policyName") == "DAILY":
                    raise CrmError(
                        "HubSpot's daily API limit is used up: syncing and write-back resume "
                        "when it resets (midnight in the portal's time zone)",
                        transient=True,
                        retry_after=3600,
                    )
                if wait > LONGEST_WAIT or attempt == READ_TRIES:
                    raise CrmError(
                        f"HubSpot is rate-limiting: {message}", transient=True, retry_after=wait
                    )
                time.sleep(wait)  # HubSpot did nothing: a write may be repeated too
                continue
            if status in (401, 403):
                raise CrmError(
                    f"HubSpot refused HUBSPOT_ACCESS_TOKEN ({status}: {message}); the private "
                    "app needs the scopes crm.objects.contacts.read, crm.objects.contacts.write, "
                    "crm.objects.owners.read and crm.schemas.contacts.read",
                    transient=False,
                )
            if status >= 500:
                if not idempotent or attempt == READ_TRIES:
                    raise CrmError(f"HubSpot answered {status}: {message}", transient=True)
                time.sleep(2 ** (attempt - 1))
                continue
            raise CrmError(
                f"HubSpot answered {status} to {method} {path}: {message}", transient=False
            )
        raise AssertionError("unreachable")

    def _pace(self, response: requests.Response) -> None:
        """No further call before the rate-limit window that answered has room again."""
        headers = response.headers
        for remaining, window in (
            ("X-HubSpot-RateLimit-Remaining", _window_seconds(headers)),
            ("X-HubSpot-RateLimit-Secondly-Remaining", 1.0),
        ):
            if headers.get(remaining, "").strip() == "0" and window:
                self._ready_at = max(self._ready_at, time.monotonic() + window)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _json(response: requests.Response) -> dict:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _window_seconds(headers: Mapping[str, str]) -> float | None:
    try:
        return float(headers["X-HubSpot-RateLimit-Interval-Milliseconds"]) / 1000
    except (KeyError, ValueError):
        return None


def _retry_after(response: requests.Response) -> float:
    """HubSpot's `Retry-After` where it sends one (a 429 may carry none), else the length of
    the rate-limit window that refused, else a second."""
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return _window_seconds(response.headers) or 1.0
