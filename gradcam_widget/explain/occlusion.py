"""Occlusion sensitivity: cover one patch of the image at a time and map how much the class score drops.

Model-agnostic (forward passes only, no gradients, no layer): the check the what-if brush does by
hand, done systematically. The patch slides over the model input with a stride; the last row and
column of positions end at the image's edge so every pixel is covered. A pixel's value is the mean
score drop of the patches that cover it, so the map is at the model input's resolution. Covered
pixels take the input's per-channel mean (a neutral value in whatever scale preprocessing left).

The registry's "perturbation" kind calls ``function(score_batch, model_input, targets, *, batch_size,
progress, checkpoint)``; :func:`occlusion_method` makes an entry with other patch settings.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import numpy as np

#: Patch side and stride as fractions of the input's shorter side (at least 1 pixel).
PATCH_FRACTION = 1 / 8
STRIDE_FRACTION = 1 / 16


def positions(size: int, patch: int, stride: int) -> list[int]:
    """Start offsets of the patch along one side: every ``stride``, plus one ending at the edge."""
    last = max(0, size - patch)
    starts = list(range(0, last + 1, stride))
    if starts[-1] != last:
        starts.append(last)
    return starts


def patch_settings(height: int, width: int, patch=None, stride=None) -> tuple[int, int]:
    """(patch, stride) in pixels: given ones checked, else the fractions of the shorter side."""
    side = min(height, width)
    patch = max(1, round(side * PATCH_FRACTION)) if patch is None else patch
    stride = max(1, round(side * STRIDE_FRACTION)) if stride is None else stride
    for name, value in (("patch", patch), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"occlusion {name} must be a whole number of pixels >= 1, got {value!r}.")
    if patch > side:
        raise ValueError(f"occlusion patch {patch} is larger than the input's shorter side ({side} pixels).")
    return int(patch), int(stride)


def occlusion(
    score_batch: Callable[[np.ndarray], np.ndarray],
    model_input: np.ndarray,
    targets: list[tuple[int, int]],
    *,
    batch_size: int = 32,
    progress: Callable | None = None,
    checkpoint: Callable[[], None] | None = None,
    patch: int | None = None,
    stride: int | None = None,
) -> np.ndarray:
    """Maps (len(targets), H, W) of one model input: the mean drop of each target's score over the
    patches covering each pixel. ``score_batch(inputs) -> (B, classes)`` pre-softmax scores; a target
    is ``(class, against)`` with against -1, or a class whose score is subtracted (contrastive).
    ``checkpoint()`` is called before each batch (it raises to cancel); ``progress(done, total)``
    after each."""
    x = np.asarray(model_input, dtype=np.float32)
    height, width = x.shape[:2]
    patch, stride = patch_settings(height, width, patch, stride)
    fill = x.mean(axis=(0, 1), keepdims=True) if x.ndim == 3 else np.float32(x.mean())
    boxes = [(top, left) for top in positions(height, patch, stride) for left in positions(width, patch, stride)]
    classes = np.array([c for c, _ in targets])
    against = np.array([max(b, 0) for _, b in targets])
    contrastive = np.array([b >= 0 for _, b in targets])

    def target_scores(scores: np.ndarray) -> np.ndarray:  # (B, classes) -> (B, targets)
        return scores[:, classes] - np.where(contrastive, scores[:, against], 0.0)

    base = target_scores(np.asarray(score_batch(x[None]), dtype=np.float64))[0]
    total = np.zeros((len(targets), height, width), np.float64)
    count = np.zeros((height, width), np.float64)
    for start in range(0, len(boxes), batch_size):
        if checkpoint is not None:
            checkpoint()
        chunk = boxes[start : start + batch_size]
        batch = np.repeat(x[None], len(chunk), axis=0)
        for i, (top, left) in enumerate(chunk):
            batch[i, top : top + patch, left : left + patch] = fill
        drops = base[None, :] - target_scores(np.asarray(score_batch(batch), dtype=np.float64))
        for i, (top, left) in enumerate(chunk):
            total[:, top : top + patch, left : left + patch] += drops[i][:, None, None]
            count[top : top + patch, left : left + patch] += 1
        if progress is not None:
            progress(min(start + batch_size, len(boxes)), len(boxes))
    return (total / count).astype(np.float32)


def occlusion_method(patch: int | None = None, stride: int | None = None, name: str = "occlusion", label=None):
    """A registry entry for occlusion with other patch settings (pixels of the model input), e.g.
    ``registry.register(occlusion_method(patch=16, stride=8))`` replaces the default one."""
    from ..registry import MethodInfo

    return MethodInfo(
        name,
        label or "Occlusion",
        "perturbation",
        partial(occlusion, patch=patch, stride=stride),
        slow=True,
        aliases=("occlusionsensitivity",) if name == "occlusion" else (),
    )
