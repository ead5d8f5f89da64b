"""PyTorch model -> ONNX graph with the shared four-input signature and a dynamic batch axis.

The exporter is torch's ``torch.export``-based one (``dynamo=True``) at opset :data:`OPSET`. The
legacy TorchScript exporter is faster but prunes the inputs a model never reads, so a camera
model would come out with one input and a fusion model with four; the robot would then need to
know which model it runs. With the dynamo exporter every architecture keeps ``rgb, depth, lidar,
present`` and one runtime feeds them all. The graph's actual inputs are still read back and
recorded, should a later exporter prune again.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from robotops.errors import DataError
from robotops.transforms import PreprocessSpec

if TYPE_CHECKING:
    from robotops.models import DoorClassifier

OPSET = 18
"""The ONNX opset of every export: the lowest the dynamo exporter emits; ONNX Runtime 1.20+ runs
it on x86-64 and ARM64 alike."""
EXPORTER = "torch.onnx.export(dynamo=True)"


@dataclass(frozen=True)
class GraphInfo:
    """What the exported graph turned out to be.

    Attributes:
        opset: The default-domain opset.
        ir_version: The ONNX IR version.
        inputs: The graph's input names, in order.
        outputs: The graph's output names.
    """

    opset: int
    ir_version: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's chatter (missing torchvision ops, deprecations) for one export."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def export_onnx(model: DoorClassifier, path: Path, spec: PreprocessSpec) -> GraphInfo:
    """Export ``model`` (in eval mode) to ``path`` as one self-contained ONNX file.

    Args:
        model: The model, rebuilt from its checkpoint.
        path: The ``.onnx`` file to write.
        spec: The preprocessing it was trained with; fixes H, W and P in the graph.

    Raises:
        DataError: The exporter fails, or its graph does not check.
    """
    import onnx
    import torch

    from robotops.models import INPUT_NAMES, OUTPUT_NAMES, example_inputs

    model = model.eval()
    # Batch 2, not 1: a traced batch of 1 can be specialised away as a constant.
    inputs = example_inputs(
        2,
        spec.image_height,
        spec.image_width,
        spec.lidar_points,
        generator=torch.Generator().manual_seed(0),
    )
    try:
        with _quiet():
            torch.onnx.export(
                model,
                inputs,
                str(path),
                dynamo=True,
                opset_version=OPSET,
                input_names=list(INPUT_NAMES),
                output_names=list(OUTPUT_NAMES),
                # Named strings, not Dim.DYNAMIC, which gives every input its own batch symbol.
                dynamic_shapes=tuple({0: "batch"} for _ in INPUT_NAMES),
                external_data=False,
                verbose=False,
            )
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except Exception as err:  # the exporter raises many unrelated types
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise DataError(f"{path}: ONNX export of model {model.name!r} failed: {first}") from err
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    return GraphInfo(
        opset=opset,
        ir_version=proto.ir_version,
        inputs=tuple(i.name for i in proto.graph.input),
        outputs=tuple(o.name for o in proto.graph.output),
    )
