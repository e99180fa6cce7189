"""Jinja2 templates → Block Kit (validated with slack_sdk's models) and plain text.

Every sentence a user reads lives in `templates/`. A folder named by `SLABOT_TEMPLATES` is
searched first, so a team can override any single template.
"""

from __future__ import annotations

import html
import json
import math
from decimal import Decimal
from fractions import Fraction
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


def _half_up(value: float, places: int = 0) -> float:
    """Round half away from zero (Python's round() rounds half to even)."""
    scale = 10**places
    return math.copysign(math.floor(abs(value) * scale + 0.5) / scale, value)


def fmt_number(value: Fraction | Decimal | float | int, places: int = 0) -> str:
    """12,345 (display only: the math itself stays exact)."""
    if isinstance(value, int) and not places:
        return f"{value:,}"
    return f"{_half_up(float(value), places):,.{places}f}"


def fmt_money(value: Fraction | Decimal | float | int) -> str:
    """$128 for whole-dollar scale figures; cents only where they matter (under $10)."""
    number = float(value)
    cents = abs(number) < 10 and _half_up(number, 2) != _half_up(number)
    return "$" + fmt_number(number, 2 if cents else 0)


def fmt_pct(value: Fraction | Decimal | float) -> str:
    """23% or 82.5% (one decimal only where it is not zero)."""
    percent = _half_up(float(value) * 100, 1)
    return f"{percent:,.0f}%" if percent == int(percent) else f"{percent:,.1f}%"


def fmt_minutes(value: float | None) -> str:
    """52m, 1h 35m, 6h (business time is reported in hours and minutes)."""
    if value is None:
        return "–"
    minutes = int(_half_up(float(value)))
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest}m"
    return f"{hours}h {rest}m" if rest else f"{hours}h"


def progress_bar(
    share: Fraction | float | None, marker: Fraction | float | None = None, width: int = 20
) -> str:
    """`██████████░░┃░░░░░░░` — filled to `share` of the target, `┃` where expected is today."""
    filled = min(width, max(0, int(_half_up(float(share or 0) * width))))
    cells = ["█"] * filled + ["░"] * (width - filled)
    if marker is not None:
        cells.insert(min(width, max(0, int(_half_up(float(marker) * width)))), "┃")
    return "".join(cells)


def _json_string(value: object) -> str:
    """JSON for a value inside a JSON template (Jinja's own `tojson` also HTML-escapes)."""
    return json.dumps(value, ensure_ascii=False)


class Renderer:
    """Renders named templates. One per process; templates are compiled once and cached."""

    def __init__(self, override_dir: Path | None = None) -> None:
        loaders = [FileSystemLoader(str(builtin_templates_dir()))]
        if override_dir is not None:
            loaders.insert(0, FileSystemLoader(str(override_dir)))
        self._valid: set[str] = set()
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,  # templates are read once per process
        )
        self.env.filters.update(
            tojson=_json_string,
            mrkdwn=escape_mrkdwn,
            richesc=lambda value: rich_escape(str(value)),
            plain=lambda value: html.unescape(str(value)),  # mrkdwn-escaped text, for a terminal
            number=fmt_number,
            money=fmt_money,
            pct=fmt_pct,
            minutes=fmt_minutes,
            bar=progress_bar,
        )

    def text(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context).strip()

    def blocks(self, name: str, **context: Any) -> list[dict[str, Any]]:
        """Render a JSON template and check it (the same rendered text is checked once)."""
        raw = self.text(name, **context)
        blocks = _decode(name, raw)
        if raw not in self._valid:
            validate_blocks(blocks, where=name)
            if len(self._valid) > 4096:
                self._valid.clear()
            self._valid.add(raw)
        return blocks

    def view(self, name: str, **context: Any) -> dict[str, Any]:
        """Render a modal view template; its blocks are checked like a message's."""
        view = _decode(name, self.text(name, **context))
        if view.get("type") != "modal" or len(view.get("blocks", [])) > 100:
            raise InvalidBlocks(f"{name}: a modal view holds at most 100 blocks")
        for index, block in enumerate(view["blocks"]):
            _validate_one(block, where=f"{name}[{index}]")
        return view


def _decode(name: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidBlocks(f"{name} did not render JSON: {exc}") from exc


def validate_blocks(blocks: list[dict[str, Any]], *, where: str = "blocks") -> None:
    """Check blocks with slack_sdk's models: known types, known keys, Slack's length limits."""
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        raise InvalidBlocks(f"{where}: a message holds a list of at most {MAX_BLOCKS} blocks")
    for index, block in enumerate(blocks):
        _validate_one(block, where=f"{where}[{index}]")


# slack_sdk's checks depend on a block's types, keys and the lengths of its strings, not on
# what the strings say: a shape that passed once passes again (a scan renders hundreds of
# lead lines that differ only in their text).
_LITERAL_KEYS = frozenset({"type", "style"})
_valid_shapes: set[str] = set()


def _shape(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    if isinstance(value, str) and key not in _LITERAL_KEYS:
        return len(value)
    return value


def _validate_one(block: dict[str, Any], *, where: str) -> None:
    shape = json.dumps(_shape(block), sort_keys=True)
    if shape in _valid_shapes:
        return
    _check_with_models(block, where=where)
    if len(_valid_shapes) > 20_000:
        _valid_shapes.clear()
    _valid_shapes.add(shape)


def _check_with_models(block: dict[str, Any], *, where: str) -> None:
    try:
        parsed = Block.parse(block)
        if parsed is None:
            raise InvalidBlocks(f"{where}: unknown block type {block.get('type')!r}")
        if parsed.to_dict() != block:
            raise InvalidBlocks(f"{where}: keys slack_sdk does not know in {block}")
    except SlackObjectFormationError as exc:
        raise InvalidBlocks(f"{where}: {exc}") from exc
