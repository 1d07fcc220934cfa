"""Does the map fall on the object? Compare it with a ground-truth region (mask or box).

Pure numpy, no model needed. The map is first upsampled bilinearly to the region's size with the
screen's convention, so the point tested is the one a person sees as the hottest.

A region is a boolean mask (H, W), or a box ``(x0, y0, x1, y1)`` in pixels with ``image_size=(H, W)``;
boxes are half-open like numpy slices: pixel (x, y) is inside when ``x0 <= x < x1`` and
``y0 <= y < y1`` (the box is ``mask[y0:y1, x0:x1]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import upsample


@dataclass(frozen=True)
class PointingResult:
    """One round of the pointing game.

    ``point``: (x, y) of the map's maximum, or None when the map is flat (it points nowhere: a miss);
    ``distance``: pixels from that point to the nearest region pixel (0 inside, inf without a point).
    """

    hit: bool
    point: tuple | None
    distance: float


def region_mask(mask_or_box, image_size=None) -> np.ndarray:
    """The region as a boolean mask (H, W), from a mask or a half-open box plus ``image_size``."""
    values = np.asarray(mask_or_box)
    if values.ndim == 2:
        if values.dtype != bool and not np.isin(values, (0, 1)).all():
            raise ValueError("a region mask must be boolean (True on the object), or 0/1 values.")
        if image_size is not None and tuple(image_size) != values.shape:
            raise ValueError(
                f"image_size {tuple(image_size)} differs from the mask's shape {values.shape}; "
                f"leave image_size out for a mask."
            )
        return values.astype(bool)
    if values.shape != (4,):
        raise ValueError(f"a region is a boolean mask (H, W) or a box (x0, y0, x1, y1), got shape {values.shape}.")
    if image_size is None:
        raise ValueError(
            "a box needs image_size=(height, width) of the image it is drawn on, so the map can "
            "be upsampled to that size."
        )
    height, width = (int(v) for v in image_size)
    x0, y0, x1, y1 = (int(round(float(v))) for v in values)
    x0, x1 = max(x0, 0), min(x1, width)
    y0, y1 = max(y0, 0), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(
            f"the box {tuple(values.tolist())} holds no pixel of a {height}x{width} image; boxes "
            f"are (x0, y0, x1, y1) with x0 < x1 and y0 < y1, x1/y1 exclusive."
        )
    mask = np.zeros((height, width), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _peak(values: np.ndarray):
    """The maximal pixel nearest to the centre of all maximal pixels, or None for a flat map."""
    top = values.max()
    if top <= values.min():
        return None
    ys, xs = np.nonzero(values == top)
    nearest = np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2)
    return int(xs[nearest]), int(ys[nearest])


def pointing_game(saliency, mask_or_box, *, image_size=None, tolerance: float = 0) -> PointingResult:
    """Pointing game (Zhang et al. 2016): a hit when the map's maximum lies on the object.

    ``tolerance`` (pixels): a hit also when the maximum is at most that far from the region (the paper
    uses 15 px on full-size images). Bilinear upsampling often makes the maximum a plateau of equal
    pixels; the one nearest to the plateau's centre is the point. A flat map (e.g. no evidence) is a miss.
    """
    if not float(tolerance) >= 0:
        raise ValueError(f"tolerance must be a non-negative number of pixels, got {tolerance!r}.")
    region = region_mask(mask_or_box, image_size)
    if not region.any():
        raise ValueError("the region mask is empty: there is no object to point at.")
    point = _peak(upsample(saliency, *region.shape))
    if point is None:
        return PointingResult(False, None, float("inf"))
    ys, xs = np.nonzero(region)
    distance = float(np.sqrt(np.min((xs - point[0]) ** 2 + (ys - point[1]) ** 2)))
    return PointingResult(distance <= float(tolerance), point, distance)


def energy_in_region(saliency, mask_or_box, *, image_size=None) -> float:
    """Share of the map's energy inside the region (Wang et al. 2020, energy-based pointing game).

    Sum of the upsampled map inside over the sum everywhere, negative values cut to 0. 1.0 = all the
    heat is on the object; a map without evidence has no energy anywhere and gets 0.0 (never NaN).
    """
    region = region_mask(mask_or_box, image_size)
    values = np.maximum(upsample(saliency, *region.shape), 0.0)
    total = values.sum()
    return float(values[region].sum() / total) if total > 0 else 0.0
