"""Real objects pasted onto real textures at known places: a ground-truth box on real imagery.

Each object is cut from one of the demo photos with a hand-drawn outline (an ellipse, or a rectangle
for the slim rocket) and pasted, at a random size and place, onto a random crop of one of
scikit-image's textures (grass, gravel, brick). The pasted outline is the ground truth: an ImageNet
model's map "points at the object" when its peak falls inside that box. Every random choice comes
from one seeded generator, so a seed gives the same composites on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from .photos import photos, textures

SIZE = 224


@dataclass(frozen=True)
class CutObject:
    """An object in a demo photo: where it is (source pixels) and which ImageNet classes name it."""

    photo: str
    shape: str  # "ellipse" (cx, cy, rx, ry) or "box" (x0, y0, x1, y1), in the photo's pixels
    outline: tuple
    family: tuple  # ImageNet class indices that count as naming this object
    canonical: int  # the family's class used as the "true label" when the model names none of them


OBJECTS = {
    # the cup, its saucer and the spoon; espresso / cup / coffee mug / eggnog all name it
    "cup": CutObject("coffee", "ellipse", (278, 205, 205, 188), (504, 967, 968, 969), 967),
    # the cat's face fills most of the photo; the domestic cats and the lynx name it
    "cat face": CutObject("chelsea", "ellipse", (228, 152, 212, 150), (281, 282, 283, 284, 285, 287), 282),
    # the rocket between its towers (a slim box: a hard target at Grad-CAM's 7x7 resolution)
    "rocket": CutObject("rocket", "box", (292, 118, 352, 408), (657, 744, 812), 657),
    # the motorbike; ImageNet-1k has no "motorcycle", its nearest classes are moped and motor scooter
    "motorbike": CutObject("motorcycle", "ellipse", (390, 262, 305, 190), (665, 670), 665),
}


@dataclass(frozen=True)
class Composite:
    """One pasted scene: ``image`` uint8 (224, 224, 3) 0..255, ``mask`` bool (224, 224) on the object,
    ``box`` its half-open bounding box (x0, y0, x1, y1) as ``gradcam_widget.metrics`` takes it."""

    image: np.ndarray
    mask: np.ndarray
    box: tuple
    object: str
    texture: str

    @property
    def family(self) -> tuple:
        return OBJECTS[self.object].family

    def label_for(self, predicted: int) -> int:
        """The "true label" for the explorer: the predicted class when it names the object (a
        correct answer), else the family's canonical class (so the mistake shows against it)."""
        obj = OBJECTS[self.object]
        return int(predicted) if int(predicted) in obj.family else obj.canonical


@cache
def cut(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(RGB patch uint8, alpha float32 in [0, 1]) of object ``name``, cropped to its outline's box."""
    if name not in OBJECTS:
        raise ValueError(f"unknown object {name!r}; the objects are {', '.join(OBJECTS)}")
    obj = OBJECTS[name]
    photo = photos(obj.photo)[obj.photo]
    height, width = photo.shape[:2]
    alpha = np.zeros((height, width), np.float32)
    if obj.shape == "ellipse":
        cx, cy, rx, ry = obj.outline
        cv2.ellipse(alpha, (cx, cy), (rx, ry), 0, 0, 360, 1.0, thickness=-1)
    else:
        x0, y0, x1, y1 = obj.outline
        alpha[y0:y1, x0:x1] = 1.0
    ys, xs = np.nonzero(alpha)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    patch, alpha = photo[y0:y1, x0:x1].copy(), alpha[y0:y1, x0:x1].copy()
    patch.setflags(write=False)
    alpha.setflags(write=False)
    return patch, alpha


def _background(rng: np.random.Generator, texture: np.ndarray) -> np.ndarray:
    """A random square crop (half to all of the texture's side) resized to 224x224."""
    side = int(rng.integers(texture.shape[0] // 2, texture.shape[0] + 1))
    top = int(rng.integers(0, texture.shape[0] - side + 1))
    left = int(rng.integers(0, texture.shape[1] - side + 1))
    crop = texture[top : top + side, left : left + side]
    return cv2.resize(crop, (SIZE, SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)


def paste(background: np.ndarray, name: str, x: int, y: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Object ``name`` with its longer side ``length`` px, top-left at (x, y), onto ``background``
    (uint8/float (224, 224, 3)); returns (uint8 image, bool mask). The outline's edge is softened
    by one pixel, and the mask is where the object covers at least half of a pixel."""
    patch, alpha = cut(name)
    scale = length / max(patch.shape[:2])
    w, h = max(1, round(patch.shape[1] * scale)), max(1, round(patch.shape[0] * scale))
    if x < 0 or y < 0 or x + w > background.shape[1] or y + h > background.shape[0]:
        raise ValueError(
            f"a {w}x{h} {name} at ({x}, {y}) does not fit a {background.shape[1]}x{background.shape[0]} background"
        )
    small = cv2.resize(patch, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    soft = cv2.GaussianBlur(cv2.resize(alpha, (w, h), interpolation=cv2.INTER_AREA), (3, 3), 0)
    out = np.asarray(background, np.float32).copy()
    region = out[y : y + h, x : x + w]
    out[y : y + h, x : x + w] = soft[..., None] * small + (1.0 - soft[..., None]) * region
    mask = np.zeros(out.shape[:2], bool)
    mask[y : y + h, x : x + w] = soft >= 0.5
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), mask


def make_composites(
    count: int, seed: int = 0, *, objects=None, texture_names=None, size_range=(0.45, 0.8)
) -> list[Composite]:
    """``count`` composites: objects taken in turn (``objects``, default all of ``OBJECTS``), each
    on a random texture crop, its longer side a random fraction ``size_range`` of 224 px, at a
    random place where it fits whole."""
    if not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"count must be a non-negative int, got {count!r}")
    names = list(OBJECTS) if objects is None else [objects] if isinstance(objects, str) else list(objects)
    for name in names:
        if name not in OBJECTS:
            raise ValueError(f"unknown object {name!r}; the objects are {', '.join(OBJECTS)}")
    lo, hi = size_range
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"size_range must be 0 < low <= high <= 1 (fractions of 224 px), got {size_range!r}")
    grounds = textures(texture_names)
    ground_names = list(grounds)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(int(count)):
        name = names[i % len(names)]
        ground = ground_names[int(rng.integers(len(ground_names)))]
        background = _background(rng, grounds[ground])
        patch = cut(name)[0]
        length = round(rng.uniform(lo, hi) * SIZE)
        scale = length / max(patch.shape[:2])
        w, h = max(1, round(patch.shape[1] * scale)), max(1, round(patch.shape[0] * scale))
        x, y = int(rng.integers(0, SIZE - w + 1)), int(rng.integers(0, SIZE - h + 1))
        image, mask = paste(background, name, x, y, length)
        ys, xs = np.nonzero(mask)
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        out.append(Composite(image, mask, box, name, ground))
    return out
