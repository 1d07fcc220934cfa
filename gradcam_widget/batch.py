"""Many images, a chunk at a time: arrays, file lists, generators and ``tf.data`` datasets.

Why: a dataset does not fit in memory as maps (or as decoded images). Everything here reads the
images lazily, groups them into chunks of ``chunk_size`` and hands each chunk to the engine's batch
calls (:meth:`Explainer.prepare_batch`, :meth:`Explainer.cams_batch`), so memory depends on the chunk
size, never on the number of images.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import images as imgs

#: Seconds a run must last before its progress bar appears (short runs stay silent).
PROGRESS_AFTER = 2.0


@dataclass
class Item:
    """One image of a stream: where it came from (``id``: the path, else its position), the image as
    loaded (original size), and the label a ``tf.data`` element or generator carried with it."""

    id: Any
    image: imgs.ImageInput
    label: Any = None


def image_rank(explainer) -> int | None:
    """Dimensions of one model input (3 for H x W x C); None when the model does not say."""
    try:
        shape = explainer.model.input_shape
    except (AttributeError, ValueError):
        return None
    if isinstance(shape, list) or not isinstance(shape, tuple):
        return None
    return len(shape) - 1


def _is_dataset(images) -> bool:
    return type(images).__module__.startswith("tensorflow") and hasattr(images, "element_spec")


def _as_numpy(value):
    if hasattr(value, "numpy") and callable(value.numpy) and not hasattr(value, "mode"):
        return value.numpy()
    return value


def _split(element, rank):
    """One element (image, batch, or (images, labels) pair) as a list of (image, label) pairs."""
    label = None
    if isinstance(element, (tuple, list)) and len(element) == 2 and not isinstance(element[0], (str, bytes)):
        element, label = element
    element, label = _as_numpy(element), _as_numpy(label)
    if isinstance(element, np.ndarray) and element.ndim == (rank or 3) + 1:
        labels = [None] * len(element) if label is None else list(np.asarray(label))
        return list(zip(element, labels))
    return [(element, None if label is None else np.asarray(label).item() if np.ndim(label) == 0 else label)]


def iter_items(images, rank: int | None = None) -> Iterator[Item]:
    """The images one by one, loaded lazily. ``images``: a batch array or tensor, a list of images or
    paths, a generator / any iterable, or a ``tf.data.Dataset`` (of images, batches, or
    (image, label) pairs)."""
    images = _as_numpy(images) if not _is_dataset(images) else images
    if isinstance(images, np.ndarray):
        batch_ndim = (rank or 3) + 1
        if images.ndim != batch_ndim:
            yield Item(0, imgs.load(images))
            return
        for i in range(len(images)):  # views: nothing is copied until the chunk is prepared
            yield Item(i, imgs.load(images[i]))
        return
    if isinstance(images, (str, os.PathLike, bytes)) or hasattr(images, "mode"):
        yield Item(str(images) if not isinstance(images, bytes) else 0, imgs.load(images))
        return
    if _is_dataset(images):
        images = images.as_numpy_iterator()
    position = 0
    for element in images:
        for image, label in [(element, None)] if isinstance(element, (str, os.PathLike)) else _split(element, rank):
            ident = str(image) if isinstance(image, (str, os.PathLike)) else position
            yield Item(ident, imgs.load(image), label)
            position += 1


def iter_chunks(images, chunk_size: int = 64, rank: int | None = None) -> Iterator[list[Item]]:
    """:func:`iter_items` in lists of at most ``chunk_size``."""
    if int(chunk_size) < 1:
        raise ValueError(f"chunk_size must be a positive number of images, got {chunk_size!r}.")
    stream = iter_items(images, rank)
    while True:
        chunk = list(itertools.islice(stream, int(chunk_size)))
        if not chunk:
            return
        yield chunk


def count(images, rank: int | None = None) -> int | None:
    """How many images, when that is known without reading them (for the progress bar)."""
    if _is_dataset(images):
        n = int(images.cardinality())
        return n if n >= 0 else None
    if isinstance(images, (list, tuple)):
        return len(images)
    images = _as_numpy(images)
    if isinstance(images, np.ndarray):
        return len(images) if images.ndim == (rank or 3) + 1 else 1
    if isinstance(images, (str, os.PathLike, bytes)) or hasattr(images, "mode"):
        return 1
    return None


#: From this many images on, tracing the engine's functions once costs less than running them eagerly.
COMPILE_FROM = 32


def worth_compiling(images) -> bool:
    """Trace the engine's functions for many images (or a stream of unknown length); run a few eagerly."""
    n = count(images)
    return n is None or n >= COMPILE_FROM


class Progress:
    """A tqdm bar that only shows when the run has lasted ``after`` seconds (tqdm's ``delay``)."""

    def __init__(self, total, after: float | None = None, desc: str = "maps"):
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=total, delay=PROGRESS_AFTER if after is None else after, desc=desc, unit="img", leave=False
        )
        self.started = time.perf_counter()

    def update(self, n: int):
        self._bar.update(n)

    def close(self):
        self._bar.close()


def _class_stream(class_index):
    """None, one int for all, or a sequence / iterable with one class per image."""
    if class_index is None or (isinstance(class_index, (int, np.integer)) and not isinstance(class_index, bool)):
        return itertools.repeat(class_index)
    return iter(class_index)


def iter_cams(
    model,
    images,
    class_index=None,
    *,
    method: str = "gradcam",
    layer=None,
    normalize: bool = True,
    contrast=None,
    chunk_size: int = 64,
    preprocess=None,
    output=None,
    input_size=None,
    progress_after: float | None = None,
) -> Iterator[np.ndarray]:
    """Class activation maps of many images, yielded one float32 (h, w) map per image as each chunk
    is done; memory bounded by ``chunk_size`` whatever the number of images.

    ``images``: a batch array, a list of paths or images, a generator, or a ``tf.data.Dataset``.
    ``class_index``: None (each image's top class), one int, or one class per image (any iterable).
    The maps are the ones :func:`gradcam_widget.compute_cam` gives for the same images; a progress bar
    appears when the run lasts more than ``progress_after`` seconds (default 2).
    """
    from .explain.explainer import explainer_for

    explainer = explainer_for(
        model,
        "iter_cams",
        layer=layer,
        preprocess=preprocess,
        output=output,
        input_size=input_size,
        compiled=worth_compiling(images),
        cache_size=chunk_size,
    )
    chunk_size = max(1, min(int(chunk_size), getattr(explainer, "_cache_size", chunk_size)))
    classes = _class_stream(class_index)
    bar = Progress(count(images, image_rank(explainer)), progress_after)
    key = "normalized" if normalize else "raw"
    try:
        for chunk in iter_chunks(images, chunk_size, image_rank(explainer)):
            wanted = list(itertools.islice(classes, len(chunk)))
            if len(wanted) < len(chunk):
                raise ValueError(
                    "class_index has fewer entries than there are images: give one class per "
                    "image, or a single int for all."
                )
            chunk_class = None if all(c is None for c in wanted) else wanted
            maps = explainer.cams_batch(
                [item.image for item in chunk], chunk_class, method, layer=layer, contrast=contrast
            )
            bar.update(len(chunk))
            for cam in maps:
                yield getattr(cam, key).astype(np.float32)
    finally:
        bar.close()


def _per_image(values, n, name):
    """None / one int for all, or a sequence of exactly n (checked before any work is done)."""
    if values is None or (isinstance(values, (int, np.integer)) and not isinstance(values, bool)):
        return itertools.repeat(values)
    if hasattr(values, "__len__") and not isinstance(values, (str, bytes)) and n is not None and len(values) != n:
        raise ValueError(
            f"{name} has {len(values)} entries but there are {n} images: give one per image, or a single int for all."
        )
    return iter(values)


def cam_maps(
    explainer,
    images,
    class_index=None,
    method: str = "gradcam",
    *,
    layer=None,
    contrast=None,
    chunk_size: int = 64,
    progress_after: float | None = None,
) -> list:
    """:meth:`Explainer.cams_batch` over any number of images, a chunk at a time (images are read and
    prepared per chunk, so only the maps of all images are held), with a progress bar for long runs."""
    n = count(images, image_rank(explainer))
    # A chunk no larger than the feature cache: the top classes and the maps share one forward pass.
    chunk_size = max(1, min(int(chunk_size), getattr(explainer, "_cache_size", chunk_size)))
    odd = [
        v
        for v in (class_index, contrast)
        if v is not None
        and not isinstance(v, (int, np.integer))
        and not (hasattr(v, "__len__") and not isinstance(v, (str, bytes)))
    ]
    if (n is not None and n <= chunk_size) or odd:  # few images, or a class cams_batch explains the error of
        return explainer.cams_batch(images, class_index, method, layer=layer, contrast=contrast)
    classes, against = _per_image(class_index, n, "class_index"), _per_image(contrast, n, "contrast")
    bar = Progress(n, progress_after)
    results = []
    try:
        for chunk in iter_chunks(images, chunk_size, image_rank(explainer)):
            wanted = list(itertools.islice(classes, len(chunk)))
            versus = list(itertools.islice(against, len(chunk)))
            if len(wanted) < len(chunk) or len(versus) < len(chunk):
                raise ValueError("class_index or contrast has fewer entries than there are images.")
            results.extend(
                explainer.cams_batch(
                    [item.image for item in chunk],
                    None if all(c is None for c in wanted) else wanted,
                    method,
                    layer=layer,
                    contrast=None if all(c is None for c in versus) else versus,
                )
            )
            bar.update(len(chunk))
    finally:
        bar.close()
    return results
