"""Alerts to many reps and the stand-up behind them: N reps each holding a breached lead, a
`slabot clock` process, and the Slack stand-in enforcing Slack's documented limits —
`chat.postMessage` one a second per channel within a workspace-wide allowance read as 300 a
minute, Tier 3 methods (`users.lookupByEmail`, `chat.update`, `conversations.open`) 50 a
minute, Tier 2 `users.list` 20 a minute. The team's stand-up falls due while alerts are still
queued.

Floor: N ÷ 300 a minute, plus one walk of `users.list` for the reps slabot has never seen
(timed in the same run, a bare client against the same stand-in).
Targets: the last DM within 1.2× of the floor; the digest posted within 5 s of its time.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bench.harness import report

if TYPE_CHECKING:
    from tests.fake_slack import FakeSlack

COUNTS = [int(n) for n in os.environ.get("SLABOT_BENCH_REPS", "300,1000").split(",")]
WORKSPACE_PER_MINUTE = 300
LIMITS = {
    "chat.postMessage": WORKSPACE_PER_MINUTE,
    "users.lookupByEmail": 50,
    "chat.update": 50,
    "conversations.open": 50,
    "users.list": 20,
}
TARGET_RATIO = 1.2
TARGET_LATE_S = 5.0
STANDUP_CHANNEL = "C0STANDUP"


def _stand_in(count: int) -> FakeSlack:
    from tests.fake_slack import FakeSlack

    users = {f"rep{n}@example.com": f"U0REP{n}" for n in range(count)}
    fake = FakeSlack(users_by_email={**users, "max@example.com": "U0MAX"}).start()
    for method, per_minute in LIMITS.items():
        fake.limit(method, per_minute)
    fake.limit_per_channel(1.0)
    return fake


def _look_up_round(count: int) -> float:
    """A bare client walking `users.list` (200 a page) against the same limits: seconds."""
    from slack_sdk import WebClient

    from tests.fake_slack import BOT_TOKEN

    fake = _stand_in(count)
    try:
        client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
        started = time.perf_counter()
        listed = sum(len(page["members"]) for page in client.users_list(limit=200))
        assert listed > count, listed
        return time.perf_counter() - started
    finally:
        fake.stop()


def _agreement(count: int, standup: datetime) -> str:
    from tests.test_clock import agreement_text  # watches from July: every breach is news

    now = datetime.now(UTC)
    text = agreement_text(now, now - standup)
    reps = "".join(
        f'\n[[reps]]\nemail = "rep{n}@example.com"\nteam = "na"\nmanager = "max@example.com"\n'
        for n in range(count)
    )
    return text + reps


def _run(count: int, folder: Path) -> tuple[float, float, int, int]:
    """(seconds from the clock's start to the last rep's DM, seconds the digest was late,
    users.lookupByEmail calls, 429 answers)."""
    from tests.conftest import slabot_env
    from tests.test_clock import noon_zone

    fake = _stand_in(count)
    try:
        env = slabot_env(f"sqlite:///{folder}/fanout-{count}.db", fake, SLABOT_SCAN_INTERVAL="5")
        # the stand-up at the start of a minute 40–100 s away: alerts are queued by then
        zone = ZoneInfo(noon_zone(datetime.now(UTC)))
        standup = (datetime.now(zone) + timedelta(seconds=100)).replace(second=0, microsecond=0)
        (folder / "sla.toml").write_text(_agreement(count, standup))
        assigned = (datetime.now(UTC) - timedelta(hours=4, minutes=30)).isoformat()
        (folder / "leads.csv").write_text(
            "lead_id,name,company,source,owner_email,score,assigned_at\n"
            + "".join(
                f"F{n},Lead {n},Co {n},website,rep{n}@example.com,50,{assigned}\n"
                for n in range(count)
            )
        )
        for args in (("db", "upgrade"), ("sla", "apply", "sla.toml"), ("import", "leads.csv")):
            subprocess.run(
                [sys.executable, "-m", "bot", *args],
                env=env, cwd=folder, check=True, capture_output=True,
            )  # fmt: skip
        log = folder / f"clock-{count}.log"
        with log.open("w") as handle:
            started = time.time()
            clock = subprocess.Popen(
                [sys.executable, "-m", "bot", "clock"], env=env, stdout=handle,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        reps = {f"D0REP{n}" for n in range(count)}
        deadline = time.monotonic() + count / 4 + 240
        try:
            while time.monotonic() < deadline:
                told = {channel for channel, _ in fake.posted_at} & reps
                if len(told) == len(reps) and _digest_at(fake) is not None:
                    break
                time.sleep(0.5)
        finally:
            clock.terminate()
            clock.wait(15)
        dms = [at for (channel, _), at in fake.posted_at.items() if channel in reps]
        digest_at = _digest_at(fake)
        if len(dms) < count or digest_at is None:
            raise RuntimeError(f"{len(dms)} of {count} DMs; see {log}:\n{log.read_text()[-2000:]}")
        late = digest_at - standup.timestamp()
        refused = sum(1 for call in fake.calls if call.status == 429)
        return max(dms) - started, late, len(fake.calls_to("users.lookupByEmail")), refused
    finally:
        fake.stop()


def _digest_at(fake: FakeSlack) -> float | None:
    """When the stand-up digest reached the team's channel."""
    for (channel, ts), message in list(fake.messages.items()):
        key = ((message.get("metadata") or {}).get("event_payload") or {}).get("key", "")
        if channel == STANDUP_CHANNEL and key.startswith("digest:"):
            return fake.posted_at[(channel, ts)]
    return None


def run() -> bool:
    rows: list[tuple[str, str, str, str, bool | None]] = []
    met = True
    with tempfile.TemporaryDirectory() as folder:
        for count in COUNTS:
            look_up = _look_up_round(count)
            floor = count / (WORKSPACE_PER_MINUTE / 60) + look_up
            last, late, lookups, refused = _run(count, Path(folder))
            ok = last <= TARGET_RATIO * floor and late <= TARGET_LATE_S
            met &= ok
            rows += [
                (f"{count} reps: last DM (s)", f"{last:.1f}", f"{floor:.1f}",
                 f"≤ {TARGET_RATIO}× floor ({TARGET_RATIO * floor:.1f})",
                 last <= TARGET_RATIO * floor),
                (f"{count} reps: digest late (s)", f"{late:.1f}", "0", f"≤ {TARGET_LATE_S:.0f}",
                 late <= TARGET_LATE_S),
                (f"{count} reps: look-ups, 429s", f"{lookups}, {refused}",
                 f"users.list {math.ceil((count + 2) / 200)} pages, {look_up:.2f} s", "", None),
            ]  # fmt: skip
    report("Alerts to many reps (Slack's documented limits)", rows)
    return met
