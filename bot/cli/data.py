"""What slabot knows: the agreement (`sla apply`, `sla show`), leads from files (`import`) and
the CRMs (`sync`), and `status`."""

from __future__ import annotations

import re
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import (
    CliError,
    err,
    open_engine,
    out,
    parse_date,
    parse_time,
    refresh_people,
)
from bot.settings import Settings


def sla_apply(
    path: Annotated[
        str | None,
        typer.Argument(help="The agreement file, - for standard input (default $SLABOT_CONFIG)."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Validate and print what would change; store nothing."),
    ] = False,
) -> None:
    """Validate the agreement file, store it as a new version and print what changed."""
    from bot.domain.agreement_checks import placeholders, target_checks
    from bot.domain.agreement_file import AgreementFileError, parse_agreement
    from bot.intake.registry import crm_problems
    from bot.intake.unowned import assign_known_owners
    from bot.services.agreements import apply_agreement
    from bot.slack.render import Renderer
    from storage.agreements import changes_from_latest

    settings = Settings()
    source = path or str(settings.config_path)
    text = _agreement_text(source)
    engine = open_engine(settings)
    renderer = Renderer(settings.templates_dir)
    try:
        text = _channel_names_resolved(text, settings)
        agreement = parse_agreement(text, crm_problems)
        if check:
            diff = changes_from_latest(engine, agreement)
            out.print(renderer.text("sla/checked.txt.j2", changes=diff), markup=False)
        else:
            applied = apply_agreement(engine, text, applied_by=f"cli:{source}")
    except AgreementFileError as error:
        for problem in error.problems:
            line = f"{problem.line}:" if problem.line else ""
            key = f" {problem.key}:" if problem.key else ""
            err.print(f"{source}:{line}{key} {problem.message}", markup=False)
        raise typer.Exit(1 if check else 2) from error
    sentences = renderer.parts("doctor/checks.txt.j2")
    for finding in placeholders(agreement) + target_checks(agreement):
        err.print(f"warning: {sentences.sentence(finding)}", markup=False)
    if check:
        return
    out.print(renderer.text("sla/applied.txt.j2", applied=applied))
    if applied.created:
        assigned = assign_known_owners(engine, applied.agreement)
        if assigned:
            out.print(f"{assigned:,} unowned lead(s) now have an owner the agreement names.")


def _agreement_text(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot read the agreement file {source}: {error.strerror}") from error


def _channel_names_resolved(text: str, settings: Settings) -> str:
    """The text with each team channel written by name (`#sales-standup`) replaced by its id,
    looked up in Slack; without a bot token the name is left for validation to refuse."""
    import tomllib

    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.domain.agreement_checks import channel_name
    from bot.slack.channels import channel_ids
    from bot.slack.client import make_web_client

    try:
        teams = tomllib.loads(text).get("teams", [])
    except tomllib.TOMLDecodeError:
        return text  # validation says where
    named: dict[str, str] = {}  # as written → the name to look up
    for team in teams:
        written = team.get("channel") if isinstance(team, dict) else None
        name = channel_name(written) if isinstance(written, str) else None
        if written and name:
            named[written] = name
    if not named or settings.slack_bot_token is None:
        return text
    try:
        found = channel_ids(make_web_client(settings, timeout=10), set(named.values()))
    except (SlackApiError, SlackClientError, OSError) as error:
        reason = error.response.get("error") if isinstance(error, SlackApiError) else error
        raise CliError(
            f"could not look up {', '.join(f'#{name}' for name in named.values())} in Slack "
            f"({reason}): write the channel's id (C…) instead"
        ) from error
    missing = sorted(f"#{name}" for name in named.values() if name not in found)
    if missing:
        raise CliError(
            f"no channel {', '.join(missing)} that the app can see: check the name, or invite "
            "the app to a private channel (`/invite @slabot`) and apply again"
        )
    for written, name in named.items():
        text = re.sub(rf'(channel\s*=\s*)"{re.escape(written)}"', rf'\g<1>"{found[name]}"', text)
        err.print(f"#{name} is {found[name]}", markup=False)
    return text


def doctor() -> None:
    """Check the installation: database, agreement, Slack token and scopes, team channels,
    reps in Slack, owners nobody matches, CRMs and the clock. Exit 1 on any problem."""
    from bot.domain.checkup import Check
    from bot.services.doctor import local_checks
    from bot.slack.client import make_web_client
    from bot.slack.installation import slack_checks
    from bot.slack.render import Renderer
    from storage.agreements import agreement_in_force

    settings = Settings()
    engine = open_engine(settings)
    now = datetime.now(UTC)
    agreement = agreement_in_force(engine, on=now.date())
    checks = local_checks(engine, settings, agreement, now=now)
    if settings.slack_bot_token is None:
        checks.append(Check("Slack", False, "no_token"))
    else:
        checks += slack_checks(make_web_client(settings, timeout=10), agreement)
    out.print(Renderer(settings.templates_dir).text("doctor/checks.txt.j2", checks=checks),
              markup=False)  # fmt: skip
    if not all(check.ok for check in checks):
        raise typer.Exit(1)


def sla_export(
    path: Annotated[
        Path | None, typer.Argument(help="Where to write it (default: print it here).")
    ] = None,
) -> None:
    """Write the newest agreement version back to TOML: the file as applied, with the changes
    made in Slack since (owners mapped, out-of-office days), comments kept."""
    from bot.services.agreement_edits import NoAgreementApplied, newest_text

    try:
        text = newest_text(open_engine(Settings()))
    except NoAgreementApplied as error:
        raise CliError("no agreement has been applied: `slabot sla apply sla.toml`") from error
    if path is None:
        out.print(text, markup=False, end="")
        return
    path.write_text(text, encoding="utf-8")
    err.print(f"wrote {path}", markup=False)


def sla_show(
    on: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (default: today).")] = None,
) -> None:
    """Print the terms in force (on a date)."""
    from bot.slack.render import Renderer
    from storage.agreements import version_in_force

    settings = Settings()
    day = parse_date(on) if on else date.today()
    found = version_in_force(open_engine(settings), on=day)
    if found is None:
        raise CliError(f"no agreement is in force on {day}: apply one with `slabot sla apply`")
    row, agreement = found
    out.print(
        Renderer(settings.templates_dir).text(
            "sla/terms.txt.j2",
            agreement=agreement,
            version=row.version,
            in_force_from=row.in_force_from,
            signed_by=row.signed_by,
            applied_by=row.applied_by,
        )
    )


def sla_propose(
    path: Annotated[str, typer.Argument(help="The proposed agreement file, - for standard input.")],
) -> None:
    """Post a new version for sign-off: its card in the agreement's channel, with Approve
    and Request changes for the signatories (stored once every one of them approves)."""
    from bot.domain.agreement_file import AgreementFileError
    from bot.flows.delivery import sender
    from bot.services import proposals
    from bot.services.agreement_edits import NoAgreementApplied
    from bot.slack.render import Renderer

    settings = Settings()
    engine = open_engine(settings)
    renderer = Renderer(settings.templates_dir)
    try:
        text = _channel_names_resolved(_agreement_text(path), settings)
        proposal, items = proposals.propose(engine, renderer, text, by="cli", now=datetime.now(UTC))
    except AgreementFileError as error:
        for problem in error.problems:
            line = f"{problem.line}:" if problem.line else ""
            key = f" {problem.key}:" if problem.key else ""
            err.print(f"{path}:{line}{key} {problem.message}", markup=False)
        raise typer.Exit(2) from error
    except (NoAgreementApplied, proposals.ProposalRefused) as error:
        raise CliError(f"not proposed: {error}") from error
    out.print(renderer.text("agreement/proposed.txt.j2", p=proposal), markup=False)
    if settings.slack_bot_token is not None:
        report = sender(engine, settings).deliver(only=items)
        if report.failed or report.retrying:
            err.print("the card is queued: the running app posts it", markup=False)


def import_(
    path: Annotated[
        Path, typer.Argument(help="A CSV file: native leads or touches, HubSpot or Salesforce.")
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="auto | native | touches | hubspot | salesforce")
    ] = "auto",
    strict: Annotated[
        bool, typer.Option("--strict", help="Any rejected row aborts the whole import.")
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="Where to write rejected rows (default: beside the file).")
    ] = None,
    history: Annotated[
        bool,
        typer.Option(
            "--history",
            help="A backfill: SLA levels these leads already reached are not told to anyone.",
        ),
    ] = False,
) -> None:
    """Import leads or touches from a CSV (upsert by external id: re-importing changes nothing)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from bot.intake.csv_import import FORMATS, ImportRefused, import_csv
    from bot.intake.exports import status_choices
    from bot.intake.reader_process import collect_less
    from bot.slack.render import Renderer
    from storage.agreements import agreement_in_force

    if fmt not in FORMATS:
        raise CliError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    settings = Settings()
    engine = open_engine(settings)
    refresh_people(engine, settings)
    collect_less()
    rejects = rejects or path.with_name(path.stem + ".rejects.csv")
    columns = (
        *Progress.get_default_columns()[:1],
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(f"importing {path.name}", total=path.stat().st_size)
        try:
            summary = import_csv(
                engine,
                path,
                fmt=fmt,
                strict=strict,
                history=history,
                rejects_path=rejects,
                progress=lambda done: bar.update(task, completed=done),
            )
        except ImportRefused as error:
            raise CliError(str(error)) from error
        except OSError as error:
            raise CliError(f"cannot read {path}: {error.strerror or error}") from error
    agreement = agreement_in_force(engine, on=datetime.now(UTC).date())
    split = list(agreement.marketing.sources) if agreement is not None else []
    out.print(
        Renderer(settings.templates_dir).text(
            "ingest/summary.txt.j2",
            s=summary,
            path=path,
            status_choices=status_choices(),
            outside=summary.outside(split),
            split=split,
        )
    )
    if summary.aborted or summary.rejected:  # the good rows are kept; a script must notice
        raise typer.Exit(1)


def sync_(
    crm: Annotated[
        str | None,
        typer.Option("--crm", help="hubspot | salesforce (default: every configured CRM)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Read changes from this ISO time instead of the cursor."),
    ] = None,
) -> None:
    """One pass of the live CRM sync (the clock runs one every minute).

    Reads contacts (HubSpot) or leads and completed tasks (Salesforce) changed since the
    stored cursor."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    from bot.intake.exports import status_choices
    from bot.intake.reader_process import collect_less
    from bot.intake.registry import CONNECTORS, connected
    from bot.intake.sync import sync, sync_line

    settings = Settings()
    if crm is not None and crm not in CONNECTORS:
        raise CliError(f"--crm must be {' or '.join(CONNECTORS)} (got {crm!r})")
    if crm is not None and crm not in connected(settings):
        setting = CONNECTORS[crm].setup
        raise CliError(f"{crm} is not configured: set {setting} (see README, Live CRM sync)")
    if not connected(settings):
        setups = ", or ".join(each.setup for each in CONNECTORS.values())
        raise CliError(f"no CRM is configured: set {setups} (see README, Live CRM sync)")
    start = parse_time(since) if since else None
    engine = open_engine(settings)
    refresh_people(engine, settings)
    collect_less()
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:

        def progress(name: str):
            task = bar.add_task(f"syncing {name}", total=None)
            return lambda done, total: bar.update(task, completed=done, total=max(total, done))

        reports = sync(
            engine, settings, crm=crm, since=start, progress=progress, read_in_process=True
        )
    for report in reports:
        out.print(sync_line(report), markup=False)
        for line in report.fixes():
            out.print(f"  {line}", markup=False)
        if any(what in ("status", "lead_status") for what, _ in report.unmatched):
            out.print("  A status maps to one of:", markup=False)
            for choice in status_choices():
                out.print(f"    {choice}", markup=False)
    if any(report.error for report in reports):
        raise typer.Exit(1)


def status() -> None:
    """What is loaded, what could not be placed, and whether the app is in each channel.

    Leads per CRM, unowned leads and their owners, rejected webhook events of the last 7
    days, the last import and webhook; and whether the app is in each team's channel (public
    ones are joined here)."""
    from bot.intake.registry import handoff_columns
    from bot.slack.channels import join_team_channels
    from bot.slack.client import make_web_client
    from bot.slack.delivery import RECIPIENT_REFUSALS
    from bot.slack.render import Renderer
    from storage import pauses
    from storage.agreements import agreement_in_force
    from storage.ingest_log import load_status

    settings = Settings()
    engine = open_engine(settings)
    now = datetime.now(UTC)
    with engine.connect() as connection:
        loaded = load_status(connection, now=now)
        pause = pauses.paused(connection, pauses.SLACK)
        refused = pauses.refused_recipients(
            connection, RECIPIENT_REFUSALS, since=now - timedelta(days=7)
        )
    agreement = agreement_in_force(engine, on=now.date())
    channels = None
    if agreement is not None and settings.slack_bot_token:
        teams = [team.channel for team in agreement.teams]
        channels = join_team_channels(make_web_client(settings), teams)
    out.print(
        Renderer(settings.templates_dir).text(
            "ingest/status.txt.j2",
            s=loaded,
            channels=channels,
            agreement=agreement,
            handoff_columns=handoff_columns,
            pause=pause,
            refused=refused,
        )
    )
