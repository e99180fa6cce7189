"""Read the agreement file (`sla.toml`): TOML → a validated Agreement, or errors that name the
key and the line."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot.domain.agreement import Agreement

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")


@dataclass(frozen=True)
class FileProblem:
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.key}: {self.message}" if self.key else f"{where}{self.message}"


class AgreementFileError(ValueError):
    def __init__(self, problems: list[FileProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(problem) for problem in problems))


def _split_key(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in text.split("."))


def key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """Map each table and key path (array-of-tables entries numbered from 0) to its line."""
    lines: dict[tuple[Any, ...], int] = {}
    table: tuple[Any, ...] = ()
    counts: dict[tuple[str, ...], int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header and not _KEY.match(raw):
            path = _split_key(header.group(2))
            if header.group(1) == "[[":
                counts[path] = counts.get(path, -1) + 1
                table = (*path, counts[path])
                lines.setdefault(path, number)
            else:
                table = path
            lines[table] = number
            continue
        key = _KEY.match(raw)
        if key and not raw.lstrip().startswith("#"):
            lines[(*table, *_split_key(key.group(1)))] = number
    return lines


def _line_for(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known key (check the spelling)"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


Checks = Callable[[Agreement], list[tuple[tuple[str, ...], str]]]  # → (key path, problem)


def parse_agreement(text: str, checks: Checks | None = None) -> Agreement:
    """Parse and validate the agreement file's text, then run `checks` (what the caller knows
    beyond the file, e.g. which CRMs exist). Raises AgreementFileError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"line (\d+)", str(error))
        raise AgreementFileError(
            [FileProblem(int(match.group(1)) if match else None, "", f"not valid TOML ({error})")]
        ) from error
    try:
        agreement = Agreement.model_validate(data)
    except ValidationError as error:
        lines = key_lines(text)
        problems = []
        for item in error.errors():
            loc = tuple(item["loc"])
            key = ".".join(str(part) if not isinstance(part, int) else f"[{part}]" for part in loc)
            problems.append(
                FileProblem(_line_for(loc, lines), key.replace(".[", "["), _message(item))
            )
        raise AgreementFileError(problems) from error
    found = checks(agreement) if checks else []
    if found:
        lines = key_lines(text)
        raise AgreementFileError(
            [FileProblem(_line_for(loc, lines), ".".join(loc), message) for loc, message in found]
        )
    return agreement


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{"sales.first_touch": "4h", "teams[0].name": "na", …} for showing what changed."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, old value, new value) for every key that differs; old is None for a first version."""
    before, after = flatten(old or {}), flatten(new)
    keys = sorted(set(before) | set(after))
    return [
        (key, before.get(key), after.get(key)) for key in keys if before.get(key) != after.get(key)
    ]
