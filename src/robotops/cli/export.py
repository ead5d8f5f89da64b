"""Commands that take a model to the robot: export (a bundle) and predict (with a bundle)."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from robotops.cli._app import (
    ConfigOption,
    StoreOption,
    WorkspaceOption,
    app,
    console,
    setup,
)
from robotops.errors import DataError, NotFoundError, UsageError

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

if TYPE_CHECKING:
    import numpy as np

    from robotops.config import Config
    from robotops.export import ExportResult
    from robotops.runtime import Frame

_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def _checkpoint_metrics(meta: dict[str, Any]) -> dict[str, float]:
    """The best epoch's validation figures from a training checkpoint's state, if it has one."""
    state = meta.get("state") or {}
    best, history = state.get("best_epoch"), state.get("history") or []
    if not best or best > len(history):
        return {}
    epoch = history[best - 1]
    return {k: float(epoch[k]) for k in ("val_acc", "val_loss") if k in epoch}


def _resolve(model: str, workspace: Path, cfg: Config) -> dict[str, Any]:
    """Checkpoint, registry name/version, metrics and training dataset of ``model``."""
    from robotops.registry import resolve_model  # MLflow: loaded only when exporting
    from robotops.train.checkpoint import load_checkpoint
    from robotops.train.tracking import tracking_uri

    found = resolve_model(model, workspace, tracking_uri(workspace), cfg.registry.model)
    return {
        "checkpoint": found.checkpoint,
        "name": found.name,
        "version": found.version,
        "metrics": _checkpoint_metrics(load_checkpoint(found.checkpoint).meta),
        "dataset": found.dataset or None,
    }


@app.command("export")
def export_command(
    model: Annotated[
        str,
        typer.Argument(
            help="The model: a .safetensors checkpoint, a registry version (door-classifier/3, "
            "door-classifier@champion, champion, 3) or a training run id."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Bundle folder to create.")],
    int8: Annotated[
        bool, typer.Option("--int8/--no-int8", help="Also make model.int8.onnx if it holds up.")
    ] = True,
    int8_tolerance: Annotated[
        float,
        typer.Option(
            help="Largest accuracy drop of the int8 model on the held-out frames, as a fraction "
            "(0.01 = one point); beyond it no int8 model is written."
        ),
    ] = 0.01,
    dataset: Annotated[
        str | None,
        typer.Option(
            help="Dataset version for held-out and calibration frames "
            "(default: the one the model was trained on)."
        ),
    ] = None,
    split: Annotated[
        str,
        typer.Option(help="Held-out split: parity, int8 accuracy and speed are measured on it."),
    ] = "test",
    calibration_split: Annotated[
        str, typer.Option(help="Split whose frames calibrate static int8 quantisation.")
    ] = "train",
    parity_tolerance: Annotated[
        float, typer.Option(help="Largest absolute logit difference ONNX may have from PyTorch.")
    ] = 1e-3,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty --out.")] = False,
    as_json: JsonFlag = False,
    workspace: WorkspaceOption = Path("."),
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Export a model to a robot bundle: ONNX (opset 18), parity-checked, optionally int8.

    The bundle folder holds model.onnx, model.int8.onnx when int8 quantisation keeps the
    accuracy within --int8-tolerance, and manifest.json: model name and version, class list,
    input spec, preprocessing, dataset version, metrics, parity and int8 figures, and the
    SHA-256 of every file. It is written whole or not at all. Load it on the robot with
    robotops.runtime (NumPy and ONNX Runtime only), or try it with `robotops predict`.
    """
    from robotops.export import check_target, export_bundle
    from robotops.train.checkpoint import load_checkpoint
    from robotops.train.data import load_frames
    from robotops.train.run import CACHE_DIR
    from robotops.transforms import PreprocessSpec

    check_target(out, force)  # before any work
    cfg, dataset_store = setup(config, store)
    found = _resolve(model, workspace, cfg)
    ref = dataset or found["dataset"]
    if not ref:
        raise UsageError(f"{model}: the model names no training dataset; give --dataset")
    snapshot = dataset_store.snapshot(ref)
    spec = PreprocessSpec.from_dict(load_checkpoint(found["checkpoint"]).meta["spec"])
    cache = workspace / CACHE_DIR
    with console.status(f"exporting {model} ...") if not as_json else nullcontext():
        held_out = load_frames(snapshot, split, spec, cache)
        calibration = load_frames(snapshot, calibration_split, spec, cache) if int8 else None
        result = export_bundle(
            found["checkpoint"],
            out,
            held_out,
            calibration=calibration,
            name=found["name"],
            version=found["version"],
            metrics=found["metrics"],
            held_out_ref=f"{snapshot}:{split}",
            int8=int8,
            int8_tolerance=int8_tolerance,
            parity_tolerance=parity_tolerance,
            overwrite=force,
        )
    if found["version"] is not None:  # lineage: the registry version knows its bundle
        from robotops.registry import Registry
        from robotops.train.tracking import tracking_uri

        registry = Registry(tracking_uri(workspace), found["name"])
        registry.tag_version(found["version"], "robotops.bundle.sha256", result.digest)
        registry.tag_version(found["version"], "robotops.bundle.path", str(result.path.resolve()))
    if as_json:
        print(json.dumps({"path": str(result.path), "sha256": result.digest, **result.manifest}))
    else:
        _print_export(model, result)


def _print_export(model: str, result: ExportResult) -> None:
    m = result.manifest
    named = f" ({m['model']['name']}/{m['model']['version']})" if m["model"]["name"] else ""
    console.print(f"exported {m['model']['architecture']} model {model}{named} to {result.path}")
    p = result.parity
    console.print(
        f"parity on {p.frames} held-out frames ({m['held_out']['ref']}): max |logit diff| "
        f"{p.max_abs_diff:.2g} (tolerance {p.tolerance:g}), classes agree {p.class_agreement:.1%},"
        f" accuracy {p.accuracy_onnx:.1%}"
    )
    i = result.int8
    if i.chosen is not None:
        console.print(
            f"int8 ({i.chosen.method}): written, accuracy change "
            f"{100 * (i.chosen.accuracy_change or 0):+.1f} points, "
            f"{i.chosen.speedup or 0:.2f}x fp32 speed"
        )
    else:
        console.print(f"int8: {i.status}: {i.reason}", soft_wrap=True)
    table = Table(title="bundle files")
    table.add_column("file")
    table.add_column("bytes", justify="right")
    table.add_column("sha256")
    for name, digest in m["files"].items():
        table.add_row(name, f"{(result.path / name).stat().st_size:,}", digest[:16])
    console.print(table)
    console.print(f"bundle sha256 (of manifest.json): {result.digest}", soft_wrap=True)


def _read_image(path: Path) -> tuple[str, np.ndarray]:
    """``("depth", uint16 mm)`` for a 16-bit grey image, else ``("rgb", uint8 H x W x 3)``."""
    import numpy as np
    from PIL import Image

    from robotops.ingest.decode import IMAGE_ERRORS

    if not path.is_file():
        raise NotFoundError(f"{path}: no such image file")
    try:
        with Image.open(path) as image:
            if image.mode in _DEPTH_MODES:
                depth = np.asarray(image)
                if depth.min(initial=0) < 0 or depth.max(initial=0) > 65535:
                    raise DataError(f"{path}: 32-bit image is not 16-bit depth in millimetres")
                return "depth", depth.astype(np.uint16)
            return "rgb", np.asarray(image.convert("RGB"))
    except IMAGE_ERRORS as err:
        raise DataError(f"{path}: image does not decode: {err}") from err


def _read_frame(spec: str) -> Frame:
    from robotops.runtime import Frame

    found: dict[str, np.ndarray] = {}
    for part in spec.split(","):
        if not part:
            continue
        kind, array = _read_image(Path(part))
        if kind in found:
            raise UsageError(f"frame {spec}: two {kind} images; give one colour and one depth")
        found[kind] = array
    if not found:
        raise UsageError(f"frame {spec!r}: no image named")
    return Frame(rgb=found.get("rgb"), depth_mm=found.get("depth"))


@app.command("predict")
def predict_command(
    bundle: Annotated[Path, typer.Argument(help="Bundle folder made by `robotops export`.")],
    frames: Annotated[
        list[str],
        typer.Argument(
            help="One argument per frame: a colour image (PNG, JPEG), a 16-bit depth PNG in "
            "millimetres, or both joined by a comma: colour.png,depth.png. Images are told "
            "apart by pixel format (16-bit grey is depth). Missing modalities (and LiDAR, "
            "which has no image form) are fed to the model as absent.",
        ),
    ],
    int8: Annotated[bool, typer.Option("--int8", help="Use the bundle's int8 model.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Predict frames from image files with a bundle, as the robot would (no PyTorch).

    Checks the bundle's checksums, preprocesses each frame with the bundle's own preprocessing
    spec and prints the label and confidence per frame (all class probabilities with --json).
    """
    from robotops.runtime import load_bundle

    loaded = load_bundle(bundle, int8=int8)
    predictions = loaded.predict_frames([_read_frame(f) for f in frames])
    if as_json:
        out = {
            "bundle": str(bundle),
            "name": loaded.name,
            "version": loaded.version,
            "int8": int8,
            "predictions": [
                {
                    "frame": frame,
                    "label": p.label,
                    "index": p.index,
                    "confidence": p.confidence,
                    "probabilities": dict(zip(loaded.classes, p.probabilities, strict=True)),
                }
                for frame, p in zip(frames, predictions, strict=True)
            ],
        }
        print(json.dumps(out, indent=2))
        return
    named = (
        f"{loaded.name}/{loaded.version}"
        if loaded.name
        else loaded.manifest["model"]["architecture"]
    )
    table = Table(title=f"{named} ({'int8' if int8 else 'fp32'}) on {len(frames)} frame(s)")
    table.add_column("frame")
    table.add_column("label")
    table.add_column("confidence", justify="right")
    for frame, p in zip(frames, predictions, strict=True):
        table.add_row(frame, p.label, f"{p.confidence:.3f}")
    console.print(table)
