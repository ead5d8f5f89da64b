"""Network architectures for door classification, plain ``torch.nn``, chosen by name.

``build_model(name, num_classes, **hyper)`` returns one of :data:`MODELS`:

========  ============================================================  =============
name      architecture                                                  uses
========  ============================================================  =============
camera    small CNN on the colour image                                 rgb
rgbd      the same CNN on colour and depth stacked (early fusion)       rgb, depth
lidar     PointNet: shared per-point MLP, max-pool over points, head    lidar
fusion    CNN + CNN + PointNet, features gated by ``present``, head     all three
========  ============================================================  =============

Input contract (what :mod:`robotops.transforms` produces)
---------------------------------------------------------
Every model's ``forward(rgb, depth, lidar, present) -> logits`` takes all four tensors,
positionally in this order (:data:`INPUT_NAMES`), and ignores what it does not use (its
``uses`` attribute says which), so one ONNX signature and one runtime serve every model.
All tensors are float32; B is the batch size.

``rgb``: B x 3 x H x W
    Colour, channels R, G, B, normalised (per-channel mean and standard deviation).
    Default H = W = 64; any H, W >= 32 works (the CNN ends in a global average pool).
``depth``: B x 2 x H x W, same H x W as ``rgb``
    Channel 0: depth divided by the sensor's maximum range, in [0, 1], 0 where invalid.
    Channel 1: validity mask, 1 where channel 0 holds a reading, else 0.
``lidar``: B x P x 3
    Points x, y, z in metres in the robot frame; P fixed (default 512). Clouds with fewer
    points are padded by repeating their own points (never with zeros, which would be a point
    at the origin); the PointNet max-pool is unaffected by repeats and by point order.
``present``: B x 3
    1 where the frame has rgb, depth, lidar (columns in :class:`Modality` order), else 0.
    A missing modality's tensor is all zeros. ``fusion`` zeroes a missing modality's features
    and sees the flags; the single-modality models ignore ``present``.

Output: ``logits`` B x K (:data:`OUTPUT_NAMES`), K = number of classes in the dataset's class
list, in that list's order. Softmax is left to the caller.

Modality dropout (zeroing a modality and its flag at random while training, so ``fusion``
learns to cope without it) is the trainer's job, not the model's.

Every model is deterministic given ``torch.manual_seed``: initialisation and forward passes
use no random or nondeterministic operations (dropout is random only in training mode).
"""

from robotops.models.config import INPUT_NAMES, OUTPUT_NAMES, Modality, ModelConfig
from robotops.models.nets import CameraNet, DoorClassifier, FusionNet, LidarNet, RGBDNet
from robotops.models.registry import MODELS, build_model, count_parameters, example_inputs

__all__ = [
    "INPUT_NAMES",
    "MODELS",
    "OUTPUT_NAMES",
    "CameraNet",
    "DoorClassifier",
    "FusionNet",
    "LidarNet",
    "Modality",
    "ModelConfig",
    "RGBDNet",
    "build_model",
    "count_parameters",
    "example_inputs",
]
