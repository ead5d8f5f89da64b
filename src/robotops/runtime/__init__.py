"""The robot's runtime: load a bundle, verify it, preprocess raw frames as training did, predict.

Imports only NumPy, ONNX Runtime, the standard library, :mod:`robotops.errors` and the numpy-only
:mod:`robotops.transforms` (a test guards that), so a robot needs ``pip install
robotops[runtime]`` and nothing of the training stack. ``python -m robotops.runtime`` is the
same from the command line (:mod:`robotops.runtime.command`).

Example::

    bundle = load_bundle("bundle/")            # verifies every SHA-256 in manifest.json
    [pred] = bundle.predict_frames([(rgb, depth_mm, xyz)])
    print(pred.label, pred.confidence)
"""

from robotops.runtime.bundle import Bundle, Frame, Prediction, load_bundle, softmax
from robotops.runtime.manifest import BUNDLE_FORMAT, MANIFEST, MODEL, MODEL_INT8

__all__ = [
    "BUNDLE_FORMAT",
    "MANIFEST",
    "MODEL",
    "MODEL_INT8",
    "Bundle",
    "Frame",
    "Prediction",
    "load_bundle",
    "softmax",
]
