"""Cartoon elephants and penguins drawn with hard edges (no anti-aliasing).

Hard edges make "animal pixels" a crisp set: the mask is exact, and re-rendering a scene on another
background leaves every animal pixel bit-for-bit identical. Each drawing is a label image (0 = not
animal, k = part k) plus a palette, so shapes and colours stay separate.

Sizes were tuned with the shortcut story (the bounding box covers about 14-17% of the image): with
larger animals the perfectly confounded model also picked up animal-on-ground contrast on some seeds,
and a dark outline keeps the grey elephant findable for the debiased model (a grey body sits between
the three ground colours; without the outline one seed never told elephants from empty scenes).
"""

from __future__ import annotations

import cv2
import numpy as np

_SHIFT = 4  # cv2 fixed-point bits: sub-pixel placement without anti-aliasing
_ONE = 1 << _SHIFT


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * _ONE)), int(round(y * _ONE))


def _ellipse(canvas, cx, cy, ax, ay, label, angle=0.0, thickness=-1):
    axes = (max(int(round(ax * _ONE)), _ONE // 2), max(int(round(ay * _ONE)), _ONE // 2))
    cv2.ellipse(canvas, _pt(cx, cy), axes, angle, 0, 360, int(label), thickness, cv2.LINE_8, _SHIFT)


def _outline(canvas, label):
    """Paint the silhouette's inner rim: a cartoon contour that does not grow the mask."""
    inside = canvas > 0
    core = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8), borderValue=0) > 0
    canvas[inside & ~core] = label


def _polyline(canvas, points, label, thickness):
    pts = np.array([_pt(x, y) for x, y in points], dtype=np.int32)
    cv2.polylines(canvas, [pts], False, int(label), max(1, int(round(thickness))), cv2.LINE_8, _SHIFT)


def _polygon(canvas, points, label):
    pts = np.array([_pt(x, y) for x, y in points], dtype=np.int32)
    cv2.fillPoly(canvas, [pts], int(label), cv2.LINE_8, _SHIFT)


def _jitter(rng, rgb, amount):
    return np.clip(np.asarray(rgb, dtype=np.float32) + rng.uniform(-amount, amount, 3), 0, 255)


def _place(rng, size, half_w, half_h):
    """A random centre that keeps a (2*half_w x 2*half_h) box inside the image."""
    cx = rng.uniform(half_w, max(half_w, size - half_w))
    cy = rng.uniform(half_h, max(half_h, size - half_h))
    return cx, cy


def draw_elephant(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Side view: grey body, big darker ear, trunk, tusk, four legs; faces left or right."""
    s = rng.uniform(0.28, 0.44) * size  # body-length unit; the drawing is ~1.2 s wide, ~0.85 s tall
    d = 1.0 if rng.random() < 0.5 else -1.0
    grey = rng.uniform(115, 150)
    palette = np.stack(
        [
            np.zeros(3, np.float32),
            _jitter(rng, [grey + 4, grey, grey - 6], 6),  # 1 body, head, trunk, near legs
            _jitter(rng, [grey - 26, grey - 30, grey - 36], 6),  # 2 far legs (in shade)
            _jitter(rng, [grey - 12, grey - 20, grey - 24], 6),  # 3 ear
            _jitter(rng, [240, 235, 215], 8),  # 4 tusk
            _jitter(rng, [20, 20, 20], 8),  # 5 eye, outline
        ]
    )
    cx, cy = _place(rng, size, 0.6 * s, 0.43 * s)
    cx -= 0.08 * s * d  # centre the whole drawing, not just the body
    cy -= 0.08 * s
    c = np.zeros((size, size), np.uint8)
    leg_w = 0.11 * s
    for x, label in ((-0.24, 2), (0.2, 2), (-0.33, 1), (0.1, 1)):
        _polygon(
            c,
            [
                (cx + (x * s) * d, cy),
                (cx + (x * s + leg_w) * d, cy),
                (cx + (x * s + leg_w) * d, cy + 0.5 * s),
                (cx + x * s * d, cy + 0.5 * s),
            ],
            label,
        )
    _polyline(c, [(cx - 0.42 * s * d, cy - 0.06 * s), (cx - 0.5 * s * d, cy + 0.16 * s)], 1, 0.03 * s)
    _ellipse(c, cx, cy, 0.42 * s, 0.26 * s, 1)
    _polyline(
        c,
        [
            (cx + 0.52 * s * d, cy - 0.12 * s),
            (cx + 0.62 * s * d, cy + 0.06 * s),
            (cx + 0.61 * s * d, cy + 0.26 * s),
            (cx + 0.68 * s * d, cy + 0.36 * s),
        ],
        1,
        0.09 * s,
    )
    _ellipse(c, cx + 0.46 * s * d, cy - 0.16 * s, 0.17 * s, 0.17 * s, 1)
    _polyline(c, [(cx + 0.5 * s * d, cy + 0.0 * s), (cx + 0.6 * s * d, cy + 0.08 * s)], 4, 0.045 * s)
    _ellipse(c, cx + 0.33 * s * d, cy - 0.1 * s, 0.13 * s, 0.21 * s, 3, angle=-12.0 * d)
    _ellipse(c, cx + 0.33 * s * d, cy - 0.1 * s, 0.13 * s, 0.21 * s, 5, angle=-12.0 * d, thickness=1)
    _ellipse(c, cx + 0.54 * s * d, cy - 0.21 * s, 0.028 * s, 0.028 * s, 5)
    _outline(c, 5)
    return c, palette


def draw_penguin(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Front view: black body and flippers, white belly and eyes, orange beak and feet."""
    s = rng.uniform(0.36, 0.56) * size  # standing height
    lean = rng.uniform(-8.0, 8.0)
    palette = np.stack(
        [
            np.zeros(3, np.float32),
            _jitter(rng, [28, 30, 38], 8),  # 1 body, head, flippers
            _jitter(rng, [242, 242, 238], 8),  # 2 belly, eye whites
            _jitter(rng, [250, 140, 20], 12),  # 3 beak, feet
            _jitter(rng, [10, 10, 10], 5),  # 4 pupils
        ]
    )
    cx, cy = _place(rng, size, 0.36 * s, 0.5 * s)
    c = np.zeros((size, size), np.uint8)
    for side in (-1.0, 1.0):
        _ellipse(c, cx + side * 0.25 * s, cy + 0.08 * s, 0.06 * s, 0.2 * s, 1, angle=lean - 35.0 * side)
        _ellipse(c, cx + side * 0.08 * s, cy + 0.45 * s, 0.08 * s, 0.035 * s, 3)
    _ellipse(c, cx, cy + 0.06 * s, 0.22 * s, 0.38 * s, 1, angle=lean)
    _ellipse(c, cx, cy + 0.13 * s, 0.15 * s, 0.28 * s, 2, angle=lean)
    _ellipse(c, cx, cy - 0.32 * s, 0.15 * s, 0.15 * s, 1)
    for side in (-1.0, 1.0):
        _ellipse(c, cx + side * 0.065 * s, cy - 0.36 * s, 0.04 * s, 0.04 * s, 2)
        _ellipse(c, cx + side * 0.065 * s, cy - 0.36 * s, 0.018 * s, 0.018 * s, 4)
    _polygon(c, [(cx - 0.05 * s, cy - 0.3 * s), (cx + 0.05 * s, cy - 0.3 * s), (cx, cy - 0.2 * s)], 3)
    return c, palette
