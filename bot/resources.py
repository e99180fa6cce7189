"""Files shipped with slabot: in an installed wheel they sit inside the `bot` package
(pyproject's force-include); in a checkout, at the repository's root."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    """`templates`, `examples/sla.toml` or `manifest.yml`, wherever this install keeps it."""
    installed = PACKAGE / name
    return installed if installed.exists() else PACKAGE.parent / name


@cache
def manifest() -> dict[str, Any]:
    """`manifest.yml`: the app as Slack is told of it (slash commands, bot scopes, events)."""
    import yaml  # only the commands that read the manifest pay for loading it

    return yaml.safe_load(shipped("manifest.yml").read_text(encoding="utf-8"))
