"""`slabot`: the command line. Each command is a thin call into services."""

from __future__ import annotations

import html
import logging
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.settings import MissingSetting, Settings

cli = typer.Typer(
    name="slabot",
    help="Runs the sales ↔ marketing SLA of a revenue team in Slack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_cli = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
sla_cli = typer.Typer(
    help="The agreement: apply a new version, show the terms.", no_args_is_help=True
)
cli.add_typer(sla_cli, name="sla")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class CliError(Exception):
    """A failure to report in one line, with exit code 2."""


NO_AGREEMENT = "no agreement is in force: apply one with `slabot sla apply sla.toml`"


def _configure_logging() -> None:
    """Plain lines, or with LOG_FORMAT=json one JSON object per line (a message's newlines
    and quotes escaped, a traceback in its `exc_info` field)."""
    if Settings().log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler = logging.StreamHandler()
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
        logging.basicConfig(level=logging.INFO, handlers=[handler])
    else:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    for noisy in ("slack_sdk", "slack_bolt", "urllib3", "apscheduler.executors", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _engine(settings: Settings, *, migrate_embedded: bool = True, serving: bool = False):
    """The engine for DATABASE_URL, at the newest schema: an embedded SQLite file is upgraded
    in place; a shared database must have been upgraded by `slabot db upgrade`. A `serving`
    process (web, clock) bounds each statement by SLABOT_STATEMENT_TIMEOUT."""
    from storage.db import is_sqlite, make_engine
    from storage.migrate import SchemaBehind, ensure_current

    _refuse_private_database(settings)
    engine = make_engine(
        settings.database_url, statement_timeout=settings.statement_timeout if serving else None
    )
    try:
        ensure_current(engine, auto_upgrade=migrate_embedded and is_sqlite(settings.database_url))
    except SchemaBehind as error:
        raise CliError(str(error)) from error
    return engine


def _refuse_private_database(settings: Settings) -> None:
    """On a platform host (Heroku sets DYNO) every process has its own disk: an embedded
    SQLite file would be a different database in the web and the clock, without a word."""
    import os

    from storage.db import is_sqlite

    if os.environ.get("DYNO") and is_sqlite(settings.database_url):
        raise CliError(
            "DATABASE_URL is not set on this platform host (DYNO is set): each process would "
            "keep its own SQLite file. Add PostgreSQL (heroku addons:create heroku-postgresql)"
        )


def _sending(dry_run: bool):
    """Settings and renderer for a command that posts to Slack unless `dry_run`."""
    from bot.slack.render import Renderer

    settings = Settings()
    if not dry_run:
        settings.require("SLACK_BOT_TOKEN")
    _configure_logging()
    return settings, Renderer(settings.templates_dir)


@cli.command()
def serve(
    with_clock: Annotated[
        bool,
        typer.Option(
            "--with-clock",
            help="Also run the clock (digests, breach scan, delivery) beside the web "
            "workers, for an install with one process (one dyno).",
        ),
    ] = False,
) -> None:
    """The web process: Bolt over HTTP on $PORT (POST /slack/events, GET /healthz)."""
    from bot.app import build_app
    from bot.server import serve as run_server
    from bot.web import create_web_app

    settings = Settings()
    settings.require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
    _configure_logging()
    _engine(settings).dispose()  # migrate (or refuse) once, before the workers fork

    def factory():
        engine = _engine(settings, migrate_embedded=False, serving=True)
        return create_web_app(build_app(settings, engine), engine, settings)

    clock = _clock_beside() if with_clock else None
    try:
        run_server(
            factory,
            port=settings.port,
            workers=settings.web_concurrency,
            json_logs=settings.log_format == "json",
        )
    finally:
        if clock is not None:
            _stop_child(clock)


CLOCK_STARTS_WITHIN = 5  # seconds in which a clock that cannot run says so and exits


def _clock_beside():
    """`slabot clock` as a child process (its own scheduler threads never meet gunicorn's
    forks). A clock that refuses to start (a second one on SQLite) stops `serve` too."""
    import subprocess

    child = subprocess.Popen([sys.executable, "-m", "bot", "clock"])
    try:
        code = child.wait(timeout=CLOCK_STARTS_WITHIN)
    except subprocess.TimeoutExpired:
        return child
    raise typer.Exit(code or 1)  # the clock has said why, in one line


def _stop_child(child) -> None:
    import subprocess

    from bot.scheduler import STOP_GRACE

    child.terminate()
    try:
        child.wait(timeout=STOP_GRACE + 5)
    except subprocess.TimeoutExpired:
        child.kill()


@cli.command()
def run() -> None:
    """Everything in one process over Socket Mode (needs SLACK_APP_TOKEN): the listeners and
    the clock's jobs (digests, breach scan, delivery). SIGTERM lets the work in hand finish."""
    import signal
    import threading

    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import build_app
    from bot.scheduler import start_background_clock
    from storage.clock import ClockAlreadyRunning

    settings = Settings()
    settings.require("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")
    _configure_logging()
    engine = _engine(settings, serving=True)
    app = build_app(settings, engine, socket_mode=True)
    try:
        clock = start_background_clock(settings, engine)
    except ClockAlreadyRunning as error:
        err.print(f"slabot: {error}", markup=False)
        raise typer.Exit(1) from error
    handler = SocketModeHandler(app, Settings.secret(settings.slack_app_token))
    handler.connect()
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        logging.getLogger(__name__).info(
            "%s: finishing the work in hand", signal.Signals(signum).name
        )
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopping.wait()
    clock.stop_taking_work()
    handler.close()
    clock.finish()


@db_cli.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply the migrations (the Procfile's release phase)."""
    from alembic.util import CommandError

    from storage.db import make_engine
    from storage.migrate import upgrade

    settings = Settings()
    _refuse_private_database(settings)
    try:
        before, after = upgrade(make_engine(settings.database_url), revision)
    except CommandError as error:
        raise CliError(f"cannot upgrade to {revision!r}: {error}") from error
    if before == after:
        out.print(f"database already at revision {after}")
    else:
        out.print(f"database upgraded from {before or 'empty'} to {after}")


@cli.command(context_settings={"ignore_unknown_options": True})
def quota(
    words: Annotated[
        list[str] | None,
        typer.Argument(help="AMOUNT aov=AMOUNT win=PCT sql2opp=PCT mql2sql=PCT period=… source=…"),
    ] = None,
) -> None:
    """Walk a revenue quota back to deals, opportunities, SQLs and MQLs (same grammar as /quota)."""
    from bot.domain.quota_args import QuotaInputError, parse_quota_args
    from bot.services.quota import answer_quota
    from bot.slack.render import Renderer

    settings = Settings()
    renderer = Renderer(settings.templates_dir)
    text = " ".join(words or [])
    grammar = renderer.text("quota/grammar.txt.j2")
    try:
        request = parse_quota_args(text)
        if request.help:
            out.print(grammar, markup=False)
            return
        answer = answer_quota(_engine(settings), request)
    except QuotaInputError as error:
        err.print(
            html.unescape(renderer.text("quota/error.txt.j2", message=str(error))), markup=False
        )
        err.print(grammar, markup=False)
        raise typer.Exit(2) from error
    out.print(renderer.text("quota/terminal.txt.j2", answer=answer))


@sla_cli.command("apply")
def sla_apply(
    path: Annotated[
        Path | None, typer.Argument(help="The agreement file (default $SLABOT_CONFIG).")
    ] = None,
) -> None:
    """Validate the agreement file, store it as a new version and print what changed."""
    from bot.domain.agreement_file import AgreementFileError
    from bot.services.agreements import apply_agreement
    from bot.services.crm_mapping import assign_known_owners
    from bot.slack.render import Renderer

    settings = Settings()
    path = path or settings.config_path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot read the agreement file {path}: {error.strerror}") from error
    engine = _engine(settings)
    try:
        applied = apply_agreement(engine, text, applied_by=f"cli:{path}")
    except AgreementFileError as error:
        for problem in error.problems:
            line = f"{problem.line}:" if problem.line else ""
            key = f" {problem.key}:" if problem.key else ""
            err.print(f"{path}:{line}{key} {problem.message}", markup=False)
        raise typer.Exit(2) from error
    out.print(Renderer(settings.templates_dir).text("sla/applied.txt.j2", applied=applied))
    if applied.created:
        assigned = assign_known_owners(engine, applied.agreement)
        if assigned:
            out.print(f"{assigned:,} unowned lead(s) now have an owner the agreement names.")


@sla_cli.command("show")
def sla_show(
    on: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (default: today).")] = None,
) -> None:
    """Print the terms in force (on a date)."""
    from bot.services.agreements import version_in_force
    from bot.slack.render import Renderer

    settings = Settings()
    day = _parse_date(on) if on else date.today()
    found = version_in_force(_engine(settings), on=day)
    if found is None:
        raise CliError(f"no agreement is in force on {day}: apply one with `slabot sla apply`")
    row, agreement = found
    out.print(
        Renderer(settings.templates_dir).text(
            "sla/terms.txt.j2",
            agreement=agreement,
            version=row.version,
            in_force_from=row.in_force_from,
        )
    )


@cli.command("import")
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

    from bot.services.ingest import FORMATS, ImportRefused, import_csv
    from bot.slack.render import Renderer

    if fmt not in FORMATS:
        raise CliError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    settings = Settings()
    engine = _engine(settings)
    _refresh_people(engine, settings)
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
    out.print(Renderer(settings.templates_dir).text("ingest/summary.txt.j2", s=summary, path=path))
    if summary.aborted or summary.rejected:  # the good rows are kept; a script must notice
        raise typer.Exit(1)


@cli.command("sync")
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
    """One pass of the live CRM sync: contacts (HubSpot) or leads and completed tasks
    (Salesforce) changed since the stored cursor. The clock runs it every minute."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    from bot.services.crm_sync import CRMS, sync, sync_line

    settings = Settings()
    if crm is not None and crm not in CRMS:
        raise CliError(f"--crm must be hubspot or salesforce (got {crm!r})")
    if crm is not None and crm not in settings.crms:
        setting = (
            "HUBSPOT_ACCESS_TOKEN"
            if crm == "hubspot"
            else "SALESFORCE_USERNAME and SALESFORCE_CONSUMER_KEY"
        )
        raise CliError(f"{crm} is not configured: set {setting} (see README, Live CRM sync)")
    if not settings.crms:
        raise CliError(
            "no CRM is configured: set HUBSPOT_ACCESS_TOKEN, or the SALESFORCE_* settings "
            "(see README, Live CRM sync)"
        )
    start = _parse_time(since) if since else None
    engine = _engine(settings)
    _refresh_people(engine, settings)
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:

        def progress(name: str):
            task = bar.add_task(f"syncing {name}", total=None)
            return lambda done, total: bar.update(task, completed=done, total=max(total, done))

        reports = sync(engine, settings, crm=crm, since=start, progress=progress)
    for report in reports:
        out.print(sync_line(report), markup=False)
        for line in report.fixes():
            out.print(f"  {line}", markup=False)
    if any(report.error for report in reports):
        raise typer.Exit(1)


def _refresh_people(engine, settings: Settings) -> None:
    """Owners given by name are also found by Slack real name: keep `users.list` fresh when
    Slack is configured; without it (or when Slack fails) names match the agreement only."""
    if not Settings.secret(settings.slack_bot_token):
        return
    from bot.slack.client import make_web_client
    from bot.slack.directory import SlackApiError, refresh_profiles

    try:
        refresh_profiles(engine, make_web_client(settings, timeout=10))
    except (SlackApiError, OSError) as error:
        err.print(
            f"Slack's people list could not be read ({error}); owners match by email, "
            "CRM ids and the agreement's names only."
        )


@cli.command()
def status() -> None:
    """What is loaded: leads per CRM, unowned leads and their owners, rejected webhook events
    of the last 7 days, the last import and webhook; and whether the app is in each team's
    channel (public ones are joined here)."""
    from bot.services.agreements import agreement_in_force
    from bot.slack.channels import join_team_channels
    from bot.slack.client import make_web_client
    from bot.slack.render import Renderer
    from storage.ingest_log import load_status

    settings = Settings()
    engine = _engine(settings)
    now = datetime.now(UTC)
    with engine.connect() as connection:
        loaded = load_status(connection, now=now)
    agreement = agreement_in_force(engine, on=now.date())
    channels = None
    if agreement is not None and settings.slack_bot_token:
        teams = [team.channel for team in agreement.teams]
        channels = join_team_channels(make_web_client(settings), teams)
    out.print(
        Renderer(settings.templates_dir).text(
            "ingest/status.txt.j2", s=loaded, channels=channels, agreement=agreement
        )
    )


@cli.command()
def scan(
    at: Annotated[
        str | None, typer.Option("--at", help="Evaluate as of this ISO time instead of now.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print who would be told what; send nothing.")
    ] = False,
) -> None:
    """Evaluate every open lead against the SLA, queue the alerts and deliver them."""
    from rich.progress import Progress

    from bot.flows.alerts import scan_and_deliver
    from bot.services.clocks import BATCH, stale_count

    settings, renderer = _sending(dry_run)
    now = _parse_time(at) if at else datetime.now(UTC)
    engine = _engine(settings)
    stale = stale_count(engine)
    with Progress(console=err, transient=True, disable=stale <= BATCH) as bar:
        task = bar.add_task("Computing SLA clocks", total=stale)
        outcome = scan_and_deliver(
            engine,
            renderer,
            settings,
            now=now,
            dry_run=dry_run,
            wait=timedelta(minutes=2),
            progress=lambda done: bar.update(task, completed=done),
        )
    if outcome.result.agreement is None:
        raise CliError(NO_AGREEMENT)
    out.print(renderer.text("alerts/scan.txt.j2", result=outcome.result, now=now, dry_run=dry_run))
    if outcome.report is not None:
        out.print(
            renderer.text("alerts/delivery.txt.j2", report=outcome.report, pending=outcome.pending)
        )


@cli.command()
def digest(
    team: Annotated[str | None, typer.Option(help="One team (default: every team).")] = None,
    on: Annotated[
        str | None, typer.Option("--date", help="YYYY-MM-DD: as of that morning (default today).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the digest here; post nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Post again although this day's digest went out.")
    ] = False,
) -> None:
    """Compute the stand-up digest and post it to the team's channel (once per team and day)."""
    from bot.flows.digest import post_digests
    from bot.services.agreements import agreement_in_force
    from bot.services.digest import DigestError, compute_digest
    from storage import outbox

    settings, renderer = _sending(dry_run)
    engine = _engine(settings)
    day = _parse_date(on) if on else None
    now = datetime.now(UTC)
    agreement = agreement_in_force(engine, on=day or now.date())
    if agreement is None:
        raise CliError(NO_AGREEMENT)
    names: list[str | None] = [team] if team else [each.name for each in agreement.teams]
    try:
        if dry_run:
            for name in names or [None]:
                found = compute_digest(engine, team=name, day=day, now=now)
                out.print(renderer.text("digest/terminal.txt.j2", d=found))
                out.print()
            return
        queued, report = post_digests(
            engine, renderer, settings, teams=names or [None], day=day, now=now, force=force,
            wait=timedelta(minutes=2), everything=True,
        )  # fmt: skip
    except DigestError as error:
        raise CliError(str(error)) from error
    refused = [each for each in queued if each.item_id is None]
    for each in refused:
        err.print(renderer.text("digest/already.txt.j2", q=each), markup=False)
    with engine.connect() as connection:
        pending = outbox.counts(connection).get("pending", 0)
    out.print(renderer.text("alerts/delivery.txt.j2", report=report, pending=pending))
    if refused:
        raise typer.Exit(1)


@cli.command()
def schedule(
    team: Annotated[str | None, typer.Option(help="One team (default: every team).")] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="How many days to list.")] = 14,
    start: Annotated[
        str | None, typer.Option("--from", help="YYYY-MM-DD (default: today).")
    ] = None,
) -> None:
    """List the coming days: when each team's digest posts, or why the day is skipped."""
    from bot.scheduler import upcoming
    from bot.services.agreements import agreement_in_force
    from bot.services.digest import DigestError, resolve_team
    from bot.slack.render import Renderer

    settings = Settings()
    engine = _engine(settings)
    now = datetime.now(UTC)
    first = _parse_date(start) if start else None
    agreement = agreement_in_force(engine, on=first or now.date())
    if agreement is None:
        raise CliError(NO_AGREEMENT)
    try:
        teams = [resolve_team(agreement, team)] if team else agreement.teams
    except DigestError as error:
        raise CliError(str(error)) from error
    renderer = Renderer(settings.templates_dir)
    for each in teams:
        begin = first or agreement.team_calendar(each.name).today(now)
        out.print(
            renderer.text(
                "digest/schedule.txt.j2",
                team=each,
                days=upcoming(agreement, each, begin, days),
                utc=UTC,
            )
        )


@cli.command()
def clock() -> None:
    """The scheduler alone: stand-up digests, the breach scan and delivery. A second clock on
    PostgreSQL waits as a standby and takes over when the first stops."""
    from bot.scheduler import run_clock
    from storage.clock import ClockAlreadyRunning

    settings = Settings()
    settings.require("SLACK_BOT_TOKEN")
    _configure_logging()
    try:
        run_clock(settings, _engine(settings, serving=True))
    except ClockAlreadyRunning as error:
        err.print(f"slabot: {error}", markup=False)
        raise typer.Exit(1) from error


@cli.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the starter agreement.")] = Path(
        "sla.toml"
    ),
) -> None:
    """Write a starter agreement (the worked example, commented) and print the Slack app
    manifest to paste at api.slack.com/apps → Create New App → From a manifest."""
    from bot.resources import shipped

    if path.exists():
        raise CliError(f"{path} already exists: keep it, or give another path")
    path.write_text(shipped("examples/sla.toml").read_text())
    err.print(f"wrote {path}: edit the targets, teams and reps, then `slabot sla apply {path}`")
    err.print("the app manifest (Create New App → From a manifest):")
    out.print(shipped("manifest.yml").read_text(), markup=False)


@cli.command()
def demo(
    database: Annotated[Path, typer.Option(help="The demo's SQLite file (made anew).")] = Path(
        "slabot-demo.db"
    ),
    at: Annotated[str | None, typer.Option("--at", help="Pretend it is this ISO time.")] = None,
) -> None:
    """Show slabot working on a generated quarter: no Slack, no CRM, no settings needed."""
    from bot.domain.pacing import next_business_day
    from bot.domain.quota_args import QuotaRequest
    from bot.services.demo import demo_alerts, run_demo
    from bot.services.digest import compute_digest
    from bot.services.quota import answer_quota
    from bot.slack.render import Renderer
    from storage.db import make_engine
    from storage.migrate import upgrade

    now = _parse_time(at) if at else datetime.now(UTC)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    renderer = Renderer(Settings().templates_dir)
    agreement, stats = run_demo(engine, renderer, now=now)
    out.print(renderer.text("demo/intro.txt.j2", agreement=agreement, stats=stats, path=database))
    out.print()
    out.print(
        renderer.text("quota/terminal.txt.j2", answer=answer_quota(engine, QuotaRequest(), now=now))
    )
    out.print()
    when, alerts = demo_alerts(engine, renderer, now=now)
    out.print(renderer.text("demo/alerts.txt.j2", now=now, when=when))
    out.print(renderer.text("alerts/scan.txt.j2", result=alerts, now=when, dry_run=True))
    out.print()
    calendar = agreement.team_calendar(agreement.teams[0].name)
    next_standup = next_business_day(calendar, calendar.today(now))  # none at weekends
    standup = compute_digest(engine, team=None, day=next_standup, now=now)
    out.print(renderer.text("demo/digest.txt.j2", d=standup, teams=agreement.teams))
    out.print(renderer.text("digest/terminal.txt.j2", d=standup))


def _parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise CliError(f"{text!r} is not an ISO time such as 2026-11-20T09:30-05:00") from error
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise CliError(f"{text!r} is not a date; write it as YYYY-MM-DD") from error


def main() -> None:
    from storage.db import outage_reason, unreachable

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
