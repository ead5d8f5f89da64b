"""The simulator's ground-truth annotation file, written beside each bag.

One JSON file per recording, keyed by recording id and the header stamp of each colour message.
``label`` is what an annotator would have said: it may be flipped (label noise) or ``null``
(missing) when the simulator is asked to inject such faults for validation tests; ``true_class``
always holds the truth, so a test can tell which labels were corrupted.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robotops.sim.recording import ROBOT, TOPICS, FrameTruth, RecordingSpec
from robotops.sim.scene import CLASSES, Scenario

FORMAT = "robotops-sim-annotations/1"
SUFFIX = ".labels.json"


@dataclass(frozen=True)
class LabelFaults:
    """Faults to inject into the labels: a probability each, per frame."""

    noise: float = 0.0
    missing: float = 0.0


def annotation_document(
    spec: RecordingSpec,
    scenario: Scenario,
    truths: list[FrameTruth],
    bag_name: str,
    compressed: bool,
    faults: LabelFaults,
) -> dict[str, Any]:
    """Build the annotation document of one recording."""
    # Faults draw from their own stream, so asking for them never changes the sensor data.
    rng = spec.rng(3_000_000)
    truth = scenario.door_class.value
    frames = []
    for ft in truths:
        label: str | None = truth
        draw = rng.random()
        if draw < faults.missing:
            label = None
        elif draw < faults.missing + faults.noise:
            label = str(rng.choice([c for c in CLASSES if c != truth]))
        frames.append(
            {
                "stamp_ns": ft.stamp_ns,
                "label": label,
                "true_class": truth,
                "box": list(ft.door_box) if ft.door_box else None,
                "tags": {"person": ft.person, "motion_blur": scenario.motion_blur},
            }
        )
    return {
        "format": FORMAT,
        "recording_id": spec.recording_id,
        "bag": bag_name,
        "site": spec.site.name,
        "robot": ROBOT,
        "classes": list(CLASSES),
        "annotator": "robotops-sim",
        "review_status": "reviewed",
        "topics": {
            "rgb": TOPICS["rgb_compressed"] if compressed else TOPICS["rgb"],
            "depth": TOPICS["depth"],
            "camera_info": TOPICS["camera_info"],
            "lidar": TOPICS["lidar"],
        },
        "label_topic": TOPICS["rgb_compressed"] if compressed else TOPICS["rgb"],
        "tags": {"site": spec.site.name, **scenario.tags},
        "simulation": {
            "seed": spec.seed,
            "index": spec.index,
            "width": spec.width,
            "height": spec.height,
            "door_class": truth,
            "variant": scenario.variant,
            "lighting": scenario.lighting,
            "occluded": scenario.occluded,
            "motion_blur": scenario.motion_blur,
            "label_noise": faults.noise,
            "missing_labels": faults.missing,
        },
        "frames": frames,
    }


def write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    """Write JSON so that a reader sees the whole file or none of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=1) + "\n")
    os.replace(tmp, path)
