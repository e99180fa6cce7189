"""Shared pieces: start a server process, time requests, print a table against targets."""

from __future__ import annotations

import http.client
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    per_second: float


def wait_healthy(port: int, path: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited during start-up")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET" if path == "/healthz" else "POST", path)
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as handle:
        return subprocess.Popen(
            [sys.executable, *args],
            env={**os.environ, **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=15)


def _timed_requests(
    connection: http.client.HTTPConnection,
    path: str,
    make: Callable[[], tuple[str, dict[str, str]]],
    count: int,
) -> list[float]:
    samples = []
    for _ in range(count):
        body, headers = make()
        started = time.perf_counter()
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        samples.append(time.perf_counter() - started)
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
    return samples


def measure_interleaved(
    ports: dict[str, int],
    path: str,
    make: Callable[[], tuple[str, dict[str, str]]],
    *,
    warmup: int,
    requests: int,
    rounds: int = 10,
) -> dict[str, Latency]:
    """Sequential requests over one keep-alive connection per server, alternating between the
    servers in rounds so that both see the same machine noise."""
    connections = {
        name: http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for name, port in ports.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in ports}
    for connection in connections.values():
        _timed_requests(connection, path, make, warmup)
    for _ in range(rounds):
        for name, connection in connections.items():
            samples[name] += _timed_requests(connection, path, make, requests // rounds)
    results = {}
    for name, values in samples.items():
        values.sort()
        results[name] = Latency(
            p50_ms=statistics.median(values) * 1000,
            p99_ms=values[int(len(values) * 0.99) - 1] * 1000,
            per_second=len(values) / sum(values),
        )
    return results


TABLES: list[dict] = []  # every table printed in this run, for `python -m bench`'s JSON


def report(title: str, rows: Sequence[tuple[str, str, str, str, bool | None]]) -> None:
    """rows: (figure, slabot, floor, target, met); met None: a figure that explains the others."""
    TABLES.append(
        {
            "title": title,
            "rows": [
                {"figure": f, "slabot": o, "floor": fl, "target": t, "met": m}
                for f, o, fl, t, m in rows
            ],
        }
    )
    table = Table(title=title)
    for column in ("figure", "slabot", "floor", "target", "met"):
        table.add_column(column)
    for figure, ours, floor, target, met in rows:
        shown = "—" if met is None else "yes" if met else "[red]NO[/red]"
        table.add_row(figure, ours, floor, target, shown)
    Console().print(table)


def peak_tree_mb(process: subprocess.Popen) -> float:
    """The highest resident memory of `process` and its children together (`slabot sync` and
    its reader process), read from /proc every 50 ms until it exits."""
    peak = 0
    while process.poll() is None:
        pids = [process.pid, *_children(process.pid)]
        peak = max(peak, sum(_rss_kb(pid) for pid in pids))
        time.sleep(0.05)
    return peak / 1024


def _children(pid: int) -> list[int]:
    try:
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]
    except OSError:
        return []


def _rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # it has just exited
        return 0
    return next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
    )
