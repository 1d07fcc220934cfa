"""Numbers of the shortcut story: is the model right, and does its map sit on the animal?

Maps are upsampled bilinearly to image size (OpenCV, pixel-centre convention, as the widget draws
them) and compared with the animal's bounding box: the share of the map's energy inside the box,
and whether the map's peak lies inside it (the pointing game).
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from .shortcut import NOTHING, ShortcutData, make_shortcut_dataset

STORY_TEST_SEED = 10_000  # training uses small seeds; this split is never trained on


class StoryNumbers(NamedTuple):
    accuracy: float  # share of images whose top class is the true one
    box_energy: float  # mean share of the upsampled map's energy inside the animal's box
    pointing: float  # share of maps whose peak lies inside the animal's box
    count: int  # number of images


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the True pixels, half-open like slices; ValueError for an empty mask."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        raise ValueError("the mask is empty: an image of 'nothing' has no animal box")
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def upsample(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of an (h, w) map to (H, W) = size."""
    return cv2.resize(np.asarray(cam, np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)


def box_energy(cam_up: np.ndarray, box) -> float:
    """Share of the (non-negative) map's sum inside the box; 0 for a map without evidence."""
    x0, y0, x1, y1 = box
    values = np.maximum(cam_up, 0.0)
    total = float(values.sum())
    return float(values[y0:y1, x0:x1].sum()) / total if total > 0 else 0.0


def peak(cam_up: np.ndarray) -> tuple[int, int] | None:
    """(x, y) of the map's maximum, or None for a map without evidence.

    Bilinear upsampling turns a maximum in a border cell into a plateau that reaches the image edge;
    of equal maximal pixels we take the one nearest to their centre, not the first in memory order
    (which would always sit at the plateau's top-left corner).
    """
    top = float(np.max(cam_up))
    if not top > 0:
        return None
    ys, xs = np.nonzero(cam_up == top)
    k = int(np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2))
    return int(xs[k]), int(ys[k])


def peak_in_box(cam_up: np.ndarray, box) -> bool:
    """Pointing game: is the map's maximum inside the box? A map without evidence misses."""
    point = peak(cam_up)
    if point is None:
        return False
    x0, y0, x1, y1 = box
    return bool(x0 <= point[0] < x1 and y0 <= point[1] < y1)


def animals_only(data: ShortcutData) -> ShortcutData:
    """Drop the 'nothing' images (they have no animal to point at)."""
    keep = data.labels != NOTHING
    return ShortcutData(data.images[keep], data.labels[keep], data.masks[keep], data.backgrounds[keep])


def swapped_animals(n: int = 200, seed: int = STORY_TEST_SEED, size: int = 64) -> ShortcutData:
    """The story's test split: animals on the *other* animal's ground (elephants on snow, ...)."""
    return animals_only(make_shortcut_dataset(n, seed=seed, background_bias=1.0, swap_backgrounds=True, size=size))


def story_numbers(model, data: ShortcutData) -> StoryNumbers:
    """Grad-CAM of each image's predicted class, scored against its animal's bounding box."""
    from gradcam_widget import compute_cam

    images, labels, masks = data
    predicted = np.argmax(np.asarray(model.predict(images, verbose=0)), axis=1)
    cams = compute_cam(model, images, [int(c) for c in predicted])
    size = images.shape[1:3]
    energies, hits = [], []
    for cam, mask in zip(cams, masks):
        up, box = upsample(cam, size), bounding_box(mask)
        energies.append(box_energy(up, box))
        hits.append(peak_in_box(up, box))
    return StoryNumbers(
        float(np.mean(predicted == labels)), float(np.mean(energies)), float(np.mean(hits)), len(labels)
    )
