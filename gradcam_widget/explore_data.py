"""The data half of the misclassification explorer, in plain numpy (no TensorFlow, no widgets).

Why separate: everything here is cheap, deterministic and testable without a model or a browser —
reading the inputs, checking labels, the confusion matrix, the gallery order and the thumbnail
pages. Memory stays O(number of images) numbers: images are read on demand from the caller's own
array or list, thumbnails are made a page at a time, and no map is kept.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass

import numpy as np

from .images import load_image

#: Side of one gallery thumbnail, in pixels (each is letterboxed into a square of this size).
THUMB_SIZE = 48
#: Thumbnails per sprite row.
SPRITE_COLUMNS = 10
#: Above this many classes the matrix is not sent (a 1000x1000 table helps nobody); the most
#: frequent confusions are listed instead.
MAX_MATRIX_CLASSES = 40
#: Gallery filter on correctness.
STATUSES = ("wrong", "correct", "all")


# ------------------------------------------------------------------------------------- inputs
class ImageSource:
    """Random access to the images without copying them: ``len``, ``[i]`` and ``batch(a, b)``."""

    def __init__(self, items):
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int):
        return self._items[int(i)]

    def batch(self, start: int, stop: int) -> list:
        # A list, never a 3-D array slice: the engine would read (N, H, W) as one RGB image.
        return [self._items[i] for i in range(start, min(stop, len(self._items)))]


def is_tf_dataset(obj) -> bool:
    """True for a ``tf.data.Dataset``. Never imports TensorFlow: without it loaded, nothing is one."""
    tf = sys.modules.get("tensorflow")
    data = getattr(tf, "data", None)
    return data is not None and isinstance(obj, data.Dataset)


def dataset_items(dataset, progress=None) -> tuple[list, np.ndarray]:
    """Read a ``tf.data.Dataset`` of ``(image, label)`` (batched or not) into a list and labels.

    A dataset cannot be indexed, so its images are kept (as numpy, in their own dtype) for the
    gallery and the detail view. ``progress(n)`` is called after each element.
    Lives here rather than in ``explain/`` because it needs no TensorFlow import: a Dataset yields
    numpy through ``as_numpy_iterator()``.
    """
    images, labels = [], []
    for element in dataset.as_numpy_iterator():
        if isinstance(element, dict) or not isinstance(element, (tuple, list)) or len(element) < 2:
            raise TypeError(
                "the tf.data.Dataset must yield (image, label) pairs, got "
                f"{type(element).__name__} elements. Map it first: "
                "dataset.map(lambda d: (d['image'], d['label']))."
            )
        image, label = np.asarray(element[0]), np.asarray(element[1])
        if image.ndim == 4:  # a batch
            images.extend(image)
            labels.extend(label if label.ndim >= 1 else [label])
            count = len(image)
        else:
            images.append(image)
            labels.append(label)
            count = 1
        if progress is not None:
            progress(count)
    return images, _stack_labels(labels)


def _stack_labels(labels: list) -> np.ndarray:
    try:
        return np.asarray(labels)
    except ValueError:  # ragged: e.g. one-hot and scalar mixed
        return np.asarray(labels, dtype=object)


def split_pairs(images, labels):
    """Accept ``[(path_or_image, label), ...]`` with ``labels=None`` as well as two sequences."""
    if (
        labels is None
        and isinstance(images, (list, tuple))
        and images
        and all(isinstance(item, (list, tuple)) and len(item) == 2 for item in images)
    ):
        return [item[0] for item in images], [item[1] for item in images]
    return images, labels


def image_source(images) -> ImageSource:
    """Wrap the caller's images (array or sequence) for on-demand reading; validate the container."""
    if isinstance(images, (str, bytes)) or hasattr(images, "__fspath__"):
        raise TypeError(
            f"images must be several images (an array or a list), got the single path "
            f"{str(images)!r}. For a folder, pass the list of its files with their labels."
        )
    if hasattr(images, "numpy") and callable(images.numpy) and not isinstance(images, np.ndarray):
        images = images.numpy()  # a tensor
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise ValueError(
                f"images has shape {images.shape}; expected a batch (N, H, W) or "
                f"(N, H, W, C). For one image, use show_gradcam."
            )
        return ImageSource(images)
    if isinstance(images, (list, tuple)):
        return ImageSource(images)
    raise TypeError(
        f"images must be a numpy array (N, H, W[, C]), a list of images or paths, or a "
        f"tf.data.Dataset of (image, label); got {type(images).__name__}."
    )


def check_labels(labels, count: int) -> np.ndarray:
    """Labels as int64 class indices, one per image; TypeError/ValueError naming the fix."""
    if labels is None:
        raise TypeError(
            "labels is missing: pass one integer class index per image (only a tf.data.Dataset carries its own labels)."
        )
    if hasattr(labels, "numpy") and callable(labels.numpy) and not isinstance(labels, np.ndarray):
        labels = labels.numpy()
    arr = np.asarray(labels) if not isinstance(labels, np.ndarray) else labels
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 2:
        raise TypeError(
            f"labels has shape {arr.shape}: they look one-hot. Pass class indices, e.g. labels.argmax(axis=1)."
        )
    if arr.ndim != 1:
        raise TypeError(f"labels must be a 1-D sequence with one class index per image, got shape {arr.shape}.")
    if len(arr) != count:
        raise ValueError(f"there are {count} images but {len(arr)} labels: pass one label per image.")
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        sample = ", ".join(repr(v) for v in arr[:3].tolist())
        hint = (
            " Map names to indices first, e.g. [class_names.index(s) for s in labels]."
            if arr.dtype.kind in "USO"
            else ""
        )
        raise TypeError(f"labels must be integer class indices, got {arr.dtype} values ({sample}).{hint}")
    if arr.dtype.kind == "f":
        hint = " (they are whole numbers: use labels.astype(int))" if np.all(np.mod(arr, 1) == 0) else ""
        raise TypeError(f"labels must be integer class indices, got {arr.dtype} values{hint}.")
    return arr.astype(np.int64)  # a copy: later edits of the caller's array change nothing here


def check_label_range(labels: np.ndarray, num_classes: int) -> None:
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"labels[{i}] = {int(labels[i])} is outside the model's classes 0..{num_classes - 1} "
            f"({len(bad)} such label(s)). Check that the labels use the model's class order."
        )


# ---------------------------------------------------------------------------------- predictions
@dataclass(frozen=True)
class Predictions:
    """What the explorer keeps per image: a few numbers, never maps or scores for every class."""

    labels: np.ndarray  # int64 (N,) true class
    predicted: np.ndarray  # int64 (N,) top class
    confidence: np.ndarray  # float32 (N,) probability of the predicted class
    runner_up: np.ndarray  # int64 (N,) second most probable class (== predicted with one class)

    @property
    def wrong(self) -> np.ndarray:
        return self.predicted != self.labels

    @classmethod
    def from_probabilities(cls, labels, probabilities) -> "Predictions":
        """From a full (N, C) probability table (tests, small sets)."""
        p = np.asarray(probabilities, dtype=np.float32)
        return cls(np.asarray(labels, np.int64), *top_two(p))


def top_two(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(predicted, its probability, runner-up) per row; ties keep the lower class index first."""
    p = np.asarray(probabilities, dtype=np.float32)
    order = np.argsort(-p, axis=1, kind="stable")
    predicted = order[:, 0].astype(np.int64)
    runner = order[:, 1 if p.shape[1] > 1 else 0].astype(np.int64)
    return predicted, p[np.arange(len(p)), predicted], runner


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts: row = true class, column = predicted class."""
    flat = np.asarray(labels, np.int64) * num_classes + np.asarray(predicted, np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def gallery_order(pred: Predictions) -> np.ndarray:
    """Every image in gallery order: mistakes by falling confidence (the most confident mistake
    first), then correct images by rising confidence (the near misses first). Ties by index."""
    index = np.arange(len(pred.labels))
    wrong = pred.wrong
    mistakes = index[wrong][np.argsort(-pred.confidence[wrong], kind="stable")]
    right = index[~wrong][np.argsort(pred.confidence[~wrong], kind="stable")]
    return np.concatenate([mistakes, right])


def filter_order(
    order: np.ndarray, pred: Predictions, status: str = "wrong", true: int = -1, predicted: int = -1
) -> np.ndarray:
    """The images of ``order`` that pass the filters (-1 = any class), order kept."""
    keep = np.ones(len(pred.labels), bool)
    if status == "wrong":
        keep &= pred.wrong
    elif status == "correct":
        keep &= ~pred.wrong
    elif status != "all":
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}.")
    if true >= 0:
        keep &= pred.labels == true
    if predicted >= 0:
        keep &= pred.predicted == predicted
    return order[keep[order]]


def top_confusions(confusion: np.ndarray, limit: int = 20) -> list[dict]:
    """The most frequent (true, predicted) mistakes, for models with too many classes for a matrix."""
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None, kind="stable")[:limit]
    c = confusion.shape[0]
    return [{"true": int(i // c), "pred": int(i % c), "count": int(off.flat[i])} for i in flat if off.flat[i] > 0]


# ---------------------------------------------------------------------------------- thumbnails
def thumbnail(image, size: int = THUMB_SIZE) -> np.ndarray:
    """One image as uint8 RGBA size x size: aspect kept, centred, transparent around it."""
    import cv2

    rgb = load_image(image)
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(rgb, (nw, nh), interpolation=interpolation) if (nw, nh) != (w, h) else rgb
    out = np.zeros((size, size, 4), np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top : top + nh, left : left + nw, :3] = small.reshape(nh, nw, 3)
    out[top : top + nh, left : left + nw, 3] = 255
    return out


def sprite_png(images, size: int = THUMB_SIZE, columns: int = SPRITE_COLUMNS) -> bytes:
    """PNG of the images' thumbnails in a grid, row-major, ``columns`` per row (b"" for none)."""
    from PIL import Image

    images = list(images)
    if not images:
        return b""
    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    sheet = np.zeros((rows * size, columns * size, 4), np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        sheet[r * size : (r + 1) * size, c * size : (c + 1) * size] = thumbnail(image, size)
    buf = io.BytesIO()
    Image.fromarray(sheet, "RGBA").save(buf, format="PNG", compress_level=3)
    return buf.getvalue()
