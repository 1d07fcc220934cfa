"""The main view's three scale modes, as the kernel computes and the still pictures draw them.

- ``per_map`` (the default): each map divided by its own maximum, so every map's hottest spot is hot;
- ``shared``: every map divided by the largest maximum of the classes shown, so a class with little
  evidence looks weak (the colour bar says the common maximum);
- ``signed``: the map before ReLU divided by its largest magnitude, on the diverging table (red for
  the class, blue against it; symmetric range).

The browser applies the same rules (js/lib/scale.js) to the numbers the kernel sends; ``to_png()`` and
the exported still picture use these functions, so all three agree.
"""

from __future__ import annotations

import numpy as np

from . import colormaps

MODES = ("per_map", "shared", "signed")
#: Words for the menu and the colour bar (the page shows these).
LABELS = {"per_map": "Per map", "shared": "Shared across classes", "signed": "Signed (before ReLU)"}


def check_mode(mode) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown scale mode {mode!r}; use one of: {', '.join(MODES)}.")
    return mode


def shared_maximum(cams) -> float:
    """The common maximum of the maps shown (0 when none holds positive evidence)."""
    return max((float(c.maximum) for c in cams if c is not None and c.has_evidence), default=0.0)


def display_values(cam, mode: str, common_maximum: float) -> np.ndarray:
    """The values drawn, at the layer's resolution: in [0, 1] (per_map, shared) or [-1, 1] (signed)."""
    check_mode(mode)
    if mode == "per_map":
        return cam.normalized
    if mode == "shared":
        if not cam.has_evidence or not common_maximum > 0:
            return np.zeros_like(cam.raw)
        return np.clip(cam.raw / np.float32(common_maximum), 0.0, 1.0).astype(np.float32)
    signed = cam.raw if cam.signed is None else cam.signed
    top = float(np.abs(signed).max(initial=0.0))
    if not top > 0:
        return np.zeros_like(signed, dtype=np.float32)
    return np.clip(signed / np.float32(top), -1.0, 1.0).astype(np.float32)


def upsampled(cam, mode: str, common_maximum: float, height: int, width: int) -> np.ndarray:
    """:func:`display_values` upsampled to (height, width) as the browser does it."""
    return colormaps.bilinear_upsample(display_values(cam, mode, common_maximum), height, width)


def diverging_colours(values: np.ndarray) -> np.ndarray:
    """Colour signed values in [-1, 1]: index min(255, floor((d + 1) / 2 * 256)) of the diverging table
    (divergingPosition + colormapIndex in the front end)."""
    table = np.frombuffer(colormaps.diverging_bytes(), np.uint8).reshape(-1, 3)
    position = (np.nan_to_num(np.asarray(values, np.float64), nan=0.0) + 1.0) / 2.0
    index = np.clip(np.floor(position * colormaps.TABLE_SIZE), 0, colormaps.TABLE_SIZE - 1).astype(np.intp)
    return table[index]


def overlay(image: np.ndarray, cam, mode: str, common_maximum: float, colormap: str, opacity: float) -> np.ndarray:
    """The picture the main view shows in ``mode``: the image with the coloured map blended on top."""
    if mode != "signed":
        return colormaps.overlay(image, display_values(cam, mode, common_maximum), colormap, opacity)
    up = upsampled(cam, mode, common_maximum, image.shape[0], image.shape[1])
    blended = image.astype(np.float64) * (1.0 - opacity) + diverging_colours(up).astype(np.float64) * opacity
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
