"""The team's numbers: `quota`, `scan`, `digest`, `schedule`, and `init` / `demo` to begin."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import (
    NO_AGREEMENT,
    CliError,
    err,
    open_engine,
    out,
    parse_date,
    parse_time,
    sending,
)
from bot.settings import Settings


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
        answer = answer_quota(open_engine(settings), request)
    except QuotaInputError as error:
        err.print(
            html.unescape(renderer.text("quota/error.txt.j2", message=str(error))), markup=False
        )
        err.print(grammar, markup=False)
        raise typer.Exit(2) from error
    out.print(renderer.text("quota/terminal.txt.j2", answer=answer))


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

    settings, renderer = sending(dry_run)
    now = parse_time(at) if at else datetime.now(UTC)
    engine = open_engine(settings)
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
    from bot.services.digest import DigestError, compute_digest
    from storage import outbox
    from storage.agreements import agreement_in_force

    settings, renderer = sending(dry_run)
    engine = open_engine(settings)
    day = parse_date(on) if on else None
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


def schedule(
    team: Annotated[str | None, typer.Option(help="One team (default: every team).")] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="How many days to list.")] = 14,
    start: Annotated[
        str | None, typer.Option("--from", help="YYYY-MM-DD (default: today).")
    ] = None,
) -> None:
    """List the coming days: when each team's digest posts, or why the day is skipped."""
    from bot.scheduler import upcoming
    from bot.services.digest import DigestError, resolve_team
    from bot.slack.render import Renderer
    from storage.agreements import agreement_in_force

    settings = Settings()
    engine = open_engine(settings)
    now = datetime.now(UTC)
    first = parse_date(start) if start else None
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


def init(
    path: Annotated[Path, typer.Argument(help="Where to write the starter agreement.")] = Path(
        "sla.toml"
    ),
    url: Annotated[
        str | None,
        typer.Option(help="The public https URL of `slabot serve`, put in the manifest."),
    ] = None,
    socket: Annotated[
        bool, typer.Option("--socket", help="A manifest for Socket Mode (`slabot run`).")
    ] = False,
    crm: Annotated[
        str | None,
        typer.Option(help="hubspot | salesforce: the MQL split in that CRM's own sources."),
    ] = None,
) -> None:
    """Write a starter agreement and print the Slack app manifest.

    The agreement is the worked example, commented; paste the manifest at api.slack.com/apps
    → Create New App → From a manifest."""
    from bot.domain.starter import for_crm
    from bot.intake.registry import CONNECTORS
    from bot.resources import shipped
    from bot.slack.app_manifest import for_socket_mode, for_url

    if crm is not None and crm not in CONNECTORS:
        raise CliError(f"--crm is one of {' | '.join(CONNECTORS)} (got {crm!r})")
    if url is not None and socket:
        raise CliError("give --url or --socket, not both")
    if url is not None and not url.startswith("https://"):
        raise CliError(f"--url must be the https:// address Slack reaches (got {url!r})")
    if path.exists():
        raise CliError(f"{path} already exists: keep it, or give another path")
    text = shipped("manifest.yml").read_text()
    if url is not None:
        text = for_url(text, url)
    elif socket:
        text = for_socket_mode(text)
    starter = shipped("examples/sla.toml").read_text()
    if crm is not None:
        export = CONNECTORS[crm].export
        starter = for_crm(starter, export.starter_split, export.starter_override)
    path.write_text(starter)
    err.print(f"wrote {path}: edit the targets, teams and reps, then `slabot sla apply {path}`")
    err.print("the app manifest (Create New App → From a manifest):")
    out.print(text, markup=False)


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

    now = parse_time(at) if at else datetime.now(UTC)
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
