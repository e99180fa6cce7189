"""`slabot`: the command line. Each command is a thin call into services; the commands live
in `processes`, `data` and `standup`, the pieces they share in `common`, and are registered
here in the order `slabot --help` lists them."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bot.cli import data, processes, standup
from bot.cli.common import CliError, err, out
from bot.settings import MissingSetting

cli = typer.Typer(
    name="slabot",
    help="Runs the sales ↔ marketing SLA of a revenue team in Slack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # click's help: docstrings reflow, and a flag shows no <bool>
)
db_cli = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
db_cli.command("upgrade")(processes.db_upgrade)
sla_cli = typer.Typer(
    help="The agreement: apply a new version, show the terms, export the newest, propose one.",
    no_args_is_help=True,
)
sla_cli.command("apply")(data.sla_apply)
sla_cli.command("show")(data.sla_show)
sla_cli.command("export")(data.sla_export)
sla_cli.command("propose")(data.sla_propose)


def _print_version(asked: bool) -> None:
    if asked:
        from importlib import metadata

        out.print(f"slabot {metadata.version('slabot')}", markup=False)
        raise typer.Exit()


@cli.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version, exit."
        ),
    ] = False,
) -> None:
    """Runs the sales ↔ marketing SLA of a revenue team in Slack."""


cli.add_typer(db_cli, name="db")
cli.add_typer(sla_cli, name="sla")

cli.command()(processes.serve)
cli.command()(processes.run)
cli.command(context_settings={"ignore_unknown_options": True})(standup.quota)
cli.command("import")(data.import_)
cli.command("sync")(data.sync_)
cli.command()(data.status)
cli.command()(data.doctor)
cli.command()(standup.scan)
cli.command()(standup.digest)
cli.command()(standup.schedule)
cli.command()(processes.clock)
cli.command()(standup.init)
cli.command()(standup.demo)


def main() -> None:
    from storage.outages import outage_reason, unreachable

    try:
        cli()
    except MissingSetting as error:
        err.print(f"slabot: {error}", markup=False)
        sys.exit(2)
    except CliError as error:
        err.print(f"slabot: {error}", markup=False)
        sys.exit(2)
    except Exception as error:
        if not unreachable(error):
            raise
        err.print(
            f"slabot can't reach its database ({outage_reason(error)}) — try again in a "
            "minute, or check DATABASE_URL",
            markup=False,
        )
        sys.exit(1)
