"""`slabot demo` with no Slack, no CRM and no settings at all."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session

from storage.agreements import agreement_in_force
from storage.db import make_engine
from storage.models import Lead, Touch

ROOT = Path(__file__).parent.parent


def demo(folder: Path, at: str) -> subprocess.CompletedProcess[str]:
    """`slabot demo --at AT` in `folder` with no settings at all."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--at", at],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
    )


def test_demo_runs_offline_and_shows_what_it_loaded(tmp_path: Path) -> None:
    result = demo(tmp_path, "2026-11-20T14:00:00Z")
    assert result.returncode == 0, result.stderr
    leads = int(re.search(r"Leads\s+([\d,]+) since 2026-10-01", result.stdout)[1].replace(",", ""))
    # the demo's agreement reverse-engineers its targets from its quota: 909 MQLs a month
    assert re.search(r"MQLs\s+909\n", result.stdout)
    assert (
        "Teams       na (America/New_York, 3 reps), emea (Europe/Berlin, 2 reps)" in result.stdout
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'slabot-demo.db'}")
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Lead)).scalar_one() == leads
        sources = set(session.exec(select(Lead.source).distinct()).scalars())
        assert sources == {"website", "outbound", "events"}
        recycled = session.exec(select(func.count()).where(Lead.stage == "recycled")).scalar_one()
        waiting = session.exec(
            select(func.count()).where(Lead.first_touch_at.is_(None), Lead.stage == "mql")
        ).scalar_one()
        assert recycled > 0 and waiting > 0  # some recycled, some about to breach
        assert session.exec(select(func.count()).select_from(Touch)).scalar_one() > leads / 2
    agreement = agreement_in_force(engine, on=date(2026, 11, 20))
    zones = {rep.timezone for rep in agreement.reps}
    assert zones == {None, "Europe/Berlin"}  # New York (the calendar's) and Berlin reps
    assert (
        f"{recycled:,} recycled" in result.stdout and f"{waiting:,} still waiting" in result.stdout
    )


def test_demo_prints_the_breach_alerts_it_would_send(tmp_path: Path) -> None:
    result = demo(tmp_path, "2026-11-20T15:30:00Z")  # 10:30 in New York
    assert result.returncode == 0, result.stderr
    assert "what the every-minute scan would send right now" in result.stdout
    assert "dry run: nothing is sent or remembered" in result.stdout
    dms = re.findall(r"── DM to (\S+@example\.com) ──", result.stdout)
    assert dms and set(dms) <= {"rita@example.com", "sam@example.com", "lee@example.com",
                                "ana@example.com", "jon@example.com"}  # fmt: skip
    assert "first touch" in result.stdout and "since assignment" in result.stdout

    night = demo(tmp_path, "2026-11-21T03:00:00Z")  # Friday night in New York
    assert "outside working hours now, so nobody is pinged; Mon 23 Nov 15:00 UTC" in night.stdout


def test_demo_prints_todays_digest(tmp_path: Path) -> None:
    result = demo(tmp_path, "2026-11-20T14:00:00Z")  # Friday 09:00 in New York
    assert result.returncode == 0, result.stderr
    assert "Stand-up · Friday 20 November · team na" in result.stdout
    assert "November 2026: 13 of 19 business days done, 6 left" in result.stdout
    # the count it shows is the database's: MQLs from 1 November 00:00 to Friday 00:00 New
    # York (04:00 and 05:00 UTC: the clocks changed on the 1st at 02:00)
    engine = make_engine(f"sqlite:///{tmp_path / 'slabot-demo.db'}")
    with Session(engine) as session:
        mqls = session.exec(
            select(func.count()).where(
                Lead.mql_at >= "2026-11-01 04:00:00", Lead.mql_at < "2026-11-20 05:00:00"
            )
        ).scalar_one()
    assert re.search(rf"MQLs\s+{mqls:,} of 909 ", result.stdout), result.stdout
    assert "Today's 15 minutes" in result.stdout
