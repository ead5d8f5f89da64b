from __future__ import annotations

from robotops.train.params import TrainParams

# Small enough to train in about a second per epoch on 2 cores.
TINY = {
    "epochs": 3,
    "batch_size": 8,
    "hyper": {"width": 8, "point_width": 8, "hidden": 16},
    "preprocess": {"image_height": 32, "image_width": 32, "lidar_points": 64},
}


def tiny_params(ref: str, **changes: object) -> TrainParams:
    """Training parameters for the tiny dataset; ``changes`` override fields."""
    return TrainParams.model_validate({"dataset": ref, "model": "fusion", **TINY, **changes})
