"""``robotops sim``: write simulated office-robot recordings with their ground truth."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from robotops.errors import ConflictError, OutputError, UsageError
from robotops.sim.annotations import SUFFIX, LabelFaults, annotation_document, write_json_atomic
from robotops.sim.bag_writer import BagFormat
from robotops.sim.recording import RecordingSpec, plan_classes, write_recording
from robotops.sim.scene import LIGHTING
from robotops.sim.sites import get_site

MAX_PIXELS = 1920 * 1080


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. Defaults are small so that the demo is quick.

    Attributes:
        out_dir: Folder that receives the bags and their annotation files.
        sites: Site names (named sites or ``unseen-N``).
        recordings: Recordings per site; door classes cycle through the class list.
        frames: Colour frames per recording (15 Hz camera; LiDAR at 10 Hz alongside).
        width: Image width in pixels.
        height: Image height in pixels.
        fmt: Bag format.
        compressed: Colour as JPEG ``CompressedImage`` instead of raw ``Image``.
        seed: Seed; the same seed gives the same recordings.
        faults: Label faults to inject.
        lighting: Force this lighting (day, dim or night) on every recording instead of
            drawing it per scene.
    """

    out_dir: Path
    sites: Sequence[str] = ("atrium",)
    recordings: int = 3
    frames: int = 24
    width: int = 160
    height: int = 120
    fmt: BagFormat = BagFormat.MCAP
    compressed: bool = False
    seed: int = 0
    faults: LabelFaults = field(default_factory=LabelFaults)
    lighting: str | None = None

    def check(self) -> None:
        """Refuse values that cannot make a recording.

        Raises:
            UsageError: A value is out of range or a site is unknown.
        """
        if self.recordings < 1:
            raise UsageError(f"--recordings must be at least 1, got {self.recordings}")
        if self.frames < 1:
            raise UsageError(f"--frames must be at least 1, got {self.frames}")
        if min(self.width, self.height) < 16 or self.width * self.height > MAX_PIXELS:
            raise UsageError(
                f"image size {self.width}x{self.height} is out of range "
                "(each side at least 16, at most 1920x1080 pixels)"
            )
        for name, p in (
            ("--label-noise", self.faults.noise),
            ("--missing-labels", self.faults.missing),
        ):
            if not 0.0 <= p <= 1.0:
                raise UsageError(f"{name} must be a probability between 0 and 1, got {p}")
        if self.faults.noise + self.faults.missing > 1.0:
            raise UsageError("--label-noise and --missing-labels add up to more than 1")
        if self.lighting is not None and self.lighting not in LIGHTING:
            raise UsageError(
                f"unknown lighting {self.lighting!r}: choose one of {', '.join(LIGHTING)}"
            )
        if not self.sites:
            raise UsageError("no site given")
        for name in self.sites:
            get_site(name)

    def specs(self) -> list[RecordingSpec]:
        """The recordings to write, in order."""
        specs = []
        for k, name in enumerate(self.sites):
            site = get_site(name)
            for index, door_class in enumerate(plan_classes(self.recordings, offset=k)):
                specs.append(
                    RecordingSpec(
                        site=site,
                        index=index,
                        door_class=door_class,
                        seed=self.seed,
                        frames=self.frames,
                        width=self.width,
                        height=self.height,
                        lighting=self.lighting,
                    )
                )
        return specs


@dataclass(frozen=True)
class SimulatedRecording:
    """A recording written by :func:`simulate`."""

    recording_id: str
    bag: Path
    labels: Path
    site: str
    door_class: str
    variant: str
    lighting: str
    frames: int


def simulate(
    config: SimConfig, *, on_frame: Callable[[], None] | None = None
) -> list[SimulatedRecording]:
    """Write the recordings of ``config``, each bag with its annotation file beside it.

    Each bag is written into a hidden folder and moved into place only when complete, so an
    interrupted run leaves no half-written recording behind.

    Raises:
        UsageError: Bad configuration.
        ConflictError: A recording of the same id exists already in ``out_dir``.
        OutputError: ``out_dir`` cannot be written.
    """
    config.check()
    specs = config.specs()
    out = config.out_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".robotops-write-probe"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise OutputError(f"cannot write to {out}: {err.strerror or err}") from err
    for spec in specs:
        for existing in (
            out / config.fmt.bag_name(spec.recording_id),
            out / (spec.recording_id + SUFFIX),
        ):
            if existing.exists():
                raise ConflictError(
                    f"{existing} exists already: remove it or choose another output folder or seed"
                )

    written = []
    for spec in specs:
        bag_name = config.fmt.bag_name(spec.recording_id)
        staging = out / f".partial-{spec.recording_id}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        labels = out / (spec.recording_id + SUFFIX)
        try:
            scenario, truths = write_recording(
                spec,
                staging / bag_name,
                config.fmt,
                compressed=config.compressed,
                on_frame=on_frame,
            )
            document = annotation_document(
                spec, scenario, truths, bag_name, config.compressed, config.faults
            )
            write_json_atomic(staging / labels.name, document)
            (staging / bag_name).rename(out / bag_name)
            (staging / labels.name).rename(labels)
        except BaseException as err:
            _remove(out / bag_name)
            if isinstance(err, OSError):
                raise OutputError(f"cannot write {out / bag_name}: {err.strerror or err}") from err
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        written.append(
            SimulatedRecording(
                recording_id=spec.recording_id,
                bag=out / bag_name,
                labels=labels,
                site=spec.site.name,
                door_class=scenario.door_class.value,
                variant=scenario.variant,
                lighting=scenario.lighting,
                frames=len(truths),
            )
        )
    return written


def _remove(path: Path) -> None:
    """Remove a file or folder if it is there."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
