"""Jinja2 templates → Block Kit (validated with slack_sdk's models) and plain text.

Every sentence a user reads lives in `templates/`. A folder named by `SLABOT_TEMPLATES` is
searched first, so a team can override any single template.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined
from rich.markup import escape as rich_escape
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

MAX_BLOCKS = 50
MAX_TEXT = 3000  # the fallback `text` is truncated by Slack at 40k; keep notifications short


class InvalidBlocks(ValueError):
    """A template produced something Slack would reject."""


def builtin_templates_dir() -> Path:
    """`bot/templates` in an installed wheel; the repository's `templates/` in a checkout."""
    here = Path(__file__).resolve().parent.parent
    installed = here / "templates"
    return installed if installed.is_dir() else here.parent / "templates"


def escape_mrkdwn(value: object) -> str:
    """Escape the three characters Slack treats as control sequences (`<!channel>` pings nobody)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _round(value: Fraction | Decimal | float | int, places: int = 0) -> Decimal:
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    exponent = Decimal(1).scaleb(-places)
    return Decimal(value).quantize(exponent, rounding=ROUND_HALF_UP)


def fmt_number(value: Fraction | Decimal | float | int, places: int = 0) -> str:
    return f"{_round(value, places):,.{places}f}"


def fmt_money(value: Fraction | Decimal | float | int) -> str:
    """$128 for whole-dollar scale figures; cents only where they matter (under $10)."""
    places = 2 if abs(value) < 10 and _round(value, 2) != _round(value) else 0
    return "$" + fmt_number(value, places)


def fmt_pct(value: Fraction | Decimal | float, places: int = 0) -> str:
    percent = _round(Fraction(value) * 100 if not isinstance(value, Decimal) else value * 100, 1)
    if places == 0 and percent != percent.to_integral_value():
        places = 1
    return f"{_round(percent, places):,.{places}f}%"


class Renderer:
    """Renders named templates. One per process; templates are compiled once and cached."""

    def __init__(self, override_dir: Path | None = None) -> None:
        loaders = [FileSystemLoader(str(builtin_templates_dir()))]
        if override_dir is not None:
            loaders.insert(0, FileSystemLoader(str(override_dir)))
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters.update(
            mrkdwn=escape_mrkdwn,
            richesc=rich_escape,
            number=fmt_number,
            money=fmt_money,
            pct=fmt_pct,
        )

    def text(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context).strip()

    def blocks(self, name: str, **context: Any) -> list[dict[str, Any]]:
        raw = self.text(name, **context)
        try:
            blocks = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidBlocks(f"{name} did not render JSON: {exc}") from exc
        validate_blocks(blocks, where=name)
        return blocks


def validate_blocks(blocks: list[dict[str, Any]], *, where: str = "blocks") -> None:
    """Check blocks with slack_sdk's models: known types, known keys, Slack's length limits."""
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        raise InvalidBlocks(f"{where}: a message holds a list of at most {MAX_BLOCKS} blocks")
    for index, block in enumerate(blocks):
        _validate_one(json.dumps(block, sort_keys=True), where=f"{where}[{index}]")


@lru_cache(maxsize=4096)
def _validate_one(block_json: str, *, where: str) -> None:
    block = json.loads(block_json)
    try:
        parsed = Block.parse(block)
        if parsed is None:
            raise InvalidBlocks(f"{where}: unknown block type {block.get('type')!r}")
        if parsed.to_dict() != block:
            raise InvalidBlocks(f"{where}: keys slack_sdk does not know in {block}")
    except SlackObjectFormationError as exc:
        raise InvalidBlocks(f"{where}: {exc}") from exc
