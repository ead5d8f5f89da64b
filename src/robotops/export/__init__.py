"""Export: a trained checkpoint to a robot bundle (ONNX, parity-checked, optionally int8).

:func:`export_bundle` writes the bundle folder DESIGN.md describes; :mod:`robotops.runtime`
loads it on the robot without PyTorch. Steps, one module each: :mod:`~robotops.export.graph`
(ONNX export), :mod:`~robotops.export.parity` (ONNX Runtime against PyTorch on held-out frames),
:mod:`~robotops.export.quantize` (int8 candidates, measured and chosen) and
:mod:`~robotops.export.bundle` (manifest, checksums, atomic write). torch and onnx are imported
when an export runs, not when this package is imported.
"""

from robotops.export.bundle import (
    BUNDLE_FORMAT,
    MANIFEST,
    MODEL,
    MODEL_INT8,
    ExportResult,
    check_target,
    export_bundle,
)
from robotops.export.graph import OPSET
from robotops.export.parity import PARITY_TOLERANCE, Parity
from robotops.export.quantize import INT8_TOLERANCE, Candidate, Int8Report, Int8Status, Method

__all__ = [
    "BUNDLE_FORMAT",
    "INT8_TOLERANCE",
    "MANIFEST",
    "MODEL",
    "MODEL_INT8",
    "OPSET",
    "PARITY_TOLERANCE",
    "Candidate",
    "ExportResult",
    "Int8Report",
    "Int8Status",
    "Method",
    "Parity",
    "check_target",
    "export_bundle",
]
