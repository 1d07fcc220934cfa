"""Score-CAM's masked passes in TensorFlow (the Keras backend's "masked" kind): which channels mask an
image, the scores of the image masked by them, and the map from those scores. The Explainer batches
the passes, counts them, reports progress, honours cancellation and caches the scores per image."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .head_ops import _as_grid


def channels(activations, count: int):
    """The ``count`` highest-variance channels of one image's activations (1, h, w, k), sorted."""
    variance = tf.math.reduce_variance(activations[0], axis=(0, 1))
    return tf.sort(tf.math.top_k(variance, count).indices)


def masked_inputs(model_input: np.ndarray, activations, idx):
    """The image multiplied by each channel of ``idx`` (upsampled to the image, scaled to [0, 1])."""
    height, width = (int(d) for d in model_input.shape[:2])
    x = tf.constant(model_input[None])
    masks = tf.transpose(tf.gather(activations[0], idx, axis=-1), (2, 0, 1))[..., None]
    masks = tf.image.resize(masks, (height, width), method="bilinear")
    lo = tf.reduce_min(masks, axis=(1, 2, 3), keepdims=True)
    hi = tf.reduce_max(masks, axis=(1, 2, 3), keepdims=True)
    masks = tf.where(hi - lo > 0, (masks - lo) / tf.maximum(hi - lo, 1e-12), tf.zeros_like(masks))
    if x.shape.rank == 3:  # (N, H, W) grayscale input: no channel axis
        masks = masks[..., 0]
    return x * masks


def grid_row(choice, activations, row: int):
    """One image's activations (1, h, w, k) as the methods take them."""
    return _as_grid(choice, activations[row : row + 1])


def combine(function, activations, chosen_channels, target: np.ndarray):
    """Maps (R, h, w) of one image's activations (1, h, w, k) for R target rows (R, m)."""
    rows = int(target.shape[0])
    repeated = tf.repeat(activations, rows, axis=0)
    return function(repeated, tf.constant(target, tf.float32), chosen_channels).numpy()
