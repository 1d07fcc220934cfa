"""The what-if brush's arithmetic: strokes -> mask, (image, mask, fill) -> edited image. Numpy only.

The page sends strokes in coordinates of the picture it shows (x and y as fractions of its width and
height, the radius as a fraction of its width), so one edit means the same region on images of any
size: every model of a comparison sees the same edit, each at its own resolution. The kernel turns
them into a mask of the image the model receives and fills it; these functions are pure, so "the
edited image equals the image with the mask filled as chosen" can be checked pixel by pixel.
"""

from __future__ import annotations

import numpy as np

#: How a painted region is filled: a blur of the image, mid grey, the image's mean colour, or noise.
FILLS = ("blur", "grey", "mean", "noise")
#: Most strokes / points one edit may hold (a page sending more is refused with a clear message).
MAX_STROKES = 5000
MAX_POINTS = 100_000
#: Seed of the noise fill: the same edit gives the same noise, so an edit is reproducible.
NOISE_SEED = 0


def check_edit(edit) -> tuple[list[dict], str]:
    """The strokes and fill of an edit ``{"strokes": [{"points": [[x, y], ...], "radius": r}], "fill":
    name}``, checked; a ValueError/TypeError saying what is wrong (the page may send anything)."""
    if not isinstance(edit, dict):
        raise TypeError(f"an edit is a dict with 'strokes' and 'fill', got {type(edit).__name__}.")
    fill = edit.get("fill", "blur")
    if fill not in FILLS:
        raise ValueError(f"unknown fill {fill!r}; use one of: {', '.join(FILLS)}.")
    strokes = edit.get("strokes", [])
    if not isinstance(strokes, (list, tuple)):
        raise TypeError("edit['strokes'] must be a list of strokes.")
    if len(strokes) > MAX_STROKES:
        raise ValueError(f"an edit holds at most {MAX_STROKES} strokes, got {len(strokes)}; clear some first.")
    checked, total = [], 0
    for i, stroke in enumerate(strokes):
        if not isinstance(stroke, dict):
            raise TypeError(f"stroke {i} must be a dict with 'points' and 'radius'.")
        try:
            points = np.asarray(stroke.get("points", []), dtype=np.float64).reshape(-1, 2)
            radius = float(stroke.get("radius", 0.0))
        except (TypeError, ValueError):
            raise TypeError(f"stroke {i}: points must be [[x, y], ...] numbers and radius a number.") from None
        if not (np.isfinite(points).all() and np.isfinite(radius)) or radius < 0:
            raise ValueError(f"stroke {i}: points and radius must be finite, the radius not negative.")
        total += len(points)
        if total > MAX_POINTS:
            raise ValueError(f"an edit holds at most {MAX_POINTS} points; clear some strokes first.")
        checked.append({"points": points, "radius": radius})
    return checked, fill


def strokes_mask(strokes, height: int, width: int) -> np.ndarray:
    """Bool (height, width) mask of the pixels within ``radius`` of a stroke's path (each segment
    between consecutive points is painted as a capsule; a single point as a disc). Pixel centres are
    tested, in the image's own pixels: x fraction * width, y fraction * height, radius * width.
    Points far outside the image paint nothing there and cost nothing."""
    mask = np.zeros((int(height), int(width)), dtype=bool)
    for stroke in strokes:
        points = np.asarray(stroke["points"], dtype=np.float64).reshape(-1, 2) * (width, height)
        r = float(stroke["radius"]) * width
        if len(points) == 0:
            continue
        if len(points) == 1:
            points = np.concatenate([points, points])
        for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
            _paint_segment(mask, x0, y0, x1, y1, r)
    return mask


def _paint_segment(mask: np.ndarray, x0, y0, x1, y1, r) -> None:
    height, width = mask.shape
    left, right = max(0, int(np.floor(min(x0, x1) - r))), min(width, int(np.ceil(max(x0, x1) + r)) + 1)
    top, bottom = max(0, int(np.floor(min(y0, y1) - r))), min(height, int(np.ceil(max(y0, y1) + r)) + 1)
    if left >= right or top >= bottom:
        return
    ys, xs = np.mgrid[top:bottom, left:right]
    px, py = xs + 0.5, ys + 0.5  # pixel centres
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    t = np.zeros_like(px) if length2 == 0 else np.clip(((px - x0) * dx + (py - y0) * dy) / length2, 0.0, 1.0)
    near = (px - (x0 + t * dx)) ** 2 + (py - (y0 + t * dy)) ** 2 <= r * r
    mask[top:bottom, left:right] |= near


def value_range(image: np.ndarray) -> tuple[float, float]:
    """The range the image's values live in: 0..255 for uint8 pictures, else their own min..max
    (a preprocessed array keeps its own scale)."""
    if image.dtype == np.uint8:
        return 0.0, 255.0
    lo, hi = float(np.min(image)), float(np.max(image))
    return lo, hi


def filler(image: np.ndarray, fill: str, limits: tuple[float, float] | None = None) -> np.ndarray:
    """What a painted pixel becomes, for every pixel (float64, the image's shape). ``limits``: the
    range of the image's values (default :func:`value_range`)."""
    values = np.asarray(image, dtype=np.float64)
    lo, hi = value_range(image) if limits is None else limits
    if fill == "grey":
        return np.full(values.shape, (lo + hi) / 2.0)
    if fill == "mean":
        axes = (0, 1) if values.ndim == 3 else None
        return np.broadcast_to(values.mean(axis=axes, keepdims=True), values.shape).copy()
    if fill == "noise":
        rng = np.random.default_rng(NOISE_SEED)
        return rng.uniform(lo, hi, size=values.shape)
    if fill == "blur":
        return blur(values)
    raise ValueError(f"unknown fill {fill!r}; use one of: {', '.join(FILLS)}.")


def blur(values: np.ndarray) -> np.ndarray:
    """A strong box blur (three passes, radius 1/16 of the longer side, edges repeated): the region
    keeps its colours but loses its shapes."""
    radius = max(1, round(max(values.shape[:2]) / 16))
    out = values.astype(np.float64)
    for _ in range(3):
        for axis in (0, 1):
            out = _box(out, radius, axis)
    return out


def _box(values: np.ndarray, radius: int, axis: int) -> np.ndarray:
    pad = [(0, 0)] * values.ndim
    pad[axis] = (radius + 1, radius)
    padded = np.pad(values, pad, mode="edge")
    sums = np.cumsum(padded, axis=axis)
    n = values.shape[axis]
    upper = np.take(sums, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
    lower = np.take(sums, np.arange(0, n), axis=axis)
    return (upper - lower) / (2 * radius + 1)


def apply_fill(
    image: np.ndarray, mask: np.ndarray, fill: str, *, limits=None, integral: bool | None = None
) -> np.ndarray:
    """The image with the masked pixels replaced by ``fill`` (:data:`FILLS`), same dtype and shape;
    unmasked pixels are untouched. ``integral`` (default: an integer dtype): fill values are rounded
    to whole numbers in ``limits`` (a picture's float32 0..255 values stay whole pixel values)."""
    image = np.asarray(image)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != image.shape[:2]:
        raise ValueError(f"the mask is {mask.shape} but the image is {image.shape[:2]}.")
    if not mask.any():
        return image.copy()
    lo, hi = value_range(image) if limits is None else limits
    values = filler(image, fill, (lo, hi))[mask]  # only the painted pixels are rounded and cast
    if image.dtype.kind in "iu" if integral is None else integral:
        values = np.clip(np.rint(values), lo, hi)
    out = image.copy()
    out[mask] = values.astype(image.dtype)
    return out


def edit_image(image: np.ndarray, edit, *, limits=None, integral=None) -> tuple[np.ndarray, np.ndarray]:
    """(edited image, mask) of an edit (see :func:`check_edit`) on an (H, W[, C]) image."""
    strokes, fill = check_edit(edit)
    mask = strokes_mask(strokes, image.shape[0], image.shape[1])
    return apply_fill(image, mask, fill, limits=limits, integral=integral), mask
