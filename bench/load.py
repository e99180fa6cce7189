"""Load: signed `/quota`, `/pace` and **Contacted** clicks, mixed and concurrent, through
`slabot serve` with its default workers, on loopback, bounded in count and time.

Over this month's leads (so `/pace` answers from them); `/pace` is also timed apart, as the
first ask of a minute (uncached). Targets (issue 12, on a 2-core machine): ≥ 200 requests/s
with p99 < 250 ms and no errors; then, at 4× that rate for 10 s, every request acknowledged
within Slack's 3 s.
"""

from __future__ import annotations

import http.client
import itertools
import json
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from bench.digest import build
from bench.harness import report, start, stop, wait_healthy
from tests.conftest import free_port
from tests.fake_slack import BOT_TOKEN, FakeSlack
from tests.signing import SIGNING_SECRET, block_action_body, signed_headers, slash_command_body

TARGET_RPS, TARGET_P99_MS, ACK_S = 200, 250, 3.0


def _requests(response_url: str) -> itertools.cycle:
    """The mix: half /quota, a quarter /pace, a quarter Contacted."""
    bodies = [
        slash_command_body("/quota", "500k aov=2k win=23% sql2opp=82% mql2sql=34%"),
        slash_command_body("/quota", "1M period=quarter"),
        slash_command_body("/pace", ""),
        block_action_body("sla_contacted", "1", response_url=response_url),  # not Rita's lead
    ]
    return itertools.cycle(bodies)


class Client:
    """One keep-alive connection per thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()

    def post(self, body: str) -> tuple[float, int]:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=30
            )
        started = time.perf_counter()
        try:
            connection.request("POST", "/slack/events", body=body, headers=signed_headers(body))
            response = connection.getresponse()
            response.read()
            status = response.status
        except OSError:
            self.local.connection = None
            status = 599
        return time.perf_counter() - started, status


def closed_loop(
    client: Client, bodies: itertools.cycle, *, threads: int, seconds: float, most: int
) -> tuple[list[float], int, float]:
    """`threads` clients sending back to back until `seconds` pass or `most` are sent."""
    lock, errors = threading.Lock(), [0]
    samples: list[float] = []
    deadline = time.monotonic() + seconds

    def worker() -> None:
        while time.monotonic() < deadline:
            with lock:
                if len(samples) >= most:
                    return
                body = next(bodies)
            took, status = client.post(body)
            with lock:
                samples.append(took)
                errors[0] += status != 200

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(threads):
            pool.submit(worker)
    return samples, errors[0], time.monotonic() - started


def open_loop(
    client: Client, bodies: itertools.cycle, *, rate: float, seconds: float, threads: int = 64
) -> tuple[list[float], int]:
    """Requests due at a fixed `rate` whatever the answers do (as Slack sends them); each is
    timed from when it was due, so a request the client could not send on time counts late."""
    lock, samples, errors = threading.Lock(), [], [0]

    def one(body: str, due: float) -> None:
        _, status = client.post(body)
        with lock:
            samples.append(time.monotonic() - due)
            errors[0] += status != 200

    start = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        for n in range(int(rate * seconds)):
            due = start + n / rate
            time.sleep(max(0.0, due - time.monotonic()))
            pool.submit(one, next(bodies), due)
    return samples, errors[0]


def _uncached_pace(client: Client) -> float:
    """`/pace` as the first ask of a minute (each process keeps a minute's answer): seconds."""
    time.sleep(60.5 - time.time() % 60)
    took, status = client.post(slash_command_body("/pace", ""))
    if status != 200:
        raise RuntimeError(f"/pace answered HTTP {status}")
    return took


def run(seconds: float = 20, most: int = 20000, threads: int = 8, leads: int = 100_000) -> bool:
    fake = FakeSlack().start()
    folder = Path(tempfile.mkdtemp(prefix="slabot-load-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    build(url, leads, day=datetime.now(UTC).date())  # this month's leads: /pace has real work
    port = free_port()
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "DATABASE_URL": url,
        "PORT": str(port),
    }  # WEB_CONCURRENCY left at its default
    process = start(["-m", "bot", "serve"], env, folder / "serve.log")
    try:
        wait_healthy(port, "/healthz", process)
        client = Client(port)
        bodies = _requests(fake.response_url("load"))
        closed_loop(client, bodies, threads=threads, seconds=2, most=500)  # warm-up
        uncached_pace = _uncached_pace(client)
        samples, errors, took = closed_loop(
            client, bodies, threads=threads, seconds=seconds, most=most
        )
        rps = len(samples) / took
        samples.sort()
        p50 = statistics.median(samples) * 1000
        p99 = samples[int(len(samples) * 0.99) - 1] * 1000
        burst_rate = 4 * TARGET_RPS  # 4x the target rate, as Slack might send in a burst
        burst, burst_errors = open_loop(client, bodies, rate=burst_rate, seconds=10)
        slowest = max(burst)
    finally:
        stop(process)
        fake.stop()
    met = [rps >= TARGET_RPS, p99 < TARGET_P99_MS and errors == 0, slowest < ACK_S]
    met.append(burst_errors == 0)
    report(
        f"mixed /quota, /pace and Contacted over HTTP ({threads} clients, default workers, "
        f"{leads:,} leads)",
        [
            ("requests/s", f"{rps:,.0f}", "—", f"≥ {TARGET_RPS}", met[0]),
            ("p50 / p99", f"{p50:.1f} / {p99:.1f} ms", "—", f"p99 < {TARGET_P99_MS} ms", met[1]),
            ("errors", f"{errors} of {len(samples):,}", "—", "0", errors == 0),
            (
                f"slowest ack at {burst_rate:,.0f}/s for 10 s",
                f"{slowest:.2f} s ({len(burst):,} requests)",
                "—",
                f"< {ACK_S:.0f} s",
                met[2],
            ),
            ("errors in the burst", str(burst_errors), "—", "0", met[3]),
            (
                "/pace, the first ask of a minute (uncached)",
                f"{uncached_pace * 1000:.0f} ms",
                "—",
                "bench digest: ≤ 1.5× its floor",
                None,
            ),
        ],
    )
    print(
        json.dumps(
            {
                "load": {
                    "rps": rps,
                    "p50_ms": p50,
                    "p99_ms": p99,
                    "errors": errors,
                    "burst_rate": burst_rate,
                    "burst_slowest_s": slowest,
                    "burst_errors": burst_errors,
                }
            }
        )
    )
    return all(met)


if __name__ == "__main__":
    run()
