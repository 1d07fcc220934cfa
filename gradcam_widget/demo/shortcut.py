"""The elephant / penguin / nothing dataset whose backgrounds can be a shortcut.

Each sample is rendered from its own random generator seeded with ``(seed, i)``, so sample ``i``
never depends on ``n`` or on other samples, and every random number is drawn in the same order
whatever ``swap_backgrounds`` says; the swap only changes which colours the ground is painted in.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .animals import draw_elephant, draw_penguin
from .backgrounds import BACKGROUNDS, GRASS, SAND, SNOW, draw_texture, paint_background

SHORTCUT_CLASSES = ("elephant", "penguin", "nothing")
ELEPHANT, PENGUIN, NOTHING = range(3)
USUAL_BACKGROUND = {ELEPHANT: GRASS, PENGUIN: SNOW, NOTHING: SAND}
_SWAP = {GRASS: SNOW, SNOW: GRASS, SAND: SAND}
_DRAW = {ELEPHANT: draw_elephant, PENGUIN: draw_penguin}


@dataclass(frozen=True)
class ShortcutData:
    """Images, labels and animal masks; unpacks as ``images, labels, masks = data``.

    A NamedTuple would unpack into every field, so this iterates over the first three only and keeps
    the rest (class names, the ground of each image) as attributes.
    """

    images: np.ndarray  # uint8 (n, S, S, 3) RGB
    labels: np.ndarray  # int64 (n,), index into class_names
    masks: np.ndarray  # bool (n, S, S), True on animal pixels
    backgrounds: np.ndarray  # int64 (n,), index into background_names (after any swap)
    class_names: tuple[str, ...] = SHORTCUT_CLASSES
    background_names: tuple[str, ...] = BACKGROUNDS

    def __iter__(self):
        return iter((self.images, self.labels, self.masks))

    def __len__(self) -> int:
        return len(self.labels)


def _check(n, seed, background_bias, size):
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not 0.0 <= float(background_bias) <= 1.0:
        raise ValueError(
            f"background_bias is a share in [0, 1], got {background_bias!r}; "
            "1/3 makes the ground independent of the class"
        )
    if not isinstance(size, (int, np.integer)) or size < 16:
        raise ValueError(f"size must be an int >= 16 (pixels per side), got {size!r}")


def render_sample(seed: int, i: int, *, background_bias: float, swap_backgrounds: bool, size: int):
    """Render sample ``i``: returns (image uint8 SxSx3, label, mask bool SxS, background)."""
    rng = np.random.default_rng([int(seed), int(i)])
    label = int(rng.integers(len(SHORTCUT_CLASSES)))
    usual = USUAL_BACKGROUND[label]
    others = [b for b in range(len(BACKGROUNDS)) if b != usual]
    on_usual = rng.random() < background_bias
    other = others[int(rng.integers(len(others)))]
    ground = usual if on_usual else other
    texture = draw_texture(rng, size)
    if swap_backgrounds:
        ground = _SWAP[ground]
    image = paint_background(ground, texture)
    mask = np.zeros((size, size), bool)
    if label in _DRAW:
        parts, palette = _DRAW[label](rng, size)
        mask = parts > 0
        grain = 0.93 + 0.14 * cv2.resize(rng.random((6, 6), dtype=np.float32), (size, size))
        animal = palette[parts] * grain[..., None]
        image[mask] = np.clip(animal[mask], 0, 255).astype(np.uint8)
    return image, label, mask, ground


def make_shortcut_dataset(
    n: int, *, seed: int = 0, background_bias: float = 1.0, swap_backgrounds: bool = False, size: int = 64
) -> ShortcutData:
    """Generate ``n`` scenes: elephants usually on grass, penguins on snow, empty sand.

    ``background_bias`` is the share of each class on its usual ground (1.0 = perfect confound,
    1/3 = ground independent of class); the others get one of the two other grounds at random.
    ``swap_backgrounds=True`` renders the same scenes with grass and snow exchanged.
    """
    _check(n, seed, background_bias, size)
    images = np.empty((n, size, size, 3), np.uint8)
    masks = np.empty((n, size, size), bool)
    labels = np.empty(n, np.int64)
    grounds = np.empty(n, np.int64)
    for i in range(n):
        images[i], labels[i], masks[i], grounds[i] = render_sample(
            seed, i, background_bias=float(background_bias), swap_backgrounds=bool(swap_backgrounds), size=int(size)
        )
    return ShortcutData(images, labels, masks, grounds)
