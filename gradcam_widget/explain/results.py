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
    return CamMap(int(class_index), method, layer, raw, maximum, bool(has_evidence), contrast)
