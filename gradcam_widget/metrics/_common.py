"""Shared plumbing of the metrics: the model, the pixels it sees, the maps, batches and progress.

Perturbation metrics change pixels, so they work on the image *as the model gets it, before
``preprocess=``*: resized to the model's input size only when it differs, in the image's own units
(an array's values as given, whatever their range; pictures RGB 0..255; see ``gradcam_widget.images``).
Baselines (blur, mean colour, black, a user array) are defined in those units, whatever ``preprocess=``
does afterwards. The unperturbed image therefore scores exactly what ``model.predict`` gives. Forward passes reuse
the Explainer's compiled function and its softmax/sigmoid rule, so the probabilities are the ones the
widget shows. TensorFlow is reached only through the Explainer.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from ..colormaps import bilinear_upsample


def as_explainer(model, preprocess=None, *, compiled: bool = True, output=None):
    """An Explainer for ``model``; an Explainer passed in is reused (its caches and compiled code).
    ``output``: the output to explain of a model with several (name or index)."""
    from ..explain import Explainer

    if isinstance(model, Explainer):
        if preprocess is not None or output is not None:
            raise ValueError("preprocess= and output= are already set on the Explainer; do not pass them again.")
        return model
    return Explainer(model, preprocess=preprocess, compiled=compiled, output=output)


def model_pixels(explainer, image) -> np.ndarray:
    """One image as the model gets it, *not* preprocessed: float32, one model input's shape."""
    return explainer.model_pixels(image)


def model_pixels_batch(explainer, images) -> np.ndarray:
    """Several images as one batch of model-size values (see :func:`model_pixels`)."""
    return explainer.model_pixels_batch(images)


def as_map(saliency, name: str = "saliency") -> np.ndarray:
    """A saliency map (2-D array or CamMap) as float64 (h, w), checked finite."""
    raw = getattr(saliency, "raw", saliency)  # a CamMap: its values before normalisation
    if hasattr(raw, "numpy") and callable(raw.numpy):
        raw = raw.numpy()
    values = np.asarray(raw)
    if values.dtype == object or values.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a 2-D array of numbers or a CamMap, got {type(saliency).__name__}.")
    values = np.squeeze(values) if values.ndim > 2 else values
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"{name} must be a 2-D map (height, width), got shape {np.shape(raw)}.")
    values = values.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return values


def upsample(saliency, height: int, width: int, name: str = "saliency") -> np.ndarray:
    """The map at (height, width), bilinear with the screen's pixel-centre convention."""
    return bilinear_upsample(as_map(saliency, name), height, width).astype(np.float64)


def as_maps(saliencies, count: int) -> list:
    """One map per image from a list of maps/CamMaps or an (N, h, w) array."""
    if isinstance(saliencies, np.ndarray) and saliencies.ndim == 2:
        saliencies = [saliencies]
    maps = list(saliencies)
    if len(maps) != count:
        raise ValueError(f"got {len(maps)} saliency maps for {count} images: give one map per image.")
    return maps


def class_list(explainer, class_indices, count: int, top: np.ndarray) -> list[int]:
    """None = each image's top class (``top``), an int = that class for all, a sequence = one per image."""
    if class_indices is None:
        return [int(c) for c in top]
    if isinstance(class_indices, (int, np.integer)) and not isinstance(class_indices, bool):
        return [explainer.check_class(class_indices)] * count
    if isinstance(class_indices, (str, bytes)) or not hasattr(class_indices, "__len__"):
        raise TypeError(
            f"class_indices must be None, an int or a sequence of ints (one per image), got "
            f"{type(class_indices).__name__}."
        )
    if len(class_indices) != count:
        raise ValueError(
            f"class_indices has {len(class_indices)} entries but there are {count} images: give "
            f"one class per image, or a single int for all."
        )
    return [explainer.check_class(c) for c in class_indices]


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return int(value)


class Scorer:
    """Class probabilities of model-size pixel batches, through the Explainer's compiled forward pass."""

    def __init__(self, explainer, batch_size: int = 32):
        self._explainer = explainer
        self.batch_size = check_positive_int(batch_size, "batch_size")

    def __call__(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A batch of model-size values (before preprocess=) -> (probabilities, logits), each (n, classes)."""
        logits, probabilities = self._explainer.scores_of_pixels(pixels)
        if not np.all(np.isfinite(logits)):
            raise FloatingPointError(
                "the model produced NaN or infinite class scores for a perturbed image. "
                "Check the baseline values and preprocess=."
            )
        return probabilities, logits

    def run(
        self, batches: Iterable[np.ndarray], total: int, progress, description: str = "forward passes"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score a stream of pixel batches (each at most ``batch_size``), reporting images done."""
        probabilities, logits = [], []
        with Progress(progress, total, description) as bar:
            for batch in batches:
                p, z = self(batch)
                probabilities.append(p)
                logits.append(z)
                bar.advance(len(batch))
        return np.concatenate(probabilities), np.concatenate(logits)


_PROGRESS_HELP = (
    "progress= must be 'auto' (a tqdm bar for runs longer than a second), True (always a "
    "bar), False/None (silent) or a function called as progress(done, total)."
)


class Progress:
    """A tqdm bar and/or a ``progress(done, total)`` callback, behind one ``advance`` call."""

    def __init__(self, progress, total: int, description: str):
        if not (progress in ("auto", True, False, None) or callable(progress)):
            raise TypeError(_PROGRESS_HELP)
        self._callback: Callable | None = progress if callable(progress) else None
        self._bar = None
        self._done, self._total = 0, int(total)
        if progress is True or progress == "auto":
            from tqdm.auto import tqdm

            # delay: a bar only appears when the run is long enough to wait for
            self._bar = tqdm(total=self._total, desc=description, leave=False, delay=0.0 if progress is True else 1.0)

    def advance(self, n: int = 1) -> None:
        self._done += int(n)
        if self._bar is not None:
            self._bar.update(int(n))
        if self._callback is not None:
            self._callback(self._done, self._total)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
        return False
