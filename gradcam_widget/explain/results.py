"""Plain-numpy results of the engine, safe to hold and send anywhere (no TensorFlow objects)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

#: A map whose positive part is below this share of its largest magnitude is float32 rounding
#: noise of the weighted sum, not evidence (e.g. untrained models with scores ~1e-10).
EVIDENCE_RTOL = 1e-6


class Scores(NamedTuple):
    """Class scores of one image: ``logits`` before softmax/sigmoid, and ``probabilities``."""

    logits: np.ndarray
    probabilities: np.ndarray


@dataclass(frozen=True)
class CamMap:
    """One class activation map at the target layer's resolution.

    ``raw`` is the map after ReLU, before normalisation. ``has_evidence`` is False when nothing in the
    image speaks for the class at this layer: then ``normalized`` is all zeros (never 0/0 = NaN).
    """

    class_index: int
    method: str
    layer: str
    raw: np.ndarray
    maximum: float
    has_evidence: bool
    contrast: int | None = None  # the class explained against, for a contrastive map
    signed: np.ndarray | None = None  # the map before ReLU (the "signed" scale mode draws it)

    @property
    def signed_max(self) -> float:
        """Largest magnitude of the map before ReLU: the symmetric range of the signed view."""
        return 0.0 if self.signed is None else float(np.abs(self.signed).max(initial=0.0))

    @property
    def normalized(self) -> np.ndarray:
        if not self.has_evidence:
            return np.zeros_like(self.raw)
        return np.clip(self.raw / np.float32(self.maximum), 0.0, 1.0).astype(np.float32)

    @property
    def shape(self) -> tuple:
        return self.raw.shape


def make_cam_map(
    pre_relu: np.ndarray, class_index: int, method: str, layer: str, contrast: int | None = None
) -> CamMap:
    """ReLU a method's map and decide whether it holds positive evidence."""
    pre_relu = np.asarray(pre_relu, dtype=np.float32)
    if not np.all(np.isfinite(pre_relu)):
        raise FloatingPointError(
            f"the {method} map for class {class_index} has non-finite values: the model produced NaN or "
            f"infinite activations or gradients for this image. Check the image and preprocess=."
        )
    raw = np.maximum(pre_relu, 0.0).astype(np.float32)
    maximum = float(raw.max(initial=0.0))
    scale = float(np.abs(pre_relu).max(initial=0.0))
    has_evidence = maximum > 0.0 and maximum > EVIDENCE_RTOL * scale
    if not has_evidence:
        raw = np.zeros_like(raw)
        maximum = 0.0
    return CamMap(int(class_index), method, layer, raw, maximum, bool(has_evidence), contrast, pre_relu)


@dataclass(frozen=True)
class MapSteps:
    """How one map was made, step by step, in numbers (the widget's "How was this map made?" panel).

    ``weighting`` says how the method weights the layer's channels: "channel" (one weight per channel:
    Grad-CAM's mean gradient, Grad-CAM++'s alpha, XGrad-CAM), "elementwise" (HiResCAM / Layer-CAM: a
    weight per position and channel), "component" (Eigen-CAM: the first principal component of the
    centred activations) or "masked" (Score-CAM: softmax of the class score of the image masked by each
    channel). ``weights`` (k,) are the per-channel weights (for "elementwise" the spatial mean of the
    weight, so that ``contributions`` = weights * sum_ij A^k still holds); ``contributions`` (k,) is
    each channel's share of the signed sum (sum over positions of its weighted activation).
    ``top`` are the channels with the largest |contribution|, ``channels`` their activations A^k
    (n_top, h, w) as the method uses them (Eigen-CAM: centred), ``products`` their weighted maps.
    ``signed`` is the weighted sum before ReLU, ``relu`` after it (equal to the map's ``raw``).
    ``gains``: Score-CAM's class score of each masked image (k,; NaN for channels not masked).
    """

    class_index: int
    method: str
    layer: str
    contrast: int | None
    weighting: str
    weights: np.ndarray
    contributions: np.ndarray
    top: np.ndarray
    channels: np.ndarray
    products: np.ndarray
    signed: np.ndarray
    relu: np.ndarray
    gains: np.ndarray | None = None

    @property
    def positive(self) -> int:
        """How many channel weights are above zero."""
        return int(np.count_nonzero(self.weights > 0))

    @property
    def negative(self) -> int:
        """How many channel weights are below zero."""
        return int(np.count_nonzero(self.weights < 0))
