"""What an evaluation and a gate produce: plain frozen records that round-trip through JSON.

The reports (terminal, Markdown, JSON, HTML) and the gate read these records only, so a stored
``evaluation.json`` renders the same report as the evaluation that wrote it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from robotops.evaluate.metrics import Metrics

ALL_MODALITIES = "rgb+depth+lidar"
"""The modality subset with every sensor the frames have."""


@dataclass(frozen=True)
class FramePrediction:
    """One scored frame.

    Attributes:
        frame_id: The frame.
        recording_id: Its recording.
        site: Its site.
        tags: Its free-form tags (lighting, variant, ...).
        label: True class name.
        predicted: Predicted class name.
        confidence: Probability of the predicted class.
    """

    frame_id: str
    recording_id: str
    site: str
    tags: dict[str, str]
    label: str
    predicted: str
    confidence: float

    @property
    def correct(self) -> bool:
        """Whether the prediction is right."""
        return self.label == self.predicted


@dataclass(frozen=True)
class BehaviourResult:
    """One behavioural test of a model.

    Attributes:
        id: The test, e.g. ``flip``, ``brightness``, ``drop.lidar``, ``slice.lighting=night``.
        description: What it checks, in words.
        passed: Whether it passed; None when it could not run (``detail`` says why).
        measured: The figure measured (agreement or accuracy, in [0, 1]; milliseconds for
            latency).
        threshold: The limit it was held to.
        detail: A line for the report.
    """

    id: str
    description: str
    passed: bool | None
    measured: float | None
    threshold: float
    detail: str


@dataclass(frozen=True)
class Evaluation:
    """A model scored on one split of one dataset version.

    Attributes:
        model: How the model was named, e.g. ``door-classifier/3`` or a run id.
        architecture: ``camera``, ``rgbd``, ``lidar`` or ``fusion``.
        run_id: The MLflow run that trained it, when known.
        dataset: The dataset version, e.g. ``doors@7``.
        split: The split scored, e.g. ``test``.
        classes: The class list, in the order of every matrix.
        overall: Metrics of every frame of the split.
        slices: Metrics per slice: slice key (``site``, a tag name) -> value -> metrics.
        modalities: Metrics with sensors withheld: subset name (``rgb+depth+lidar``,
            ``rgb+depth``, ``rgb+lidar``, ``rgb``, ``depth+lidar``) -> metrics.
        behaviour: The behavioural tests, in configuration order.
        predictions: Every scored frame.
        created_at: ISO 8601 time of the evaluation.
    """

    model: str
    architecture: str
    run_id: str | None
    dataset: str
    split: str
    classes: tuple[str, ...]
    overall: Metrics
    slices: dict[str, dict[str, Metrics]]
    modalities: dict[str, Metrics]
    behaviour: tuple[BehaviourResult, ...]
    predictions: tuple[FramePrediction, ...]
    created_at: str

    @property
    def behaviour_passed(self) -> bool:
        """No behavioural test failed (tests that could not run do not fail it)."""
        return all(b.passed is not False for b in self.behaviour)

    def misclassified(self) -> list[FramePrediction]:
        """Wrong predictions, most confident first."""
        wrong = [p for p in self.predictions if not p.correct]
        return sorted(wrong, key=lambda p: -p.confidence)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        """Read what :meth:`to_dict` wrote."""
        return cls(
            **{
                **data,
                "classes": tuple(data["classes"]),
                "overall": Metrics.from_dict(data["overall"]),
                "slices": {
                    key: {value: Metrics.from_dict(m) for value, m in values.items()}
                    for key, values in data["slices"].items()
                },
                "modalities": {k: Metrics.from_dict(m) for k, m in data["modalities"].items()},
                "behaviour": tuple(BehaviourResult(**b) for b in data["behaviour"]),
                "predictions": tuple(FramePrediction(**p) for p in data["predictions"]),
            }
        )


@dataclass(frozen=True)
class GateCheck:
    """One condition of a gate.

    Attributes:
        id: ``overall``, ``slice:KEY=VALUE``, ``behaviour:ID`` or ``absolute:METRIC``.
        passed: Whether it held.
        challenger: The challenger's figure.
        reference: The champion's figure (None under absolute thresholds).
        limit: The lowest figure that passes.
        detail: A line saying what was compared.
    """

    id: str
    passed: bool
    challenger: float | None
    reference: float | None
    limit: float | None
    detail: str


@dataclass(frozen=True)
class GateResult:
    """A gate's decision: the challenger may replace the champion only if ``passed``.

    Attributes:
        challenger: The challenger's name (``door-classifier/4``).
        champion: The champion's name, or None when there was none (absolute thresholds).
        dataset: The dataset version both were scored on.
        split: The split.
        metric: The overall metric compared (``accuracy``, ``macro_f1``).
        checks: Every condition, failed ones included.
        created_at: ISO 8601 time of the decision.
    """

    challenger: str
    champion: str | None
    dataset: str
    split: str
    metric: str
    checks: tuple[GateCheck, ...] = field(default_factory=tuple)
    created_at: str = ""

    @property
    def passed(self) -> bool:
        """Every check held."""
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[GateCheck]:
        """The checks that did not hold."""
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, with the decision."""
        return {**asdict(self), "passed": self.passed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateResult:
        """Read what :meth:`to_dict` wrote."""
        fields = {k: v for k, v in data.items() if k != "passed"}
        checks = tuple(GateCheck(**c) for c in fields.pop("checks"))
        return cls(**fields, checks=checks)
