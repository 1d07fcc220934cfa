"""Textured landscapes (grass, snow, sand) for the shortcut demo.

The random texture is drawn *before* the kind of ground is known, and the kind only decides how
that texture is coloured. That is what lets ``swap_backgrounds`` re-render the very same scene with
grass and snow exchanged: same random numbers, different paint.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

BACKGROUNDS = ("grass", "snow", "sand")
GRASS, SNOW, SAND = range(3)


class Texture(NamedTuple):
    """Colour-free random ingredients of one background (all arrays are float32 SxS)."""

    broad: np.ndarray  # smooth patches, roughly [0, 1]
    fine: np.ndarray  # pixel-level grain, roughly [-1, 1]
    blades: np.ndarray  # vertically smeared grain (grass blades), roughly [-1, 1]
    ripples: np.ndarray  # wavy stripes (sand ripples, snow drifts), in [-1, 1]
    tint: np.ndarray  # (3,) small colour jitter in [-1, 1]


def _smooth_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Value noise: a coarse random grid upsampled bilinearly (cheap and seedable)."""
    grid = rng.random((cells, cells), dtype=np.float32)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_LINEAR)


def draw_texture(rng: np.random.Generator, size: int) -> Texture:
    """Draw the random part of a background; consumes the same numbers whatever the ground."""
    broad = 0.6 * _smooth_field(rng, size, 3) + 0.4 * _smooth_field(rng, size, 7)
    fine = rng.random((size, size), dtype=np.float32) * 2.0 - 1.0
    blades = cv2.blur(fine, (1, 5)) * 2.0
    angle = rng.uniform(-0.5, 0.5)
    period = rng.uniform(5.0, 9.0) * size / 64.0
    phase = rng.uniform(0.0, 2.0 * np.pi)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    along = xs * np.sin(angle) + ys * np.cos(angle)
    warp = 3.0 * _smooth_field(rng, size, 4)
    ripples = np.sin(2.0 * np.pi * along / period + phase + warp).astype(np.float32)
    tint = rng.uniform(-1.0, 1.0, size=3).astype(np.float32)
    return Texture(broad, fine, blades, ripples, tint)


def paint_background(kind: int, tex: Texture) -> np.ndarray:
    """Colour a texture as grass, snow or sand; returns uint8 (S, S, 3) RGB."""
    # All three grounds get grain of similar strength, so colour, not texture, tells them apart;
    # otherwise a smooth snow teaches "smooth = penguin" and the smooth grey elephant looks like snow.
    if kind == GRASS:
        base = np.array([70.0, 140.0, 45.0]) + tex.tint * [12.0, 15.0, 10.0]
        shade = 0.8 + 0.3 * tex.broad + 0.2 * tex.blades + 0.05 * tex.fine
        rgb = base * shade[..., None]
    elif kind == SNOW:
        base = np.array([214.0, 230.0, 248.0]) + tex.tint * [8.0, 6.0, 4.0]
        blue = np.array([-30.0, -18.0, -4.0])
        shade = 0.6 * tex.broad + 0.15 * tex.ripples + 0.4 * tex.blades
        rgb = base + blue * shade[..., None] + 11.0 * tex.fine[..., None]
    elif kind == SAND:
        base = np.array([222.0, 196.0, 128.0]) + tex.tint * [10.0, 10.0, 12.0]
        shade = 0.9 + 0.12 * tex.broad + 0.06 * tex.ripples + 0.06 * tex.fine
        rgb = base * shade[..., None]
    else:
        raise ValueError(f"unknown background kind {kind!r}; use 0..{len(BACKGROUNDS) - 1} ({BACKGROUNDS})")
    return np.clip(rgb, 0, 255).astype(np.uint8)
