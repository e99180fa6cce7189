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

from bot.domain.checkin import REASONS
from bot.resources import shipped
from bot.slack import ids

MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100  # a Home tab or a modal
MAX_TEXT = 4000  # a message's `text`: Slack truncates longer ones
# Slack's limits on the text fields slabot fills (Block Kit reference)
SECTION_TEXT, FIELD_TEXT, CONTEXT_TEXT, HEADER_TEXT = 3000, 2000, 2000, 150
BUTTON_TEXT, BUTTON_VALUE, LABEL_TEXT = 75, 2000, 2000
_ELLIPSIS = "…"


class InvalidBlocks(ValueError):
    """A template produced something Slack would reject."""


def builtin_templates_dir() -> Path:
    """`bot/templates` in an installed wheel; the repository's `templates/` in a checkout."""
    return shipped("templates")


def escape_mrkdwn(value: object) -> str:
    """Escape the three characters Slack treats as control sequences (`<!channel>` pings nobody)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_RICH_ICONS = {"large_green_circle": "green_circle"}  # Slack's emoji names rich spells otherwise


class Markup:
    """How a layout marks its text up, so that one macro writes a sentence for both Slack
    (mrkdwn) and a terminal (rich's markup): `m.b(...)`, `m.esc(...)`, `m.icon(...)`."""

    def __init__(self, *, slack: bool) -> None:
        self.slack = slack

    def b(self, text: object) -> str:
        return f"*{text}*" if self.slack else f"[bold]{text}[/bold]"

    def code(self, text: object) -> str:
        return f"`{text}`" if self.slack else str(text)

    def esc(self, text: object) -> str:
        """Text from a CRM or an agreement, shown as written."""
        return escape_mrkdwn(text) if self.slack else rich_escape(str(text))

    def icon(self, name: str | None) -> str:
        if not name:
            return ""
        return f":{name}:" if self.slack else f":{_RICH_ICONS.get(name, name)}:"


MARKUP = {"slack": Markup(slack=True), "terminal": Markup(slack=False)}


def fit(text: str, limit: int) -> str:
    """`text` within `limit` characters, with an ellipsis where it was cut. Never cuts inside
    an escape (`&amp;`) or a link or mention (`<@U123>`), so what is left still reads right."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(_ELLIPSIS)]
    for opener, closer in (("&", ";"), ("<", ">")):
        start = cut.rfind(opener)
        if start > cut.rfind(closer):
            cut = cut[:start]
    return cut + _ELLIPSIS


def _fit_text_object(obj: Any, limit: int) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = fit(obj["text"], limit)


def _fit_element(element: Any) -> None:
    if not isinstance(element, dict):
        return
    if element.get("type") == "button":
        _fit_text_object(element.get("text"), BUTTON_TEXT)
        if isinstance(element.get("value"), str):
            element["value"] = fit(element["value"], BUTTON_VALUE)


def fit_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every text field of `blocks` within Slack's limit for it (in place; returned)."""
    for block in blocks:
        kind = block.get("type")
        if kind == "section":
            _fit_text_object(block.get("text"), SECTION_TEXT)
            for field in block.get("fields") or []:
                _fit_text_object(field, FIELD_TEXT)
            _fit_element(block.get("accessory"))
        elif kind == "header":
            _fit_text_object(block.get("text"), HEADER_TEXT)
        elif kind == "context":
            for element in block.get("elements") or []:
                _fit_text_object(element, CONTEXT_TEXT)
        elif kind == "actions":
            for element in block.get("elements") or []:
                _fit_element(element)
        elif kind == "input":
            _fit_text_object(block.get("label"), LABEL_TEXT)
            _fit_text_object(block.get("hint"), LABEL_TEXT)
    return blocks


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
        self.env.globals["ids"] = ids  # action and callback ids, as listeners register them
        self.env.globals["markup"] = MARKUP
        self.env.globals["checkin_reasons"] = REASONS  # what a check-in answer says
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
        """Text for a terminal or a file: as long as it is."""
        return self.env.get_template(name).render(**context).strip()

    def slack_text(self, name: str, **context: Any) -> str:
        """A message's `text` (its notification and fallback), within Slack's limit."""
        return fit(self.text(name, **context), MAX_TEXT)

    def parts(self, name: str) -> Any:
        """A template's macros, to call from Python: `parts(name).title(q)` is that macro's text
        (the sentences of a message that `bot.slack.messages` lays out)."""
        return _Parts(self.env.get_template(name).module)

    def blocks(self, name: str, *, limit: int = MAX_BLOCKS, **context: Any) -> list[dict[str, Any]]:
        """Render a JSON template, fit every text to Slack's limits and check it (the same
        rendered text is checked once). `limit`: 50 blocks for a message, 100 for a view."""
        raw = self.text(name, **context)
        blocks = fit_blocks(_decode(name, raw))
        if raw not in self._valid:
            validate_blocks(blocks, where=name, limit=limit)
            if len(self._valid) > 4096:
                self._valid.clear()
            self._valid.add(raw)
        return blocks

    def view(self, name: str, **context: Any) -> dict[str, Any]:
        """Render a modal view template; its blocks are checked like a message's."""
        view = _decode(name, self.text(name, **context))
        fit_blocks(view.get("blocks", []))
        if view.get("type") != "modal" or len(view.get("blocks", [])) > 100:
            raise InvalidBlocks(f"{name}: a modal view holds at most 100 blocks")
        for index, block in enumerate(view["blocks"]):
            _validate_one(block, where=f"{name}[{index}]")
        return view


class _Parts:
    """A template's macros, each returning its text without the surrounding whitespace."""

    def __init__(self, module: Any) -> None:
        self._module = module

    def __getattr__(self, macro: str) -> Any:
        render = getattr(self._module, macro)
        return lambda *args, **kwargs: str(render(*args, **kwargs)).strip()


def _decode(name: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidBlocks(f"{name} did not render JSON: {exc}") from exc


def validate_blocks(
    blocks: list[dict[str, Any]], *, where: str = "blocks", limit: int = MAX_BLOCKS
) -> None:
    """Check blocks with slack_sdk's models: known types, known keys, Slack's length limits."""
    if not isinstance(blocks, list) or len(blocks) > limit:
        raise InvalidBlocks(f"{where}: a message holds a list of at most {limit} blocks")
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
