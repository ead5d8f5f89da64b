"""Export: PyTorch eager against ONNX Runtime fp32 and int8 on the same trained model.

Data: simulated recordings from four offices for training and validation, and a fifth office
(``unseen-1``) held out as the test split. The fusion model is trained briefly by
:func:`robotops.train.run.train`, then exported by :func:`robotops.export.export_bundle` (parity
on the test split, int8 calibrated on the training split). The int8 tolerance is opened wide so
that the int8 model is always written and measured here; whether it would pass the default
tolerance of one point is reported beside its accuracy change.

Latency: one frame at a time (batch 1), p50 and p99 over many calls after a warm-up;
throughput: frames per second at batch 32. PyTorch eager runs the model in inference mode; the
ONNX Runtime rows run the bundle through :mod:`robotops.runtime` (logits, as PyTorch gives
them). Every engine gets the same 2 threads. Ratios are against PyTorch eager measured in the
same run.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from robotops.config import Config
from robotops.dataset.labels import import_labels
from robotops.dataset.splits import split_dataset
from robotops.dataset.store import Store
from robotops.export import INT8_TOLERANCE, export_bundle
from robotops.ingest.ingest import ingest
from robotops.models import INPUT_NAMES
from robotops.runtime import load_bundle
from robotops.sim import SimConfig, simulate
from robotops.train.checkpoint import load_checkpoint, model_from_checkpoint
from robotops.train.data import load_frames
from robotops.train.params import TrainParams
from robotops.train.run import CACHE_DIR, train

TRAIN_SITES = ("atrium", "loft", "clinic", "campus")
HELD_OUT = "unseen-1"
RECORDINGS = 6  # per site: two of each class
FRAMES = 10
THREADS = 2
LATENCY_CALLS = 300
THROUGHPUT_CALLS = 20
PARAMS = {
    "seed": 0,
    "model": "fusion",
    "epochs": 12,
    "batch_size": 32,
    "lr": 0.003,
    "augment": {"flip_prob": 0.5, "modality_drop_prob": 0.15},
}


def build(root: Path) -> tuple[Store, str]:
    """Simulate, ingest, label and split; returns the store and the split version."""
    recordings = simulate(
        SimConfig(
            out_dir=root / "recordings",
            sites=(*TRAIN_SITES, HELD_OUT),
            recordings=RECORDINGS,
            frames=FRAMES,
        )
    )
    store = Store(root / "datasets")
    ingest([r.bag for r in recordings], store, "doors", Config())
    import_labels(store, "doors", [r.labels for r in recordings])
    split = split_dataset(
        store, "doors", fractions=(0.8, 0.2, 0.0), seed=0, holdout_sites=(HELD_OUT,)
    )
    return store, str(split.snapshot)


def _batch(arrays: dict[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
    """The first ``size`` rows, repeated when there are fewer."""
    rows = np.arange(size) % arrays["rgb"].shape[0]
    return {k: np.ascontiguousarray(arrays[k][rows]) for k in INPUT_NAMES}


def _measure(run: object, one: object, many: object) -> dict[str, float]:
    """p50/p99 milliseconds at batch 1 and frames/s at batch 32 of ``run(batch)``."""
    for _ in range(20):
        run(one)  # type: ignore[operator]
    times = []
    for _ in range(LATENCY_CALLS):
        start = time.perf_counter()
        run(one)  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    run(many)  # type: ignore[operator]
    start = time.perf_counter()
    for _ in range(THROUGHPUT_CALLS):
        run(many)  # type: ignore[operator]
    seconds = time.perf_counter() - start
    return {
        "p50": 1000 * float(np.percentile(times, 50)),
        "p99": 1000 * float(np.percentile(times, 99)),
        "fps": 32 * THROUGHPUT_CALLS / seconds,
    }


def run() -> str:
    """Measure and return the Markdown section."""
    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        store, ref = build(root)
        params = TrainParams.model_validate({"dataset": ref, **PARAMS})
        result = train(params, store, root / "ws")
        built = time.perf_counter() - started
        snapshot = store.snapshot(ref)
        spec = params.spec()
        test = load_frames(snapshot, "test", spec, root / "ws" / CACHE_DIR)
        calibration = load_frames(snapshot, "train", spec, root / "ws" / CACHE_DIR)
        started = time.perf_counter()
        exported = export_bundle(
            result.checkpoint,
            root / "bundle",
            test,
            calibration=calibration,
            held_out_ref=f"{ref}:test",
            int8_tolerance=1.0,  # always write it, to measure it
        )
        export_seconds = time.perf_counter() - started
        model = model_from_checkpoint(load_checkpoint(result.checkpoint))
        one, many = _batch(test.arrays, 1), _batch(test.arrays, 32)

        def eager(batch: dict[str, np.ndarray]) -> None:
            with torch.inference_mode():
                model(*(torch.from_numpy(batch[k]) for k in INPUT_NAMES))

        rows = {"PyTorch eager": _measure(eager, one, many)}
        for label, int8 in (("ONNX Runtime fp32", False), ("ONNX Runtime int8", True)):
            bundle = load_bundle(exported.path, int8=int8, threads=THREADS)
            rows[label] = _measure(bundle.predict_logits, one, many)
    base = rows["PyTorch eager"]
    int8 = exported.int8
    chosen = int8.chosen
    assert chosen is not None and chosen.accuracy_change is not None
    parity = exported.parity
    passes = -chosen.accuracy_change <= INT8_TOLERANCE
    lines = [
        "## Export (`robotops export`)",
        "",
        f"The fusion model ({spec.image_width}x{spec.image_height} images, "
        f"{spec.lidar_points} points) trained for up to {params.epochs} epochs on simulated",
        f"offices {', '.join(TRAIN_SITES)} ({RECORDINGS} recordings each, {FRAMES} frames),",
        f"exported to ONNX (opset {exported.manifest['onnx']['opset']}) with int8 calibrated on "
        f"{int8.calibration_frames} training frames;",
        f"measured on the unseen office `{HELD_OUT}` ({len(test)} frames). Data and training "
        f"{built:.0f} s, export {export_seconds:.1f} s.",
        f"{THREADS} threads for every engine; batch 1 latency over {LATENCY_CALLS} calls, batch "
        f"32 throughput over {THROUGHPUT_CALLS} calls.",
        "",
        "| engine | p50 ms (batch 1) | p99 ms (batch 1) | p50 vs eager | frames/s (batch 32) "
        "| throughput vs eager |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, r in rows.items():
        lines.append(
            f"| {label} | {r['p50']:.2f} | {r['p99']:.2f} | {base['p50'] / r['p50']:.1f}x "
            f"| {r['fps']:,.0f} | {r['fps'] / base['fps']:.1f}x |"
        )
    fp32, q = rows["ONNX Runtime fp32"], rows["ONNX Runtime int8"]
    lines += [
        "",
        f"Parity on the unseen office: max |logit difference| {parity.max_abs_diff:.1g}, classes "
        f"agree on {parity.class_agreement:.1%}.",
        f"Int8 ({chosen.method}, chosen over "
        f"{', '.join(str(c.method) for c in int8.candidates if c is not chosen)} as the faster "
        f"within tolerance): accuracy {chosen.accuracy:.1%} against fp32 "
        f"{int8.accuracy_fp32:.1%}, a change of {100 * chosen.accuracy_change:+.1f} points "
        f"({'within' if passes else 'beyond'} the default 1-point tolerance); int8 against fp32 "
        f"{fp32['p50'] / q['p50']:.2f}x at batch 1 and {q['fps'] / fp32['fps']:.2f}x at batch 32.",
        "",
        "Targets: ONNX Runtime at least 2x PyTorch eager at batch 1 "
        f"({base['p50'] / fp32['p50']:.1f}x); int8 at least 1.5x fp32 "
        f"({fp32['p50'] / q['p50']:.2f}x) with at most 1 point of accuracy lost "
        f"({-100 * chosen.accuracy_change + 0.0:.1f}).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
