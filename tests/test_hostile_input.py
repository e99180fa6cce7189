"""One bad record never hurts anyone: escape-heavy, maximal CRM text in every field still
gives every audience a valid message (scan, digest, /pace), within Slack's limits."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.intake.csv_import import import_csv
from bot.services.agreements import apply_agreement
from bot.services.alerts import scan
from bot.services.digest import compute_digest
from bot.slack.messages.digest import render_digest
from bot.slack.render import Renderer, fit, validate_blocks
from tests.conftest import replaying
from tests.test_real_crm import AGREEMENT

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York


def texts(value: object) -> list[str]:
    """Every string inside a Block Kit structure."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in texts(item)]
    return [value] if isinstance(value, str) else []


def test_fit_never_cuts_an_escape_or_a_mention() -> None:
    assert fit("abc", 3) == "abc"
    assert fit("a &amp; b", 5) == "a …"  # "a &a" would show a broken entity
    assert fit("hi <@U123> there", 8) == "hi …"
    assert fit("x" * 10, 5) == "xxxx…" and len(fit("&" * 600, 100)) <= 100


def test_a_maximal_escape_heavy_lead_leaves_every_audience_told(
    engine: Engine, tmp_path: Path
) -> None:
    apply_agreement(engine, replaying(AGREEMENT), now=NOW)
    path = tmp_path / "hostile.csv"
    evil = "&" * 500
    path.write_text(
        "lead_id,name,company,source,segment,owner_email,score,mql_at,recycle_reason,crm_url\n"
        f"EVIL,{'<' * 500},{evil},{'<!channel>' * 40},{'>' * 500},rita@example.com,99,"
        f"2026-11-20T09:00,{'<' * 500},https://crm.example.com/{'&' * 900}\n"
        "FINE,Ann,ACME,website,,sam@example.com,50,2026-11-20T09:00,,\n"
        "GONE,Bo,Beta,website,,rita@example.com,40,2026-11-02T09:00,"
        f'"{"<" * 500}",\n'
    )
    summary = import_csv(engine, path, now=NOW)
    assert summary.rejected == 0, summary.examples

    result = scan(engine, Renderer(), now=NOW)
    audiences = {(message.kind, message.audience) for message in result.messages}
    assert ("sla_rep", "rita@example.com") in audiences
    assert ("sla_rep", "sam@example.com") in audiences  # the other rep is still told
    for message in result.messages:
        validate_blocks(message.blocks)
        assert len(message.text) <= 4000
        sent = json.dumps(message.payload)
        assert "<!channel>" not in sent and "<!" not in "".join(texts(message.blocks))

    digest = compute_digest(engine, team="na", day=date(2026, 11, 23), now=NOW)
    payload = render_digest(Renderer(), digest)
    validate_blocks(payload["blocks"])
    assert len(payload["text"]) <= 4000 and "<!" not in json.dumps(payload)
