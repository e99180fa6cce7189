"""Files shipped with slabot: in an installed wheel they sit inside the `bot` package
(pyproject's force-include); in a checkout, at the repository's root."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    """`templates`, `examples/sla.toml` or `manifest.yml`, wherever this install keeps it."""
    installed = PACKAGE / name
    return installed if installed.exists() else PACKAGE.parent / name
