"""ONNX export smoke tests: every model exports with a dynamic batch axis and ONNX Runtime agrees.

The legacy TorchScript exporter (``dynamo=False``) needs nothing beyond ``onnx``; it prunes graph
inputs a model never reads, so the single-modality models come out with fewer inputs than the
four of the shared signature. The torch.export-based exporter (``dynamo=True``, the default) keeps
all four but needs ``onnxscript`` and emits opset 18 at the lowest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from robotops.models import INPUT_NAMES, MODELS, OUTPUT_NAMES, build_model, example_inputs

LEGACY_OPSET = 17
DYNAMO_OPSET = 18


def _runtime_logits(path: Path, inputs: tuple[torch.Tensor, ...]) -> tuple[list[str], np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    by_name = dict(zip(INPUT_NAMES, inputs, strict=True))
    names = [i.name for i in session.get_inputs()]
    (logits,) = session.run(list(OUTPUT_NAMES), {n: by_name[n].numpy() for n in names})
    return names, logits


def _batch_axes(path: Path) -> set[str]:
    graph = onnx.load(path).graph
    return {v.type.tensor_type.shape.dim[0].dim_param for v in (*graph.input, *graph.output)}


def _check_parity(model: torch.nn.Module, path: Path) -> list[str]:
    # A batch size other than the traced one proves the batch axis is dynamic.
    batch = example_inputs(5, generator=torch.Generator().manual_seed(1))
    names, logits = _runtime_logits(path, batch)
    with torch.no_grad():
        expected = model(*batch).numpy()
    assert logits.shape == (5, 3)
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)
    return names


@pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export")
@pytest.mark.filterwarnings("ignore:The feature will be removed")
@pytest.mark.parametrize("name", sorted(MODELS))
def test_legacy_export_matches_torch(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model(name, 3).eval()
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(
        model,
        example_inputs(2),
        path,
        dynamo=False,
        opset_version=LEGACY_OPSET,
        input_names=list(INPUT_NAMES),
        output_names=list(OUTPUT_NAMES),
        dynamic_axes={n: {0: "batch"} for n in (*INPUT_NAMES, *OUTPUT_NAMES)},
    )
    assert onnx.load(path).opset_import[0].version == LEGACY_OPSET
    assert _batch_axes(path) == {"batch"}
    names = _check_parity(model, path)
    # Unused inputs are pruned: the graph keeps exactly what the model reads (and `present`,
    # which only fusion reads).
    expected = [n for n in INPUT_NAMES if n in model.uses or (n == "present" and name == "fusion")]
    assert names == expected


@pytest.mark.slow
@pytest.mark.filterwarnings(
    "ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning"
)
def test_dynamo_export_keeps_the_shared_signature(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("lidar", 3).eval()  # the quickest to trace, and it ignores 3 of 4 inputs
    path = tmp_path / "lidar.onnx"
    torch.onnx.export(
        model,
        example_inputs(2),
        path,
        dynamo=True,
        opset_version=DYNAMO_OPSET,
        input_names=list(INPUT_NAMES),
        output_names=list(OUTPUT_NAMES),
        # Named strings, not Dim.DYNAMIC, which gives every input its own batch symbol.
        dynamic_shapes=tuple({0: "batch"} for _ in INPUT_NAMES),
        external_data=False,
        verbose=False,
    )
    assert onnx.load(path).opset_import[0].version == DYNAMO_OPSET
    assert _batch_axes(path) == {"batch"}
    assert _check_parity(model, path) == list(INPUT_NAMES)
