"""`python -m bench`: every benchmark, each figure beside its target."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from bench import (
    cli_start,
    digest,
    fanout,
    harness,
    import_csv,
    import_pg,
    load,
    quota_http,
    scan,
    sync,
)

RESULTS = Path("bench-results.json")
BENCHMARKS: dict[str, Callable[[], bool]] = {
    "quota_http": quota_http.run,
    "load": load.run,
    "import_csv": import_csv.run,
    "import_pg": import_pg.run,
    "scan": scan.run,
    "digest": digest.run,
    "sync": sync.run,
    "fanout": fanout.run,
    "cli_start": cli_start.run,
}


def main(names: list[str]) -> int:
    selected = names or list(BENCHMARKS)
    unknown = [name for name in selected if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
        return 2
    results = [BENCHMARKS[name]() for name in selected]
    RESULTS.write_text(json.dumps(harness.TABLES, indent=2, ensure_ascii=False) + "\n")
    print(f"table written to {RESULTS}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
