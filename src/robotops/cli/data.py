"""Commands over recordings and datasets: sim, ingest, labels, data, validate."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from robotops.cli._app import (
    ConfigOption,
    FormatOption,
    JsonOption,
    StoreOption,
    app,
    console,
    report_format,
    setup,
)
from robotops.dataset.diff import diff as dataset_diff
from robotops.dataset.export import LOCAL_FILES_PREFIX, export_tasks
from robotops.dataset.labels import import_labels
from robotops.dataset.splits import SplitBy, SplitResult, split_dataset
from robotops.errors import CheckFailed, OutputError, UsageError
from robotops.ingest.folder import folder_streams
from robotops.ingest.ingest import Engine, IngestReport, ingest, is_bag
from robotops.ingest.recording import open_recording, topics
from robotops.progress import frame_progress
from robotops.sim import SITES, BagFormat, LabelFaults, SimConfig, SimulatedRecording, simulate
from robotops.validate import Validation, validate
from robotops.validate.validate import REPORT_HTML


@app.command()
def sim(
    out: Annotated[Path, typer.Argument(help="Folder for the bags and their annotation files.")],
    site: Annotated[
        list[str] | None,
        typer.Option(
            "--site",
            help=f"Office site; repeat for several. Named: {', '.join(SITES)}; "
            "or unseen-N for a new office drawn from N.",
        ),
    ] = None,
    recordings: Annotated[int, typer.Option(help="Recordings per site.")] = 3,
    frames: Annotated[
        int, typer.Option(help="Colour frames per recording (camera at 15 Hz).")
    ] = 24,
    width: Annotated[int, typer.Option(help="Image width in pixels.")] = 160,
    height: Annotated[int, typer.Option(help="Image height in pixels.")] = 120,
    fmt: Annotated[
        BagFormat, typer.Option("--format", help="ROS 2 MCAP, ROS 2 sqlite3, or ROS 1 bag.")
    ] = BagFormat.MCAP,
    compressed: Annotated[
        bool, typer.Option(help="Colour as JPEG CompressedImage instead of raw rgb8 Image.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Same seed, same recordings.")] = 0,
    label_noise: Annotated[
        float,
        typer.Option(help="Probability that a frame's label is wrong (for validation tests)."),
    ] = 0.0,
    missing_labels: Annotated[
        float, typer.Option(help="Probability that a frame has no label.")
    ] = 0.0,
) -> None:
    """Simulate an office robot driving towards doors, and write real bags with ground truth.

    Each recording is one bag (RGB-D camera, LiDAR, camera info, static TF) plus
    RECORDING.labels.json beside it with a label per colour frame. Glass passes depth and LiDAR
    through; wood does not; the camera alone is fooled by tinted glass, frosted glass and open
    doorways.
    """
    config = SimConfig(
        out_dir=out,
        sites=tuple(site or ("atrium",)),
        recordings=recordings,
        frames=frames,
        width=width,
        height=height,
        fmt=fmt,
        compressed=compressed,
        seed=seed,
        faults=LabelFaults(noise=label_noise, missing=missing_labels),
    )
    config.check()
    total = len(config.specs()) * frames
    with frame_progress(console, "simulating", total) as advance:
        written = simulate(config, on_frame=advance)
    console.print(recordings_table(written))
    console.print(f"wrote {len(written)} recordings to {out}")


def recordings_table(written: list[SimulatedRecording]) -> Table:
    """The simulated recordings as a table."""
    table = Table(title="recordings")
    for column in ("recording", "site", "class", "variant", "lighting", "frames", "bag"):
        table.add_column(column)
    for rec in written:
        table.add_row(
            rec.recording_id,
            rec.site,
            rec.door_class,
            rec.variant,
            rec.lighting,
            str(rec.frames),
            rec.bag.name,
        )
    return table


data_app = typer.Typer(
    help="Inspect, compare, tag and split dataset versions.", no_args_is_help=True
)
labels_app = typer.Typer(
    help="Import labels into a dataset; export frames for labelling.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
app.add_typer(labels_app, name="labels")


@app.command("ingest")
def ingest_command(
    recordings: Annotated[
        list[Path],
        typer.Argument(
            help="ROS 1 .bag files, ROS 2 bag folders (sqlite3, MCAP; split or zstd-compressed), "
            "or folders of images and PCD files."
        ),
    ],
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="Dataset name (default: config's).")
    ] = None,
    list_topics: Annotated[
        bool,
        typer.Option(
            "--list-topics",
            help="Only show what each recording holds: topics, types, and messages counted "
            "against the recording's metadata.",
        ),
    ] = False,
    engine: Annotated[
        Engine,
        typer.Option(help="local: one recording after another; ray: in parallel on Ray."),
    ] = Engine.LOCAL,
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster address for --engine ray (default: a local Ray)."),
    ] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Ingest recordings into a dataset as one new version of synchronised frames.

    Topics are taken from robotops.yaml or detected by message type. Frames missing a modality
    are kept and counted; re-ingesting a recording adds nothing; if any recording fails,
    nothing is committed.
    """
    cfg, st = setup(config, store)
    if list_topics:
        for path in recordings:
            _print_topics(path)
        return
    with frame_progress(console, "ingesting", total=None) as advance:
        report = ingest(
            recordings,
            st,
            dataset or cfg.dataset,
            cfg,
            engine=engine,
            address=address,
            on_frame=advance,
        )
    print_ingest(report)


def _print_topics(path: Path) -> None:
    if not is_bag(path):
        console.print(f"{path}: a folder of files", soft_wrap=True)
        table = Table()
        table.add_column("modality")
        table.add_column("files")
        for role, count in folder_streams(path).items():
            table.add_row(role, str(count))
        console.print(table)
        return
    table = Table(title=str(path))
    for column in ("topic", "type", "messages (metadata)", "read"):
        table.add_column(column)
    with open_recording(path) as reader:
        infos = topics(reader)
    for info in infos:
        read = str(info.read) if info.read == info.count else f"[yellow]{info.read}[/]"
        table.add_row(info.topic, info.msgtype, str(info.count), read)
    console.print(table)
    for info in infos:
        if info.read != info.count:
            console.print(
                f"[yellow]warning[/] {path}: {info.topic}: read {info.read} messages, the "
                f"recording's metadata says {info.count}"
            )


def print_ingest(report: IngestReport) -> None:
    """Print what an ingest added."""
    table = Table(title="ingested")
    for column in ("recording", "frames", "rgb", "depth", "lidar", "camera info"):
        table.add_column(column)
    for rec in report.recordings:
        cov = rec.coverage
        table.add_row(
            rec.recording_id,
            str(rec.frames),
            *(f"{cov[m]}/{rec.frames}" for m in ("rgb", "depth", "lidar", "camera_info")),
        )
    console.print(table)
    for rec in report.recordings:
        for reason, count in rec.rejected.items():
            console.print(f"[yellow]rejected[/] {count} message(s) of {rec.path}: {reason}")
        for line in rec.count_mismatches + rec.unpaired_clocks:
            console.print(f"[yellow]warning[/] {rec.path}: {line}")
        if rec.dropped_nonfinite:
            console.print(
                f"{rec.path}: {rec.dropped_nonfinite} LiDAR points without a return (NaN/Inf) "
                "dropped"
            )
        if rec.lidar_frame_kept:
            console.print(
                f"[yellow]warning[/] {rec.path}: no TF to the base frame; LiDAR in its own frame"
            )
    if report.new_version:
        console.print(f"added {report.added_frames} frames: [bold]{report.snapshot}[/]")
    else:
        console.print(f"nothing new: {report.snapshot} already holds these frames")


@labels_app.command("import")
def labels_import(
    files: Annotated[
        list[Path],
        typer.Argument(help="Simulator *.labels.json, CSV, or Label Studio JSON export."),
    ],
    dataset: Annotated[str | None, typer.Option("--dataset", "-d")] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Import labels as one new dataset version; sensor data is never rewritten.

    Labels for frames the dataset lacks, or classes outside its class list, are reported and
    nothing is written.
    """
    cfg, st = setup(config, store)
    result = import_labels(st, dataset or cfg.dataset, files)
    records = sum(len(f.records) for f in result.files)
    skipped = sum(f.skipped for f in result.files)
    console.print(f"{records} labels read, {skipped} unlabelled frames skipped")
    if result.new_version:
        console.print(f"{result.changed} labels changed: [bold]{result.snapshot}[/]")
    else:
        console.print(f"no label changed: {result.snapshot} stays")


@labels_app.command("export")
def labels_export(
    out: Annotated[Path, typer.Argument(help="Folder to create for the tasks and images.")],
    ref: Annotated[
        str | None, typer.Option("--dataset", "-d", help="NAME or NAME@VERSION (default: head).")
    ] = None,
    frame_id: Annotated[
        list[str] | None,
        typer.Option("--frame-id", help="Export this frame; repeat for several (default: all)."),
    ] = None,
    include_labelled: Annotated[
        bool, typer.Option("--all", help="Include frames that have a label (to relabel them).")
    ] = False,
    url_prefix: Annotated[
        str,
        typer.Option(
            help="Put before each image path in the tasks; the default suits Label Studio's "
            "local-file serving, '' leaves relative paths."
        ),
    ] = LOCAL_FILES_PREFIX,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Write unlabelled (or chosen) frames as Label Studio tasks, with images and label config.

    OUT gets tasks.json (import it), label_config.xml (the labelling interface) and
    images/. Export the annotations from Label Studio as JSON and bring them back with
    `robotops labels import`.
    """
    cfg, st = setup(config, store)
    result = export_tasks(
        st.snapshot(ref or cfg.dataset),
        out,
        frame_ids=frame_id,
        unlabelled_only=not include_labelled,
        image_url_prefix=url_prefix,
    )
    console.print(f"{result.tasks} tasks written to {result.tasks_path}")
    if result.skipped_labelled:
        console.print(f"{result.skipped_labelled} labelled frames left out (--all includes them)")
    if result.skipped_no_image:
        console.print(f"{result.skipped_no_image} frames without a colour image left out")


@data_app.command("split")
def data_split(
    ref: Annotated[
        str | None, typer.Argument(help="Dataset NAME (its head); default: the config's.")
    ] = None,
    by: Annotated[
        SplitBy, typer.Option(help="Keep each recording, or each site, within one split.")
    ] = SplitBy.RECORDING,
    fractions: Annotated[
        str, typer.Option(help="train,val,test shares of the frames, summing to 1.")
    ] = "0.7,0.15,0.15",
    seed: Annotated[int, typer.Option(help="Same seed, same split.")] = 0,
    holdout_site: Annotated[
        list[str] | None,
        typer.Option(
            "--holdout-site",
            help="Put every frame of this site in test and nowhere else; repeat for several.",
        ),
    ] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Assign train/val/test by recording or site (never by frame) as one new version."""
    cfg, st = setup(config, store)
    try:
        shares = [float(x) for x in fractions.split(",")]
    except ValueError as err:
        raise UsageError(f"--fractions must be three numbers like 0.7,0.15,0.15: {err}") from err
    result = split_dataset(
        st,
        ref or cfg.dataset,
        by=by,
        fractions=shares,
        seed=seed,
        holdout_sites=holdout_site or (),
    )
    print_split(result)


def print_split(result: SplitResult) -> None:
    """Print the frames and groups per split."""
    table = Table(title=f"split by {result.by}")
    for column in ("split", "frames", result.by.value + "s"):
        table.add_column(column)
    for name, count in result.counts.items():
        table.add_row(name, str(count.frames), str(count.groups))
    console.print(table)
    if result.new_version:
        console.print(f"split: [bold]{result.snapshot}[/]")
    else:
        console.print(f"splits unchanged: {result.snapshot} stays")


@data_app.command("list")
def data_list(config: ConfigOption = None, store: StoreOption = None) -> None:
    """List the datasets in the store with their latest version."""
    _, st = setup(config, store)
    table = Table(title=f"datasets in {st.root}")
    for column in ("dataset", "version", "frames", "labelled", "classes"):
        table.add_column(column)
    for name in st.names():
        snap = st.snapshot(name)
        table.add_row(
            name,
            str(snap.version),
            str(snap.frame_count()),
            str(snap.labels().num_rows),
            ", ".join(snap.classes),
        )
    console.print(table)


@data_app.command("log")
def data_log(
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Show every version of a dataset, with its tags."""
    _, st = setup(config, store)
    table = Table(title=f"{dataset} log")
    for column in ("version", "kind", "tags", "message"):
        table.add_column(column)
    for commit in st.log(dataset):
        table.add_row(str(commit.version), commit.kind, ", ".join(commit.tags), commit.message)
    console.print(table)


@data_app.command("show")
def data_show(
    ref: Annotated[str, typer.Argument(help="NAME, NAME@VERSION or NAME@TAG.")],
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Show one version: frames and class counts per site and split."""
    _, st = setup(config, store)
    snap = st.snapshot(ref)
    index = snap.index().to_pylist()
    console.print(f"[bold]{snap}[/]: {len(index)} frames, classes {', '.join(snap.classes)}")
    console.print(f"{snap.commit.kind}: {snap.commit.message}")
    counts: dict[tuple[str, str, str], int] = {}
    for row in index:
        key = (row["site"] or "-", row["split"] or "-", row["label"] or "(unlabelled)")
        counts[key] = counts.get(key, 0) + 1
    table = Table()
    for column in ("site", "split", "class", "frames"):
        table.add_column(column)
    for (site_name, split, label), n in sorted(counts.items()):
        table.add_row(site_name, split, label, str(n))
    console.print(table)


@data_app.command("tag")
def data_tag(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION (or NAME for latest) to tag.")],
    tag: Annotated[str, typer.Argument(help="The tag, e.g. release-2026-11.")],
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Tag a dataset version so that NAME@TAG names it."""
    _, st = setup(config, store)
    snap = st.tag(ref, tag)
    console.print(f"tagged {snap} as {snap.name}@{tag}")


@data_app.command("diff")
def data_diff(
    a: Annotated[str, typer.Argument(help="The older reference.")],
    b: Annotated[str, typer.Argument(help="The newer reference.")],
    fmt: FormatOption = "table",
    as_json: JsonOption = False,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Frames added and removed, label changes, and class counts per site between versions."""
    _, st = setup(config, store)
    fmt = report_format(fmt, as_json)
    result = dataset_diff(st.snapshot(a), st.snapshot(b))
    if fmt == "json":
        print(json.dumps(result.to_json(), indent=2))
    elif fmt == "markdown":
        print(result.to_markdown(), end="")
    else:
        console.print(
            f"[bold]{result.a} → {result.b}[/]: {result.frames_added} frames added, "
            f"{result.frames_removed} removed, {sum(result.label_changes.values())} labels changed"
        )
        table = Table()
        for column in ("site", "class", "before", "after", "change"):
            table.add_column(column)
        for site_name, classes in result.class_counts.items():
            for cls, (ca, cb) in classes.items():
                table.add_row(site_name, cls, str(ca), str(cb), f"{cb - ca:+d}")
        console.print(table)


@app.command("validate")
def validate_command(
    ref: Annotated[
        str | None,
        typer.Argument(help="NAME, NAME@VERSION or NAME@TAG (default: the config's dataset)."),
    ] = None,
    fmt: FormatOption = "table",
    as_json: JsonOption = False,
    html: Annotated[
        Path | None, typer.Option(help="Also copy the HTML report (with plots) to this file.")
    ] = None,
    recompute: Annotated[
        bool, typer.Option(help="Run the checks even if a report is kept with the version.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option(help="Threads decoding sensor data (default: one per core).")
    ] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Check a dataset version's labels, sensor data, balance and split leakage.

    Exit code 0 when every error-severity check passes (warnings never fail), 10 when one
    fails. Severities and limits come from `checks:` in robotops.yaml. The report (JSON and
    HTML with plots) is kept with the version; a later run with the same rules shows it
    without recomputing.
    """
    cfg, st = setup(config, store)
    fmt = report_format(fmt, as_json)
    snapshot = st.snapshot(ref or cfg.dataset)
    run = partial(validate, st, str(snapshot), cfg, recompute=recompute, workers=workers)
    if fmt == "table":
        # Transient: a kept report is shown without scanning, so no bar is left at 0.
        total = snapshot.frame_count()
        with frame_progress(console, "validating", total, transient=True) as advance:
            result = run(on_frames=advance)
    else:
        result = run()  # stdout is the report alone
    report = result.report
    if html is not None:
        data = snapshot.load_artifact(REPORT_HTML)
        try:
            html.write_bytes(data or b"")
        except OSError as err:
            raise OutputError(f"{html}: cannot write the HTML report: {err.strerror}") from err
    if fmt == "json":
        print(report.dumps(), end="")
    elif fmt == "markdown":
        print(report.to_markdown(), end="")
    else:
        print_validation(result)
    if report.failed:
        failed = ", ".join(c.id for c in report.checks if c.failed)
        raise CheckFailed(f"{report.dataset} failed validation: {failed}")


def print_validation(result: Validation) -> None:
    """Print the validation checks and where the report is."""
    report = result.report
    colours = {"pass": "green", "warn": "yellow", "FAIL": "bold red"}
    table = Table(title=f"validation of {report.dataset} ({report.frames} frames)")
    for column in ("check", "severity", "status", "found"):
        table.add_column(column)
    for check in report.checks:
        status = f"[{colours[check.status]}]{check.status}[/]"
        table.add_row(check.id, str(check.severity), status, check.summary)
    console.print(table)
    counts = report.counts
    kept = "kept report" if result.reused else "report"
    console.print(
        f"{counts['pass']} passed, {counts['warn']} warnings, {counts['FAIL']} failed; "
        f"{kept}: {result.html_uri}",
        soft_wrap=True,
    )
