"""Render one instant of a scenario as the colour camera, the depth camera and the LiDAR see it.

The physics that makes the task hard for a camera and easy for range sensors:

* Glass transmits light: the camera sees the room behind, tinted, with specular streaks.
  Active depth (structured or time-of-flight infrared) mostly passes through it and measures the
  room behind; at highlights it returns nothing. LiDAR returns from a pane only near normal
  incidence, so a glass door has few points on it.
* Wood is opaque: a depth plane and dense LiDAR returns, whatever its colour.
* Dark tinted glass and dark varnished wood look alike in colour; frosted glass looks like a
  light painted surface; an open doorway looks like clear glass without the streaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robotops.sim import rig
from robotops.sim.raycast import cast
from robotops.sim.scene import DoorClass, Material, Rect, Scenario

# Fraction of depth pixels on a pane that read through it, read the pane, or are invalid.
_DEPTH_THROUGH = {Material.GLASS: 0.82, Material.FROSTED: 0.35}
_DEPTH_PANE = {Material.GLASS: 0.05, Material.FROSTED: 0.25}
# LiDAR reflectivity (scales intensity) per material.
_REFLECTIVITY = np.array([0.6, 0.35, 0.7, 0.5, 0.45, 0.95, 0.8, 0.6, 0.4, 0.3])


@dataclass(frozen=True)
class Pose:
    """The robot's base on the floor: position in metres and heading in radians."""

    x_m: float
    y_m: float
    yaw_rad: float

    def to_world(self, body: np.ndarray) -> np.ndarray:
        """Rotate body-frame vectors (N, 3) into the world frame (no translation)."""
        c, s = np.cos(self.yaw_rad), np.sin(self.yaw_rad)
        return np.stack(
            [c * body[:, 0] - s * body[:, 1], s * body[:, 0] + c * body[:, 1], body[:, 2]], axis=1
        )

    def point_to_world(self, body_xyz: tuple[float, float, float]) -> np.ndarray:
        """A body-frame point in the world frame."""
        return self.to_world(np.asarray([body_xyz], dtype=float))[0] + np.array(
            [self.x_m, self.y_m, 0.0]
        )


@dataclass(frozen=True)
class CameraFrame:
    """What the RGB-D camera produced.

    Attributes:
        rgb: Colour, (H, W, 3) uint8.
        depth_mm: Aligned depth, (H, W) uint16 millimetres, 0 = invalid.
        door_box: The door leaf's bounding box in pixels (x0, y0, x1, y1), None when not in view.
    """

    rgb: np.ndarray
    depth_mm: np.ndarray
    door_box: tuple[int, int, int, int] | None


def _box_blur(img: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Mean over a window of ``k`` pixels along ``axis``, edges clamped."""
    if k <= 1:
        return img
    pad = [(0, 0)] * img.ndim
    pad[axis] = (k // 2, k - 1 - k // 2)
    padded = np.pad(img, pad, mode="edge")
    csum = np.cumsum(padded, axis=axis, dtype=np.float64)
    csum = np.concatenate([np.zeros_like(np.take(csum, [0], axis=axis)), csum], axis=axis)
    n = img.shape[axis]
    hi = np.take(csum, np.arange(k, k + n), axis=axis)
    lo = np.take(csum, np.arange(0, n), axis=axis)
    return ((hi - lo) / k).astype(img.dtype)


def _texture(
    rects: list[Rect], index: np.ndarray, points: np.ndarray, dirs: np.ndarray
) -> np.ndarray:
    """Albedo (N, 3) of each hit, with each material's texture and a simple incidence shading."""
    rgb = np.zeros((index.shape[0], 3))
    for i, rect in enumerate(rects):
        sel = index == i
        if not sel.any():
            continue
        x, y, z = points[sel, 0], points[sel, 1], points[sel, 2]
        base = np.asarray(rect.rgb)
        match rect.material:
            case Material.FLOOR:
                tile = 0.6  # grout lines every tile; checker brightness
                gu, gv = np.mod(x / tile, 1.0), np.mod(y / tile, 1.0)
                grout = (gu < 0.04) | (gv < 0.04)
                checker = (np.floor(x / tile) + np.floor(y / tile)) % 2
                f = np.where(grout, 0.65, 0.93 + 0.07 * checker)
            case Material.WOOD:
                f = 1.0 + 0.16 * np.sin(2 * np.pi * (y * 21.0 + 0.8 * np.sin(z * 2.3 + y * 5.0)))
                f += 0.06 * np.sin(y * 97.0 + z * 3.0)
            case Material.CEILING:
                f = np.where((np.mod(x, 2.4) < 0.6) & (np.abs(y) < 0.5), 1.25, 1.0)
            case Material.PERSON:
                head = z > 1.5
                f = np.ones_like(x)
                out = np.where(head[:, None], np.array([0.80, 0.62, 0.52]), base)
                rgb[sel] = out
                continue
            case Material.FURNITURE:
                f = np.where(np.mod(z, 0.4) < 0.03, 0.7, 1.0)
            case _:
                f = 1.0 + 0.04 * np.sin(3.1 * x + 1.7 * z) * np.sin(2.3 * y + 0.9 * z)
        norm = np.linalg.norm(dirs[sel], axis=1)
        cos = np.abs(dirs[sel, rect.axis]) / norm
        rgb[sel] = base * (f * (0.72 + 0.28 * cos))[:, None]
    return rgb


def _streaks(y: np.ndarray, z: np.ndarray, phase: float, width: float) -> np.ndarray:
    """Diagonal specular streaks on a pane, a function of the position on the pane."""
    return np.mod(0.7 * y + 0.45 * z + phase, 1.0) < width


def render_camera(
    rects: list[Rect],
    scenario: Scenario,
    pose: Pose,
    intr: rig.Intrinsics,
    rng: np.random.Generator,
) -> CameraFrame:
    """Colour and aligned depth images of the scene from ``pose``."""
    h, w = intr.height, intr.width
    u, v = np.meshgrid(np.arange(w), np.arange(h))
    # Body-frame ray directions with unit forward component, so that t is optical depth.
    body = np.stack(
        [np.ones(h * w), -(u.ravel() - intr.cx) / intr.fx, -(v.ravel() - intr.cy) / intr.fy], axis=1
    )
    dirs = pose.to_world(body)
    origin = pose.point_to_world(rig.CAMERA_XYZ_M)

    t, idx = cast(origin, dirs, rects)
    points = origin + t[:, None] * dirs
    rgb = _texture(rects, idx, points, dirs)
    depth = t.copy()
    materials = np.array([r.material for r in rects] + [Material.WALL])[idx]
    pane = np.isin(materials, (Material.GLASS, Material.FROSTED))
    highlight = np.zeros(h * w, dtype=bool)

    if pane.any():
        t_b, idx_b = cast(origin, dirs[pane], rects, skip_transparent=True)
        behind = _texture(rects, idx_b, origin + t_b[:, None] * dirs[pane], dirs[pane])
        pane_rect = rects[int(idx[pane][0])]
        tint = np.asarray(pane_rect.rgb)
        py, pz = points[pane, 1], points[pane, 2]
        if pane_rect.material is Material.FROSTED:
            layer = np.zeros((h * w, 3))
            layer[pane] = behind
            k = max(3, w // 12)
            blurred = _box_blur(_box_blur(layer.reshape(h, w, 3), k, 0), k, 1).reshape(h * w, 3)
            # Diffuse film: mostly its own (tinted) white, a little of the blurred room behind.
            colour = 0.6 * tint + 0.4 * blurred[pane] * tint
            spec = _streaks(py, pz, scenario.highlight_phase, 0.03)
        else:
            transmit = 0.35 if scenario.variant == "dark_tint" else 0.85
            colour = behind * tint * transmit + 0.06 * tint
            spec = _streaks(py, pz, scenario.highlight_phase, 0.06)
        rgb[pane] = colour + spec[:, None] * 0.5
        highlight[np.flatnonzero(pane)[spec]] = True
        # Depth: through the pane, on the pane, or nothing.
        material = pane_rect.material
        draw = rng.random(t_b.shape[0])
        through = draw < _DEPTH_THROUGH[material]
        on_pane = (draw >= _DEPTH_THROUGH[material]) & (
            draw < _DEPTH_THROUGH[material] + _DEPTH_PANE[material]
        )
        d = np.where(through, t_b, np.where(on_pane, t[pane], 0.0))
        d[spec] = 0.0
        depth[pane] = d
    if scenario.variant == "dark":
        # Varnished dark wood: a soft sheen in the same places glass has streaks.
        wood = materials == Material.WOOD
        sheen = _streaks(points[wood, 1], points[wood, 2], scenario.highlight_phase, 0.06)
        rgb[np.flatnonzero(wood)[sheen]] += 0.3

    # Light, colour temperature, vignetting, motion blur, sensor noise, gamma.
    lux = scenario.lux
    rgb = rgb * lux
    if scenario.lighting == "night":
        rgb *= np.array([1.08, 0.95, 0.78])
    rgb[highlight] += 0.25 * (1.0 - lux)  # reflections of lamps stay bright at night
    r2 = ((u.ravel() - intr.cx) / w) ** 2 + ((v.ravel() - intr.cy) / h) ** 2
    rgb *= (1.0 - 0.5 * r2)[:, None]
    image = rgb.reshape(h, w, 3)
    if scenario.motion_blur:
        image = _box_blur(image, max(3, w // 30), 1)
    sigma = 0.008 + 0.012 / max(lux, 0.1) ** 0.5
    image = image + rng.normal(0.0, sigma, image.shape)
    image = np.clip(image, 0.0, 1.0) ** (1 / 2.2)
    colour_u8 = (image * 255.0 + 0.5).astype(np.uint8)

    # Depth noise grows with the square of range, as for structured light; dropouts at random.
    depth = depth + rng.normal(0.0, 1.0, depth.shape) * 0.0015 * depth**2
    lo, hi = rig.DEPTH_RANGE_M
    depth[(depth < lo) | (depth > hi) | (rng.random(depth.shape) < 0.01)] = 0.0
    depth_mm = np.round(depth * 1000.0).astype(np.uint16).reshape(h, w)

    return CameraFrame(colour_u8, depth_mm, _door_box(rects, scenario, pose, intr))


def _door_box(
    rects: list[Rect], scenario: Scenario, pose: Pose, intr: rig.Intrinsics
) -> tuple[int, int, int, int] | None:
    """Bounding box of the door leaf in the image, or None for no door or none in view."""
    if scenario.door_class is DoorClass.NONE:
        return None
    leaf = rects_of(rects, (Material.GLASS, Material.FROSTED, Material.WOOD))
    if not leaf:
        return None
    r = leaf[0]
    corners = np.array(
        [[r.coord, y, z] for y in (r.lo[0], r.hi[0]) for z in (r.lo[1], r.hi[1])], dtype=float
    )
    rel = corners - pose.point_to_world(rig.CAMERA_XYZ_M)
    c, s = np.cos(-pose.yaw_rad), np.sin(-pose.yaw_rad)
    bx, by = c * rel[:, 0] - s * rel[:, 1], s * rel[:, 0] + c * rel[:, 1]
    u = intr.fx * (-by / bx) + intr.cx
    v = intr.fy * (-rel[:, 2] / bx) + intr.cy
    x0, x1 = max(0, int(np.floor(u.min()))), min(intr.width - 1, int(np.ceil(u.max())))
    y0, y1 = max(0, int(np.floor(v.min()))), min(intr.height - 1, int(np.ceil(v.max())))
    if x0 >= x1 or y0 >= y1:
        return None
    return (x0, y0, x1, y1)


def rects_of(rects: list[Rect], materials: tuple[Material, ...]) -> list[Rect]:
    """The rectangles made of any of ``materials``."""
    return [r for r in rects if r.material in materials]


def _lidar_dirs() -> np.ndarray:
    el = np.radians(np.linspace(*rig.LIDAR_VFOV_DEG, rig.LIDAR_BEAMS))
    az = np.linspace(-np.pi, np.pi, rig.LIDAR_COLUMNS, endpoint=False)
    e, a = np.meshgrid(el, az, indexing="ij")
    return np.stack([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)], axis=-1).reshape(
        -1, 3
    )


_LIDAR_DIRS = _lidar_dirs()


def render_lidar(rects: list[Rect], pose: Pose, rng: np.random.Generator) -> np.ndarray:
    """One LiDAR sweep: (N, 4) float32 x, y, z, intensity in the LiDAR frame, returns only."""
    dirs = pose.to_world(_LIDAR_DIRS)
    origin = pose.point_to_world(rig.LIDAR_XYZ_M)
    t, idx = cast(origin, dirs, rects)
    materials = np.array([r.material for r in rects] + [Material.WALL])[idx]
    pane = np.isin(materials, (Material.GLASS, Material.FROSTED)) & (idx >= 0)
    if pane.any():
        # A pane returns only near normal incidence (specular), frosted glass a little more often.
        normal_axis = np.array([r.axis for r in rects])[idx[pane]]
        cos = np.abs(dirs[pane][np.arange(pane.sum()), normal_axis])
        p_return = np.where(materials[pane] == Material.FROSTED, 0.3, 0.03 + 0.15 * cos**16)
        keep = rng.random(pane.sum()) < p_return
        t_b, idx_b = cast(origin, dirs[pane], rects, skip_transparent=True)
        t[pane] = np.where(keep, t[pane], t_b)
        idx[pane] = np.where(keep, idx[pane], idx_b)
        materials = np.array([r.material for r in rects] + [Material.WALL])[idx]
    lo, hi = rig.LIDAR_RANGE_M
    ok = (idx >= 0) & (t >= lo) & (t <= hi) & (rng.random(t.shape) > 0.02)
    r = t[ok] + rng.normal(0.0, 0.015, ok.sum())
    xyz = _LIDAR_DIRS[ok] * r[:, None]
    cos = np.abs(dirs[ok][np.arange(ok.sum()), np.array([rc.axis for rc in rects])[idx[ok]]])
    intensity = 100.0 * _REFLECTIVITY[materials[ok]] * (0.4 + 0.6 * cos)
    return np.concatenate([xyz, intensity[:, None]], axis=1).astype(np.float32)
