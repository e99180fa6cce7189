"""The rules of the code's shape that import-linter's contracts (pyproject.toml, run by
`.ci/run`) cannot state: no SQL outside `storage/`, and no module importing another's private
names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = ("bot", "storage", "bench")
# what builds or runs SQL; `Engine`, `Connection` and `Session` are handles passed to storage
SQL_NAMES = {
    "select", "insert", "update", "delete", "text", "func", "and_", "or_", "not_", "union",
    "exists", "column", "table", "literal", "literal_column", "case", "bindparam", "cast",
}  # fmt: skip
SQL_CALLS = {"execute", "exec", "exec_driver_sql", "scalar", "scalars"}


def _sources(*packages: str) -> Iterator[tuple[str, ast.Module]]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield str(path.relative_to(ROOT)), ast.parse(path.read_text(), str(path))


def _module_exists(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_sql_outside_storage() -> None:
    found = []
    for where, tree in _sources("bot"):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [
                    f"{where}:{node.lineno} imports {alias.name}"
                    for alias in node.names
                    if alias.name.split(".")[0] in ("sqlalchemy", "sqlmodel")
                ]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
                "sqlalchemy",
                "sqlmodel",
            ):
                found += [
                    f"{where}:{node.lineno} imports {alias.name} from {node.module}"
                    for alias in node.names
                    if alias.name in SQL_NAMES
                ]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SQL_CALLS
            ):
                found.append(f"{where}:{node.lineno} calls .{node.func.attr}()")
    assert found == [], "SQL belongs in storage/:\n" + "\n".join(found)


def test_no_private_name_is_imported_across_modules() -> None:
    found = []
    for where, tree in _sources(*OURS):
        modules: set[str] = set()  # local names bound to one of our modules
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in OURS:
                for alias in node.names:
                    if _private(alias.name):
                        found.append(f"{where}:{node.lineno} imports {node.module}.{alias.name}")
                    elif _module_exists(f"{node.module}.{alias.name}"):
                        modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in OURS and alias.asname:
                        modules.add(alias.asname)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
                and _private(node.attr)
            ):
                found.append(f"{where}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert found == [], "a private name stays in its module:\n" + "\n".join(found)


def test_no_module_outside_a_crm_folder_names_that_crm() -> None:
    """A new CRM is its folder and a registry line: nothing else branches on a CRM's name."""
    from bot.intake.registry import CONNECTORS

    found = []
    for where, tree in _sources("bot", "storage"):
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and node.value in CONNECTORS
                and not where.startswith(f"bot/intake/{node.value}/")
            ):
                found.append(f"{where}:{node.lineno} names {node.value!r}")
    assert found == [], "only a CRM's own folder names it:\n" + "\n".join(found)
