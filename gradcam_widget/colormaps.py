"""Colour tables and the pure-numpy reference of what the browser draws.

The browser (``js/gradcam.js``) and ``GradCAMWidget.to_png()`` must paint the same pixels, so the
rules live here once: 256-entry tables from matplotlib, bilinear upsampling with the pixel-centre
convention, the index rule ``min(255, floor(v * 256))`` and an alpha blend for the opacity.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

COLORMAPS = ("jet", "viridis", "inferno", "turbo")
TABLE_SIZE = 256


def _check_name(name: str) -> None:
    if name not in COLORMAPS:
        raise ValueError(f"Unknown colormap {name!r}; use one of: {', '.join(COLORMAPS)}.")


@lru_cache(maxsize=None)
def _table(name: str) -> np.ndarray:
    import matplotlib  # imported lazily: only needed once per colormap

    cmap = matplotlib.colormaps[name].resampled(TABLE_SIZE)
    # Integer indices pick the table entries exactly; bytes=True is matplotlib's own uint8 rounding.
    rgba = cmap(np.arange(TABLE_SIZE), bytes=True)
    table = np.ascontiguousarray(rgba[:, :3], dtype=np.uint8)
    table.setflags(write=False)
    return table


def colormap_table(name: str) -> np.ndarray:
    """The colour table of ``name`` as a uint8 array of shape (256, 3)."""
    _check_name(name)
    return _table(name).copy()


def colormap_bytes(name: str) -> bytes:
    """The colour table of ``name`` as 768 bytes (256 RGB triples), as sent to the browser."""
    _check_name(name)
    return _table(name).tobytes()


#: The signed colour table (the trust panel's Grad-CAM - HiResCAM view): blue -1, white 0, red +1.
DIVERGING = "RdBu_r"


def diverging_bytes() -> bytes:
    """The diverging table as 768 bytes; value d in [-1, 1] takes index min(255, floor((d + 1) * 128))."""
    return _table(DIVERGING).tobytes()


def _source_coordinates(size_src: int, size_dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower index, upper index and fraction of each destination pixel centre in the source."""
    positions = (np.arange(size_dst, dtype=np.float64) + 0.5) * size_src / size_dst - 0.5
    positions = np.clip(positions, 0.0, size_src - 1)
    lower = np.floor(positions).astype(np.intp)
    upper = np.minimum(lower + 1, size_src - 1)
    return lower, upper, positions - lower


def bilinear_upsample(map2d: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Resize ``map2d`` (h, w) to (out_h, out_w) bilinearly, sampling at pixel centres.

    Source coordinate of destination pixel x is ``(x + 0.5) * w / out_w - 0.5``, clamped to the
    edge. Arithmetic is float64 in the same order as the browser's, rounded once to float32, so
    the two agree bit for bit.
    """
    values = np.asarray(map2d, dtype=np.float32)
    if values.ndim != 2 or values.shape[0] < 1 or values.shape[1] < 1:
        raise ValueError(f"map2d must be a non-empty 2-D array, got shape {values.shape}.")
    if int(out_h) < 1 or int(out_w) < 1:
        raise ValueError(f"Output size must be at least 1x1, got {out_h}x{out_w}.")
    h, w = values.shape
    grid = values.astype(np.float64)
    y0, y1, fy = _source_coordinates(h, int(out_h))
    x0, x1, fx = _source_coordinates(w, int(out_w))
    top_left, top_right = grid[y0][:, x0], grid[y0][:, x1]
    bottom_left, bottom_right = grid[y1][:, x0], grid[y1][:, x1]
    top = top_left + (top_right - top_left) * fx
    bottom = bottom_left + (bottom_right - bottom_left) * fx
    return (top + (bottom - top) * fy[:, None]).astype(np.float32)


def colormap_indices(values01: np.ndarray) -> np.ndarray:
    """Table index of each value: ``min(255, floor(v * 256))``, with v < 0 and NaN at 0."""
    values = np.asarray(values01, dtype=np.float32)
    scaled = np.nan_to_num(values * np.float32(TABLE_SIZE), nan=0.0)
    return np.clip(np.floor(scaled), 0, TABLE_SIZE - 1).astype(np.intp)


def apply_colormap(values01: np.ndarray, name: str) -> np.ndarray:
    """Colour each value in [0, 1]: uint8 array of shape values.shape + (3,)."""
    _check_name(name)
    return _table(name)[colormap_indices(values01)]


def overlay(image_rgb_uint8: np.ndarray, map_normalised: np.ndarray, name: str, opacity: float) -> np.ndarray:
    """The picture the browser shows: the coloured map upsampled to the image, blended on top.

    ``image * (1 - opacity) + colour * opacity`` is what CSS opacity on an opaque canvas does.
    """
    image = np.asarray(image_rgb_uint8)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be a uint8 array of shape (H, W, 3), got {image.dtype} {image.shape}.")
    opacity = float(opacity)
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}.")
    upsampled = bilinear_upsample(map_normalised, image.shape[0], image.shape[1])
    colours = apply_colormap(upsampled, name).astype(np.float64)
    blended = image.astype(np.float64) * (1.0 - opacity) + colours * opacity
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
