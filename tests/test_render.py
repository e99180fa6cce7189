"""Templates render valid Block Kit; CRM and user text is escaped; teams can override."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from bot.domain.agreement import Agreement
from bot.domain.quota_args import parse_quota_args
from bot.domain.quota_plan import plan_quota
from bot.slack.ids import QUOTA_SHARE
from bot.slack.messages.quota import plan_blocks
from bot.slack.render import InvalidBlocks, Renderer, fmt_money, fmt_pct, validate_blocks
from tests.conftest import EXAMPLE_TERMS


def answer(**terms_overrides):  # type: ignore[no-untyped-def]
    terms = {**EXAMPLE_TERMS, **terms_overrides}
    return plan_quota(parse_quota_args(""), Agreement.model_validate(terms), date(2026, 11, 23))


def reply(share_value: str = "500k", **terms):  # type: ignore[no-untyped-def]
    parts = Renderer().parts("quota/parts.txt.j2")
    return plan_blocks(parts, answer(**terms), shared_by=None, share_value=share_value)


def test_reply_is_valid_block_kit_with_share_button() -> None:
    blocks = reply()
    validate_blocks(blocks)
    assert [b["type"] for b in blocks] == ["header", "section", "context", "actions"]
    assert blocks[-1]["elements"][0]["action_id"] == QUOTA_SHARE == "quota_share"


def test_agreement_name_from_a_file_is_escaped() -> None:
    terms = {
        **EXAMPLE_TERMS,
        "agreement": {**EXAMPLE_TERMS["agreement"], "name": "<!channel> & <@U123>"},
    }
    text = json.dumps(reply("", **terms))
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in text and "<!channel>" not in text


def test_override_folder_wins(tmp_path: Path) -> None:
    (tmp_path / "quota").mkdir()
    (tmp_path / "quota" / "reply.txt.j2").write_text("{{ answer.plan.mqls | number }} MQLs, y'all")
    renderer = Renderer(tmp_path)
    assert renderer.text("quota/reply.txt.j2", answer=answer()) == "3,900 MQLs, y'all"
    # templates not overridden still come from the built-in folder
    assert "Example: /quota" in renderer.text("quota/grammar.txt.j2")


@pytest.mark.parametrize(
    "blocks",
    [
        [{"type": "section"}],  # neither text nor fields
        [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],  # too long
        [{"type": "sectoin", "text": {"type": "mrkdwn", "text": "typo"}}],
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "colour": "red"}],
        [{"type": "divider"}] * 51,
    ],
)
def test_invalid_blocks_are_refused(blocks: list) -> None:
    with pytest.raises(InvalidBlocks):
        validate_blocks(blocks)


def test_number_formats() -> None:
    assert fmt_money(500_000 / 3900) == "$128"
    assert fmt_money(7.5) == "$7.50"
    assert fmt_pct(0.23) == "23%" and fmt_pct(0.825) == "82.5%"
