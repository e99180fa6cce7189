"""`slabot sync` of 100,000 changed HubSpot contacts from the local stand-in (in its own
process), which enforces HubSpot's documented limits on the CRM search (five requests a second,
200 results a page) and answers each call a quarter second late, as from afar.

Floor: what HubSpot's limit allows, ⌈N ÷ 200⌉ pages at five a second.
Targets: within 1.1× of the floor, under 300 MB peak memory (sync and its reader process).
"""

from __future__ import annotations

import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from bench.harness import peak_tree_mb, report

CONTACTS = int(os.environ.get("SLABOT_BENCH_CONTACTS", "100000"))
TARGET_RATIO = 1.1
SEARCHES_PER_SECOND, PAGE, LATENCY = 5, 200, 0.25
TARGET_MB = 300
TOKEN = "pat-na1-bench"


def serve(count: int) -> None:
    """The stand-in's process: `count` contacts, a second apart; prints its URL."""
    from tests.fake_crm import FakeHubSpot, iso_ms

    stand = FakeHubSpot(TOKEN)
    stand.add_owner("31425364", "rita@example.com")
    start = datetime(2026, 10, 1, 9, tzinfo=UTC)
    for n in range(count):
        at = start + timedelta(seconds=n)
        stand.upsert_contact(
            str(10_000 + n), at=at, firstname="Lead", lastname=str(n), company=f"Co {n % 5003}",
            email=f"lead{n}@example{n % 977}.com", lifecyclestage="marketingqualifiedlead",
            hs_lifecyclestage_marketingqualifiedlead_date=iso_ms(at), hubspot_owner_id="31425364",
            hs_lead_status="NEW", hs_analytics_source="ORGANIC_SEARCH", hubspotscore=str(n % 100),
            **({"notes_last_contacted": iso_ms(at + timedelta(hours=1))} if n % 3 == 0 else {}),
        )  # fmt: skip
    stand.limit_rate(SEARCHES_PER_SECOND, per_ms=1000)
    stand.latency = LATENCY
    stand.start()
    print(stand.url, flush=True)
    sys.stdin.read()  # until the benchmark closes the pipe
    print(stand.refused, stand.most_in_flight, flush=True)


def cpu_seconds(pid: int) -> float:
    """The CPU time a running process has used (user + system), from /proc."""
    after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(after_name[11]) + int(after_name[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run() -> bool:
    stand = subprocess.Popen(
        [sys.executable, "-c", f"from bench.sync import serve; serve({CONTACTS})"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = stand.stdout.readline().strip()  # type: ignore[union-attr]
    try:
        requests.post(url + "/crm/v3/objects/contacts/search", json={"limit": 1},
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)  # fmt: skip
        base = math.ceil(CONTACTS / PAGE) / SEARCHES_PER_SECOND  # HubSpot's limit allows no less
        time.sleep(1.1)  # the warm-up's call out of HubSpot's window
        serving = cpu_seconds(stand.pid)
        with tempfile.TemporaryDirectory() as folder:
            env = {**os.environ, "DATABASE_URL": f"sqlite:///{Path(folder) / 'sync.db'}",
                   "HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_API_URL": url}  # fmt: skip
            env.pop("SLACK_BOT_TOKEN", None)
            subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, check=True,
                           capture_output=True)  # fmt: skip
            output = Path(folder) / "sync.out"
            with output.open("w") as sink:  # a file: a pipe nobody reads could fill up
                started, cpu = time.perf_counter(), children_cpu()
                syncing = subprocess.Popen(
                    [sys.executable, "-m", "bot", "sync"], env=env, stdout=sink, stderr=sink
                )
                peak_mb = peak_tree_mb(syncing)
                took = time.perf_counter() - started
                sync_cpu = children_cpu() - cpu  # `slabot sync` and its reader, which it waited for
                sync_serving = cpu_seconds(stand.pid) - serving
            printed = output.read_text()
        if syncing.returncode != 0:
            raise RuntimeError(printed)
    finally:
        stand.stdin.close()  # type: ignore[union-attr]
        refused, in_flight = stand.stdout.readline().split()  # type: ignore[union-attr]
        stand.wait(timeout=30)
    ratio = took / base
    report(
        f"sync {CONTACTS:,} changed HubSpot contacts (SQLite)",
        [
            ("time", f"{took:.1f} s ({CONTACTS / took:,.0f}/s)",
             f"{base:.1f} s ({math.ceil(CONTACTS / PAGE)} pages at {SEARCHES_PER_SECOND}/s)",
             f"≤ {TARGET_RATIO}× floor", ratio <= TARGET_RATIO),
            ("ratio", f"{ratio:.2f}×", "1×", f"≤ {TARGET_RATIO}×", ratio <= TARGET_RATIO),
            ("peak memory", f"{peak_mb:.0f} MB (sync + reader)", "—", f"< {TARGET_MB} MB",
             peak_mb < TARGET_MB),
            ("CPU (+ stand-in)", f"{sync_cpu:.1f} s (+ {sync_serving:.1f} s)", "—",
             f"{os.cpu_count()} cores", None),
            ("searches refused (429), most in flight", f"{refused}, {in_flight}", "0, —",
             f"{SEARCHES_PER_SECOND} a second, {LATENCY * 1000:.0f} ms each", None),
        ],
    )  # fmt: skip
    print(printed.strip())
    return ratio <= TARGET_RATIO and peak_mb < TARGET_MB
