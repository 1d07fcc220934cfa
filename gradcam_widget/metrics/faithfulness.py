"""Does the map point at what the model actually uses? Perturb the pixels it ranks highest and watch.

- Deletion / insertion (Petsiuk et al. 2018, RISE): remove (or add back) pixels in the map's order,
  most salient first, and record the class probability. A faithful map makes it fall fast (low
  deletion AUC) and rise fast (high insertion AUC).
- Average Drop / Increase in Confidence (Chattopadhay et al. 2018, Grad-CAM++): show the model only
  what the map highlights (image x map) and see how much confidence is lost.

Pixels are ordered by the map upsampled bilinearly to the model's input size with the screen's
convention (:func:`gradcam_widget.colormaps.bilinear_upsample`), so "most salient" means the same
pixels a person sees highlighted. Ties (flat regions, a map without evidence) are broken in a fixed
pseudo-random order, so a flat region is removed scattered rather than row by row from the top.

Baselines ("what a removed pixel becomes"):

- ``"blur"`` (default): the image blurred with a Gaussian of ``blur_sigma`` pixels (default 5% of the
  longest side; RISE's substrate is an 11-pixel kernel on 224 pixels). Painting removed pixels black
  draws sharp edges the model has never seen, and it reacts to those edges rather than to the missing
  content; a blurred patch keeps the local colours and removes the detail. Measured on the demo's
  debiased shortcut model (50 scenes): with black, Grad-CAM and random maps get the same deletion AUC
  (0.35 vs 0.36); with blur they separate (0.45 vs 0.71).
- ``"mean"``: the image's own mean colour, a flat patch (close to RISE's deletion substrate, zero after
  ImageNet normalisation, i.e. the dataset's mean colour). Flat patches have weaker edges than black.
- ``"black"``: the value a black pixel has in the image's units, as the widget shows it: 0 for
  images in [0, 1] or [0, 255]; for other ranges (e.g. an array already preprocessed, with negative
  values) the image's minimum, the value the widget shows as black. With ``preprocess=`` this is
  found in the values before preprocessing (0 for a picture), then preprocessed like the rest.
- an array: your own baseline, in the same units as the image (the values the model gets before
  ``preprocess=``, at the model's input size), broadcastable to the model input, e.g. ``0``.

Blur and mean keep the image's colours. A model that decides by colour alone (the demo's
``shortcut-biased`` model reads the ground's colour) then never changes its mind: every curve is flat
and every map scores the same. That says "these pixels' detail does not matter", not "all maps are
equally good"; rerun with ``baseline="black"`` to remove the colour too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..images import black_level
from ._common import (
    Scorer,
    as_explainer,
    as_maps,
    check_positive_int,
    class_list,
    model_pixels,
    model_pixels_batch,
    upsample,
)

#: Default Gaussian blur, as a share of the image's longest side (11 px at 224 in RISE).
BLUR_SHARE = 0.05

_TIE_SEED = 0


@dataclass(frozen=True)
class CurveResult:
    """A deletion or insertion curve: class probability against the share of pixels changed.

    ``fractions`` run from 0 to 1 (share of pixels removed for deletion, inserted for insertion);
    ``probabilities[i]`` is the class probability at ``fractions[i]``; ``auc`` is the trapezoid area
    under that curve (lower is better for deletion, higher for insertion). ``logits``: the class score
    before softmax at each step, which still moves where a saturated probability sits at 1.0.
    """

    kind: str
    class_index: int
    fractions: np.ndarray
    probabilities: np.ndarray
    auc: float
    baseline: str
    logits: np.ndarray


@dataclass(frozen=True)
class DropIncreaseResult:
    """Average Drop % and Increase in Confidence % over a batch (Chattopadhay et al. 2018).

    ``average_drop``: mean of max(0, Y - O) / Y, in percent (lower is better);
    ``increase_in_confidence``: share of images with O > Y, in percent (higher is better). Y is the
    class probability on the image, O on the explanation map (image x normalised upsampled map).
    """

    average_drop: float
    increase_in_confidence: float
    drops: np.ndarray  # per image, max(0, Y - O) / Y in [0, 1]
    increased: np.ndarray  # per image, O > Y
    original: np.ndarray  # Y per image
    explained: np.ndarray  # O per image
    class_indices: np.ndarray


def auc(fractions, values) -> float:
    """Trapezoid area under ``values`` over ``fractions`` (which span [0, 1])."""
    x, y = np.asarray(fractions, np.float64), np.asarray(values, np.float64)
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def pixel_order(saliency, height: int, width: int) -> np.ndarray:
    """Flat pixel indices, most salient first; ties in a fixed pseudo-random order."""
    values = upsample(saliency, height, width).ravel()
    shuffle = np.random.default_rng(_TIE_SEED).permutation(values.size)
    return shuffle[np.argsort(-values[shuffle], kind="stable")]


def _rank_image(saliency, height: int, width: int, ndim: int = 3) -> np.ndarray:
    """Each pixel's place in the removal order (0 = first), shaped (H, W[, 1]) to mask all channels
    of an image with ``ndim`` dimensions."""
    rank = np.empty(height * width, np.int64)
    rank[pixel_order(saliency, height, width)] = np.arange(height * width)
    return rank.reshape((height, width) + (1,) * (ndim - 2))


def step_counts(num_pixels: int, steps: int) -> np.ndarray:
    """How many pixels are changed at each of the ``steps + 1`` points (0 ... all), no repeats."""
    steps = check_positive_int(steps, "steps")
    return np.unique(np.rint(np.linspace(0, num_pixels, steps + 1)).astype(np.int64))


def make_baseline(pixels: np.ndarray, baseline="blur", blur_sigma=None) -> np.ndarray:
    """The image every removed pixel is replaced by (see the module docstring for the choice)."""
    if isinstance(baseline, str):
        if baseline == "blur":
            return _blur(pixels, blur_sigma)
        if baseline == "mean":
            return np.broadcast_to(pixels.mean(axis=(0, 1), keepdims=True), pixels.shape).astype(np.float32)
        if baseline == "black":
            return np.full(pixels.shape, black_level(pixels), np.float32)
        raise ValueError(f"baseline must be 'blur', 'mean', 'black' or an array of pixel values, got {baseline!r}.")
    values = np.asarray(baseline, dtype=np.float32)
    try:
        values = np.broadcast_to(values, pixels.shape)
    except ValueError:
        raise ValueError(
            f"the baseline array has shape {values.shape}, which does not broadcast to the model "
            f"input {pixels.shape} (H, W, C). Give an image of that size, one colour per channel, "
            f"or a scalar."
        ) from None
    if not np.all(np.isfinite(values)):
        raise ValueError("the baseline array contains NaN or infinite values.")
    return values.astype(np.float32)


def _blur(pixels: np.ndarray, sigma) -> np.ndarray:
    import cv2

    sigma = BLUR_SHARE * max(pixels.shape[:2]) if sigma is None else float(sigma)
    if not sigma > 0:
        raise ValueError(f"blur_sigma must be a positive number of pixels, got {sigma!r}.")
    blurred = cv2.GaussianBlur(
        np.ascontiguousarray(pixels, np.float32), (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101
    )
    return blurred.reshape(pixels.shape)


def _curve(
    kind, model, image, saliency, class_index, *, steps, baseline, blur_sigma, preprocess, batch_size, progress, output
) -> CurveResult:
    explainer = as_explainer(model, preprocess, output=output)
    pixels = model_pixels(explainer, image)
    cls = None if class_index is None else explainer.check_class(class_index)
    height, width = pixels.shape[:2]
    rank = _rank_image(saliency, height, width, pixels.ndim)
    base = make_baseline(pixels, baseline, blur_sigma)
    counts = step_counts(height * width, steps)
    scorer = Scorer(explainer, batch_size)
    first, second = (base, pixels) if kind == "deletion" else (pixels, base)

    def batches():
        for start in range(0, len(counts), scorer.batch_size):
            chunk = counts[start : start + scorer.batch_size]
            yield np.stack([np.where(rank < c, first, second) for c in chunk])

    probabilities, logits = scorer.run(batches(), len(counts), progress, kind)
    if cls is None:  # the class the model predicts for the intact image
        cls = int(np.argmax(probabilities[0] if kind == "deletion" else probabilities[-1]))
    fractions = counts / float(height * width)
    curve = probabilities[:, cls].astype(np.float64)
    name = baseline if isinstance(baseline, str) else "array"
    return CurveResult(kind, cls, fractions, curve, auc(fractions, curve), name, logits[:, cls].astype(np.float64))


def deletion(
    model,
    image,
    saliency,
    class_index=None,
    *,
    steps: int = 50,
    baseline="blur",
    blur_sigma=None,
    preprocess=None,
    batch_size: int = 32,
    progress="auto",
    output=None,
) -> CurveResult:
    """Deletion curve (Petsiuk et al. 2018): remove the most salient pixels first. Lower AUC = better.

    ``model``: a Keras model or an :class:`~gradcam_widget.Explainer` (reused). ``saliency``: a 2-D map
    at any resolution or a CamMap. ``class_index``: None = the class the model predicts for the image.
    ``steps + 1`` images (0 %, ..., 100 % removed) go through the model in batches of ``batch_size``.
    ``baseline``: "blur" (default), "mean", "black" or an array, see the module docstring. ``output``: the
    output to explain of a model with several (name or index).
    """
    return _curve(
        "deletion",
        model,
        image,
        saliency,
        class_index,
        steps=steps,
        baseline=baseline,
        blur_sigma=blur_sigma,
        preprocess=preprocess,
        batch_size=batch_size,
        progress=progress,
        output=output,
    )


def insertion(
    model,
    image,
    saliency,
    class_index=None,
    *,
    steps: int = 50,
    baseline="blur",
    blur_sigma=None,
    preprocess=None,
    batch_size: int = 32,
    progress="auto",
    output=None,
) -> CurveResult:
    """Insertion curve (Petsiuk et al. 2018): start from the baseline, add the most salient pixels first.

    Higher AUC = better. Arguments as :func:`deletion`; ``class_index=None`` = the class the model
    predicts for the full image.
    """
    return _curve(
        "insertion",
        model,
        image,
        saliency,
        class_index,
        steps=steps,
        baseline=baseline,
        blur_sigma=blur_sigma,
        preprocess=preprocess,
        batch_size=batch_size,
        progress=progress,
        output=output,
    )


def explanation_images(pixels: np.ndarray, saliencies) -> np.ndarray:
    """Image x map, each map normalised to a maximum of 1 (negative parts cut) and upsampled: black
    where the map is 0 (black in the image's own units, see :func:`~gradcam_widget.images.black_level`)."""
    height, width = pixels.shape[1:3]
    out = np.empty_like(pixels, dtype=np.float32)
    for i, saliency in enumerate(saliencies):
        m = np.maximum(upsample(saliency, height, width), 0.0)
        peak = m.max()
        m = m / peak if peak > 0 else np.zeros_like(m)  # no evidence: nothing is shown
        black = black_level(pixels[i])
        out[i] = black + (pixels[i] - black) * m.reshape((height, width) + (1,) * (pixels.ndim - 3))
    return out


def average_drop_increase(
    model,
    images,
    saliencies,
    class_indices=None,
    *,
    preprocess=None,
    batch_size: int = 32,
    progress="auto",
    output=None,
) -> DropIncreaseResult:
    """Average Drop % and Increase in Confidence % (Chattopadhay et al. 2018) over a batch of images.

    The explanation map of each image is the image multiplied by its map (normalised to maximum 1,
    upsampled bilinearly), applied to the values before ``preprocess=`` (map 0 = black, see
    :func:`explanation_images`). ``class_indices``:
    None = each image's predicted class, an int for all, or one per image. Original and explanation
    images go through the model in batches. ``output``: as :func:`deletion`.
    """
    explainer = as_explainer(model, preprocess, output=output)
    pixels = model_pixels_batch(explainer, images)
    maps = as_maps(saliencies, len(pixels))
    explained_pixels = explanation_images(pixels, maps)
    scorer = Scorer(explainer, batch_size)
    both = np.concatenate([pixels, explained_pixels])
    chunks = (both[i : i + scorer.batch_size] for i in range(0, len(both), scorer.batch_size))
    probabilities, _ = scorer.run(chunks, len(both), progress, "average drop")
    before, after = probabilities[: len(pixels)], probabilities[len(pixels) :]
    classes = np.array(class_list(explainer, class_indices, len(pixels), before.argmax(axis=1)))
    rows = np.arange(len(pixels))
    y, o = before[rows, classes].astype(np.float64), after[rows, classes].astype(np.float64)
    drops = np.where(y > 0, np.maximum(0.0, y - o) / np.where(y > 0, y, 1.0), 0.0)
    increased = o > y
    return DropIncreaseResult(float(100 * drops.mean()), float(100 * increased.mean()), drops, increased, y, o, classes)
