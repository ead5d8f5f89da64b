"""Office sites: the visual style of a building, which a model must generalise across.

A site fixes what stays the same inside one office (wall and floor colours, its wood tones, the
tints of its glass, door frames, how bright it is) and varies between offices. Named sites are
fixed; ``unseen-N`` sites are drawn from seed ``N`` so that tests and demos can hold out offices
that no model has seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robotops.errors import UsageError

RGB = tuple[float, float, float]

UNSEEN_PREFIX = "unseen-"


@dataclass(frozen=True)
class Site:
    """The style of one office building.

    Attributes:
        name: Site name, recorded as the ``site`` tag of every frame.
        wall_rgb: Corridor wall colour, linear 0..1.
        floor_rgb: Floor colour.
        floor_tile_m: Floor tile edge length in metres.
        wood_light_rgb: Light wood tone of wooden doors.
        wood_dark_rgb: Dark wood tone (the hard case against dark tinted glass).
        glass_tint_rgb: Tint of clear glass panes.
        glass_dark_tint_rgb: Tint of dark (bronze, smoked) glass.
        frame_rgb: Door frame colour.
        lux_range: Relative illumination range in daylight (1.0 = well lit).
        ceiling_m: Ceiling height.
        corridor_m: Corridor width.
    """

    name: str
    wall_rgb: RGB
    floor_rgb: RGB
    floor_tile_m: float
    wood_light_rgb: RGB
    wood_dark_rgb: RGB
    glass_tint_rgb: RGB
    glass_dark_tint_rgb: RGB
    frame_rgb: RGB
    lux_range: tuple[float, float]
    ceiling_m: float
    corridor_m: float


SITES: dict[str, Site] = {
    site.name: site
    for site in (
        Site(
            name="atrium",
            wall_rgb=(0.86, 0.85, 0.80),
            floor_rgb=(0.55, 0.52, 0.48),
            floor_tile_m=0.6,
            wood_light_rgb=(0.72, 0.55, 0.35),
            wood_dark_rgb=(0.30, 0.19, 0.11),
            glass_tint_rgb=(0.85, 0.95, 0.95),
            glass_dark_tint_rgb=(0.50, 0.33, 0.19),
            frame_rgb=(0.75, 0.76, 0.78),
            lux_range=(0.85, 1.0),
            ceiling_m=3.0,
            corridor_m=2.8,
        ),
        Site(
            name="loft",
            wall_rgb=(0.62, 0.38, 0.30),
            floor_rgb=(0.40, 0.30, 0.22),
            floor_tile_m=0.25,
            wood_light_rgb=(0.66, 0.48, 0.28),
            wood_dark_rgb=(0.26, 0.17, 0.12),
            glass_tint_rgb=(0.95, 0.86, 0.70),
            glass_dark_tint_rgb=(0.46, 0.30, 0.18),
            frame_rgb=(0.12, 0.12, 0.13),
            lux_range=(0.6, 0.85),
            ceiling_m=3.6,
            corridor_m=3.2,
        ),
        Site(
            name="clinic",
            wall_rgb=(0.92, 0.94, 0.95),
            floor_rgb=(0.70, 0.74, 0.76),
            floor_tile_m=0.3,
            wood_light_rgb=(0.80, 0.66, 0.46),
            wood_dark_rgb=(0.34, 0.22, 0.13),
            glass_tint_rgb=(0.80, 0.93, 0.90),
            glass_dark_tint_rgb=(0.44, 0.32, 0.22),
            frame_rgb=(0.90, 0.90, 0.90),
            lux_range=(0.9, 1.0),
            ceiling_m=2.7,
            corridor_m=2.2,
        ),
        Site(
            name="campus",
            wall_rgb=(0.70, 0.74, 0.66),
            floor_rgb=(0.30, 0.32, 0.36),
            floor_tile_m=0.5,
            wood_light_rgb=(0.62, 0.45, 0.30),
            wood_dark_rgb=(0.28, 0.20, 0.15),
            glass_tint_rgb=(0.82, 0.90, 0.98),
            glass_dark_tint_rgb=(0.40, 0.30, 0.24),
            frame_rgb=(0.45, 0.30, 0.20),
            lux_range=(0.7, 0.95),
            ceiling_m=3.0,
            corridor_m=2.5,
        ),
        Site(
            name="studio",
            wall_rgb=(0.28, 0.30, 0.34),
            floor_rgb=(0.55, 0.42, 0.30),
            floor_tile_m=1.0,
            wood_light_rgb=(0.76, 0.60, 0.42),
            wood_dark_rgb=(0.24, 0.16, 0.10),
            glass_tint_rgb=(0.96, 0.84, 0.66),
            glass_dark_tint_rgb=(0.52, 0.34, 0.20),
            frame_rgb=(0.20, 0.20, 0.20),
            lux_range=(0.5, 0.8),
            ceiling_m=3.3,
            corridor_m=3.0,
        ),
    )
}


def _unseen_site(name: str, seed: int) -> Site:
    """Draw a new office style from ``seed``; the same seed always gives the same site."""
    rng = np.random.default_rng([0x517E, seed])

    def colour(lo: float, hi: float) -> RGB:
        r, g, b = rng.uniform(lo, hi, size=3)
        return (float(r), float(g), float(b))

    def wood(scale: float) -> RGB:
        base = np.array([1.0, 0.68, 0.42]) * scale * rng.uniform(0.9, 1.1, size=3)
        return (float(base[0]), float(base[1]), float(base[2]))

    lux_lo = float(rng.uniform(0.45, 0.85))
    return Site(
        name=name,
        wall_rgb=colour(0.25, 0.95),
        floor_rgb=colour(0.2, 0.75),
        floor_tile_m=float(rng.choice([0.25, 0.3, 0.5, 0.6, 1.0])),
        wood_light_rgb=wood(float(rng.uniform(0.6, 0.8))),
        wood_dark_rgb=wood(float(rng.uniform(0.22, 0.34))),
        glass_tint_rgb=colour(0.78, 0.98),
        glass_dark_tint_rgb=wood(float(rng.uniform(0.4, 0.55))),
        frame_rgb=colour(0.1, 0.9),
        lux_range=(lux_lo, min(1.0, lux_lo + 0.2)),
        ceiling_m=float(rng.uniform(2.6, 3.8)),
        corridor_m=float(rng.uniform(2.0, 3.4)),
    )


def get_site(name: str) -> Site:
    """Return a named site, or generate the unseen site ``unseen-N``.

    Raises:
        UsageError: The name is neither a known site nor ``unseen-<integer>``.
    """
    if name in SITES:
        return SITES[name]
    if name.startswith(UNSEEN_PREFIX) and name[len(UNSEEN_PREFIX) :].isdigit():
        return _unseen_site(name, int(name[len(UNSEEN_PREFIX) :]))
    known = ", ".join(SITES)
    raise UsageError(f"unknown site {name!r}: choose one of {known}, or unseen-N for a new one")
