from __future__ import annotations

import json
import subprocess
import sys

import robotops.transforms

PROBE = """
import json, sys
before = set(sys.modules)
import robotops.transforms.preprocess
print(json.dumps({"all": sorted(sys.modules), "new": sorted(set(sys.modules) - before)}))
"""


def test_preprocess_imports_nothing_but_numpy_and_the_standard_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    modules = json.loads(result.stdout)
    loaded = {name.split(".")[0] for name in modules["all"]}
    for heavy in ("torch", "PIL", "cv2", "pyarrow", "lance", "pydantic", "onnxruntime", "scipy"):
        assert heavy not in loaded, heavy
    third_party = {name.split(".")[0] for name in modules["new"]} - set(sys.stdlib_module_names)
    assert third_party <= {"numpy", "robotops"}, third_party


def test_public_api() -> None:
    assert sorted(robotops.transforms.__all__) == sorted(
        [
            "MODALITIES",
            "SPEC_VERSION",
            "AugmentConfig",
            "PreprocessSpec",
            "Sample",
            "SpecError",
            "TransformError",
            "augment_frame",
            "depth_from_bytes",
            "flip_frame",
            "lidar_from_bytes",
            "preprocess_depth",
            "preprocess_frame",
            "preprocess_lidar",
            "preprocess_rgb",
            "sample_shapes",
            "stack_samples",
        ]
    )
    for name in robotops.transforms.__all__:
        assert hasattr(robotops.transforms, name), name
