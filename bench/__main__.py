"""`python -m bench`: every benchmark, each figure beside its target."""

from __future__ import annotations

import sys

from bench import digest, import_csv, import_pg, load, quota_http, scan

BENCHMARKS = {
    "quota_http": quota_http.run,
    "load": load.run,
    "import_csv": import_csv.run,
    "import_pg": import_pg.run,
    "scan": scan.run,
    "digest": digest.run,
}


def main(names: list[str]) -> int:
    selected = names or list(BENCHMARKS)
    unknown = [name for name in selected if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
        return 2
    results = [BENCHMARKS[name]() for name in selected]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
