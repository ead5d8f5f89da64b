"""Run the benchmarks and rewrite BENCHMARKS.md (`make bench`).

`python bench/run.py` runs them all. `python bench/run.py bench_ingest bench_store` runs only
the named ones and keeps the other sections of BENCHMARKS.md as they were.
"""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import (
    bench_demo,
    bench_export,
    bench_ingest,
    bench_serve,
    bench_sim,
    bench_store,
    bench_train,
    bench_validate,
)

BENCHMARKS = (
    bench_sim,
    bench_ingest,
    bench_store,
    bench_validate,
    bench_train,
    bench_export,
    bench_serve,
    bench_demo,
)
# How each module's section starts, to find it again in BENCHMARKS.md.
HEADINGS = {
    bench_sim: "## Simulation",
    bench_ingest: "## Ingest",
    bench_store: "## Dataset store",
    bench_validate: "## Validation",
    bench_train: "## Training",
    bench_export: "## Export",
    bench_serve: "## Serving",
    bench_demo: "## Demo",
}
OUTPUT = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def _previous_sections() -> dict[str, str]:
    """The sections of the current BENCHMARKS.md, by module name."""
    if not OUTPUT.is_file():
        return {}
    sections: dict[str, str] = {}
    for part in OUTPUT.read_text().split("\n## ")[1:]:
        text = ("## " + part).rstrip("\n")
        for module, heading in HEADINGS.items():
            if text.startswith(heading):
                sections[module.__name__] = text
    return sections


def main(names: list[str]) -> None:
    known = {module.__name__.removeprefix("bench."): module for module in BENCHMARKS}
    unknown = [name for name in names if name not in known]
    if unknown:
        sys.exit(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(known)}")
    chosen = {known[name] for name in names} if names else set(BENCHMARKS)
    previous = _previous_sections()
    sections = []
    for module in BENCHMARKS:
        if module not in chosen:
            if module.__name__ in previous:
                sections.append(previous[module.__name__])
            else:
                print(f"{module.__name__}: not run and no earlier result to keep", flush=True)
            continue
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
    kept = [m.__name__ for m in BENCHMARKS if m not in chosen and m.__name__ in previous]
    if kept:
        header[-1:] = [f"Sections not rerun then keep earlier figures: {', '.join(kept)}.", ""]
    OUTPUT.write_text("\n".join([*header, "\n\n".join(sections), ""]))


if __name__ == "__main__":
    main(sys.argv[1:])
