"""Run every benchmark and rewrite BENCHMARKS.md (`make bench`)."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_sim

BENCHMARKS = (bench_sim,)


def main() -> None:
    sections = []
    for module in BENCHMARKS:
        print(f"running {module.__name__} ...", flush=True)
        sections.append(module.run())
        print(sections[-1], flush=True)
    header = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run.py). Each figure comes with a baseline measured in",
        "the same run, so that results from machines of different speed compare.",
        "",
        f"Last run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
    ]
    Path(__file__).resolve().parents[1].joinpath("BENCHMARKS.md").write_text(
        "\n".join([*header, "\n\n".join(sections), ""])
    )


if __name__ == "__main__":
    main()
