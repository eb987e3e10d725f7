"""Start-up of the ``newscrawl`` command: wall time of ``--help`` and ``--version`` (median of
N runs, target under 0.3 s), and where the import time goes (``python -X importtime``).

    python bench/cli_startup.py [--runs 9]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wall(args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "crawler.cli", *args], cwd=ROOT, check=True, capture_output=True
        )
        times.append(time.perf_counter() - started)
    return times


def import_breakdown(args: list[str], top: int) -> list[tuple[int, str]]:
    """(cumulative microseconds, module) of the slowest imports one start makes at the top
    level or one below it (Python's importtime indents a module by its depth)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "crawler.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        parts = line[len("import time:") :].split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        depth = (len(parts[2]) - len(parts[2].lstrip()) - 1) // 2
        if depth <= 1:
            rows.append((int(parts[1]), "  " * depth + parts[2].strip()))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    wall(["--version"], 1)  # warm the file cache once
    python = []
    for _ in range(args.runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        python.append(time.perf_counter() - started)
    print(f"python -c pass: {statistics.median(python):.3f} s (median of {args.runs})")
    for command in (["--help"], ["--version"]):
        times = wall(command, args.runs)
        print(
            f"newscrawl {command[0]}: {statistics.median(times):.3f} s (median of {args.runs}; "
            f"min {min(times):.3f}, max {max(times):.3f}); target < 0.3 s; "
            f"{statistics.median(times) / statistics.median(python):.1f} x a bare interpreter"
        )
    print("slowest imports of newscrawl --help (cumulative):")
    for micros, name in import_breakdown(["--help"], args.top):
        print(f"  {micros / 1000:7.1f} ms  {name}")


if __name__ == "__main__":
    main()
