"""The agreement proposed, signed and recalibrated: a proposal is a new version's text put to
the signatories (`[agreement] signatories`); when every one of them has approved, it is stored
through the same validation as the file (`apply_agreement`), with their approvals. Every card,
update and thread reply goes through the outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import tomlkit
from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from bot.domain.agreement import Agreement
from bot.domain.agreement_file import changes, parse_agreement
from bot.domain.calendar import period_bounds, period_label
from bot.domain.quota_plan import stored_value
from bot.domain.recalibration import RATES, Measured, Observed, measure, toml_value
from bot.intake.registry import crm_problems
from bot.services.agreement_edits import NoAgreementApplied, without_none
from bot.services.agreements import apply_agreement
from bot.slack.messages.proposals import card_payload, signed_payload
from bot.slack.render import Renderer
from storage import outbox
from storage import proposals as store
from storage.agreements import version_in_force
from storage.digest import cohort_outcomes

RECALIBRATE_WITHIN = timedelta(days=7)  # of a quarter's end: when slabot proposes new rates


class ProposalRefused(Exception):
    """A proposal slabot cannot put to sign-off: why, in a sentence for the proposer."""


@dataclass(frozen=True)
class Answer:
    """What a signatory's press did: `outcome` is one of refused (not a signatory), closed
    (the proposal is decided or superseded), again (answered before), counted, signed,
    changes."""

    outcome: str
    proposal: store.Proposal | None = None
    version: int | None = None
    items: list[int] = field(default_factory=list)  # what it queued: to deliver at once


# -- proposing ---------------------------------------------------------------------------------
def in_force(engine: Engine, now: datetime) -> tuple[int, Agreement, str]:
    """(version, agreement, its text) of the version in force today."""
    found = version_in_force(engine, on=now.date())
    if found is None:
        raise NoAgreementApplied("no agreement is in force: apply one with `slabot sla apply`")
    row, agreement = found
    return row.version, agreement, row.source_text or tomlkit.dumps(without_none(row.terms))


def next_period_start(agreement: Agreement, now: datetime) -> date:
    today = agreement.business_calendar().today(now)
    return period_bounds(today, agreement.period)[1]


def edited_text(text: str, values: dict[str, object | None]) -> str:
    """The agreement's text with each dotted key set (None: left out), comments kept."""
    document = tomlkit.parse(text)
    for key, value in values.items():
        *tables, name = key.split(".")
        table: Any = document
        for part in tables:
            if part not in table:
                table[part] = tomlkit.table()
            table = table[part]
        if value is None:
            table.pop(name, None)
        else:
            table[name] = value
    return tomlkit.dumps(document)


def propose(
    engine: Engine,
    renderer: Renderer,
    text: str,
    *,
    by: str,
    now: datetime,
    kind: str = "edit",
    notes: dict | None = None,
) -> tuple[store.Proposal, list[int]]:
    """Validate the text as `sla apply` would, and post it for sign-off: in force from the
    next period unless it gives a later `effective` date. An open proposal it replaces is
    marked superseded on its card. Returns it and the outbox items queued. Raises
    AgreementFileError, ProposalRefused."""
    base_version, current, _ = in_force(engine, now)
    proposed = parse_agreement(text, crm_problems)
    signatories = current.agreement.signatories
    if not signatories:
        raise ProposalRefused(
            "nobody can sign it: name the signatories under [agreement] signatories "
            '(Slack user ids, e.g. signatories = ["U012MKTG", "U034SALES"]) and apply the file'
        )
    channel = current.proposal_channel
    if channel is None:
        raise ProposalRefused("there is no channel to post it in: set [agreement] channel")
    starts = next_period_start(current, now)
    if proposed.agreement.effective < starts:  # the next period, unless it says later
        text = edited_text(text, {"agreement.effective": starts})
        proposed = parse_agreement(text, crm_problems)
    diff = changes(current.model_dump(mode="json"), proposed.model_dump(mode="json"))
    diff = [change for change in diff if change[0] != "agreement.effective"]
    if not diff:
        raise ProposalRefused("it changes nothing: the version in force says the same")
    notes = {
        **(notes or {}),
        "changes": [[key, old, new] for key, old, new in diff],
        "targets": _target_effects(current, proposed),
    }
    items: list[int] = []
    with engine.begin() as connection:
        for earlier in store.open_ones(connection):
            if store.close(connection, earlier.id, status="superseded", at=now):
                items += _redraw(connection, renderer, earlier.id, current, now=now)
        proposal_id = store.add(
            connection,
            kind=kind,
            text=text,
            base_version=base_version,
            in_force_from=proposed.agreement.effective,
            proposed_by=by,
            at=now,
            notes=notes,
        )
        proposal = store.get(connection, proposal_id)
        assert proposal is not None
        payload = card_payload(renderer, proposal, current, [])
        card = _queue(connection, f"proposal:{proposal_id}", outbox.Kind.AGREEMENT, payload,
                      audience=channel, now=now)  # fmt: skip
        store.set_card(connection, proposal_id, card[0] if card else None)
        items += card
        found = store.get(connection, proposal_id)
    assert found is not None
    return found, items


def _target_effects(old: Agreement, new: Agreement) -> list[list]:
    """[name, before, after] of each target the change moves: the paced ones, what the quota
    needs beside a typed one, each segment's MQLs."""
    before, after = old.targets(), new.targets()
    found = [["MQL target", before.mqls, after.mqls], ["SQL target", before.sqls, after.sqls]]
    if after.typed_mqls is not None:
        found.append(["MQLs the quota needs", before.derived_mqls, after.derived_mqls])
    if after.typed_sqls is not None:
        found.append(["SQLs the quota needs", before.derived_sqls, after.derived_sqls])
    for name, plan in after.segments.items():
        was = before.segments.get(name)
        found.append([f"{name} MQLs", was.mqls if was else None, plan.mqls])
    return [effect for effect in found if effect[1] != effect[2]]


# -- answering ---------------------------------------------------------------------------------
def answer(
    engine: Engine,
    renderer: Renderer,
    proposal_id: int,
    *,
    user: str,
    decision: str,
    reason: str = "",
    now: datetime,
) -> Answer:
    """A signatory approves or requests changes. When the last one approves, the version is
    stored (effective as proposed) with every approval; a request for changes closes the
    proposal (the version in force stays) and puts the reason in the card's thread."""
    _, current, _ = in_force(engine, now)
    with engine.begin() as connection:
        proposal = store.get(connection, proposal_id)
        if proposal is None or proposal.status != "open":
            return Answer("closed", proposal)
        if user not in current.agreement.signatories:
            return Answer("refused", proposal)
        if not store.vote(
            connection, proposal_id, user_id=user, decision=decision, reason=reason, at=now
        ):
            return Answer("again", proposal)
        if decision == "changes":
            store.close(connection, proposal_id, status="changes_requested", at=now)
            items = _redraw(connection, renderer, proposal_id, current, now=now)
            items += _reply(connection, renderer, proposal, user, reason, now=now)
            return Answer("changes", proposal, items=items)
        items = _redraw(connection, renderer, proposal_id, current, now=now)
    # seen after the vote's commit: of two last approvals at once, at least one sees both
    signed = _sign_if_complete(engine, renderer, proposal, current, now=now)
    if signed is None:
        return Answer("counted", proposal, items=items)
    return Answer("signed", proposal, signed[0], items + signed[1])


def _sign_if_complete(
    engine: Engine, renderer: Renderer, proposal: store.Proposal, current: Agreement, *,
    now: datetime,
) -> tuple[int, list[int]] | None:  # fmt: skip
    """Once every signatory has approved: the version stored with their approvals, the card
    redrawn and the channel told; (version, items queued). None while one is missing."""
    with engine.connect() as connection:
        votes = store.votes(connection, proposal.id)
    if not set(current.agreement.signatories) <= {vote.user_id for vote in votes}:
        return None
    signed_by = [{"user": vote.user_id, "at": vote.at.isoformat()} for vote in votes]
    applied = apply_agreement(  # the same text twice stores one version
        engine,
        proposal.text,
        now=now,
        applied_by=f"signed in Slack (proposal {proposal.id})",
        signed_by=signed_by,
    )
    items: list[int] = []
    with engine.begin() as connection:
        if store.close(connection, proposal.id, status="signed", at=now, version=applied.version):
            items = _redraw(connection, renderer, proposal.id, current, now=now)
            news = signed_payload(
                renderer, applied.agreement, applied.version, signed_by, applied.in_force_from
            )
            items += _queue(connection, f"signed:{proposal.id}", outbox.Kind.AGREEMENT, news,
                            audience=current.proposal_channel or "", now=now)  # fmt: skip
    return applied.version, items


def _redraw(
    connection: Connection, renderer: Renderer, proposal_id: int, agreement: Agreement, *,
    now: datetime,
) -> list[int]:  # fmt: skip
    """A new text for the proposal's card: its sign-off so far, or how it was decided."""
    proposal = store.get(connection, proposal_id)
    if proposal is None or proposal.card is None:
        return []
    payload = card_payload(renderer, proposal, agreement, store.votes(connection, proposal_id))
    key = f"proposal:{proposal_id}:{proposal.status}:{now.timestamp()}"
    return _queue(connection, key, outbox.Kind.UPDATE, payload, now=now, update_of=proposal.card)


def _reply(
    connection: Connection, renderer: Renderer, proposal: store.Proposal, user: str, reason: str,
    *, now: datetime,
) -> list[int]:  # fmt: skip
    """The reason for the requested changes, in the card's thread."""
    if proposal.card is None:
        return []
    text = renderer.slack_text("agreement/changes_requested.txt.j2", user=user, reason=reason)
    key = f"proposal:{proposal.id}:changes:{user}"
    return _queue(connection, key, outbox.Kind.REPLY, {"text": text}, now=now,
                  update_of=proposal.card)  # fmt: skip


def _queue(
    connection: Connection, key: str, kind: str, payload: dict, *, now: datetime,
    audience: str = "", update_of: int | None = None,
) -> list[int]:  # fmt: skip
    """Queue one message (an update or a reply goes where `update_of` went): its id, or
    nothing when one with the key is queued already."""
    item = outbox.enqueue(connection, key=key, kind=kind, audience=audience, day=now.date(),
                          payload=payload, now=now, update_of=update_of)  # fmt: skip
    return [item] if item is not None else []


# -- recalibrating -----------------------------------------------------------------------------
def last_quarter(today: date) -> tuple[date, date]:
    """[start, end) of the last quarter that has ended."""
    start, _ = period_bounds(today, "quarter")
    return period_bounds(start - timedelta(days=1), "quarter")


def recalibrated_text(engine: Engine, now: datetime) -> tuple[str, dict]:
    """The version in force with the last quarter's actual rates (the blended funnel's, each
    overridden source's and segment's) and what they were measured on."""
    _, current, text = in_force(engine, now)
    calendar = current.business_calendar()
    start, end = last_quarter(calendar.today(now))
    since, until = (datetime.combine(day, datetime.min.time(), calendar.tz) for day in (start, end))
    none = (0, 0, 0, 0, 0.0, 0)
    with engine.connect() as connection:
        groups = {("", ""): cohort_outcomes(connection, since=since, until=until).get("", none)}
        sources = sorted(set(current.funnel.sources) | set(current.marketing.sources))
        for kind, names in (("source", sources), ("segment", list(current.funnel.segments))):
            found = cohort_outcomes(connection, since=since, until=until, by=kind)
            groups |= {(kind, name): found.get(name, none) for name in names}
    values: dict[str, object | None] = {}
    notes = []
    for (kind, name), (mqls, sqls, opportunities, won, amount, priced) in groups.items():
        observed = Observed(
            mqls, sqls, opportunities, won, Fraction(amount).limit_denominator(100), priced
        )
        source, segment = (name or None, None) if kind != "segment" else (None, name)
        assumed = {key: stored_value(current, source, key, segment) for key in RATES}
        prefix = f"funnel.{kind}s.{name}" if kind else "funnel"
        for rate in measure(observed, assumed):
            notes.append(_measured_note(kind, name, rate))
            if not rate.flagged and rate.actual:  # none won: no funnel to walk back
                values[f"{prefix}.{rate.key}"] = toml_value(rate.key, rate.actual)
    measured = {"quarter": period_label(start, "quarter"), "measured": notes}
    return edited_text(text, values), measured


def _measured_note(kind: str, name: str, found: Measured) -> dict:
    """One measured rate, as the card shows it."""
    return {
        "group": f"{name} ({kind})" if kind else "all MQLs",
        "key": found.key,
        "actual": float(found.actual) if found.actual is not None else None,
        "assumed": float(found.assumed) if found.assumed is not None else None,
        "sample": found.sample,
        "flagged": found.flagged,
    }


def propose_recalibration(
    engine: Engine, renderer: Renderer, *, by: str, now: datetime
) -> tuple[store.Proposal, list[int]]:
    """Put the last quarter's actual rates to sign-off."""
    text, notes = recalibrated_text(engine, now)
    return propose(engine, renderer, text, by=by, now=now, kind="recalibration", notes=notes)


def recalibration_due(engine: Engine, now: datetime | None = None) -> bool:
    """In the last week of a quarter, once a quarter: whether to propose new rates now."""
    now = now or datetime.now(UTC)
    _, current, _ = in_force(engine, now)
    today = current.business_calendar().today(now)
    start, end = period_bounds(today, "quarter")
    if end - today > RECALIBRATE_WITHIN or not current.agreement.signatories:
        return False
    with engine.connect() as connection:
        latest = store.latest_of_kind(connection, "recalibration")
    return latest is None or latest.created_at.date() < start
