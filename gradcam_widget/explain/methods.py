"""Class activation map methods: each one is a small pure function of (activations, gradients).

Methods differ only in how they weight the feature maps. Every function takes float32 tensors
``activations`` and ``gradients`` of shape (N, h, w, k) (gradients of each image's class score) and
returns the map before ReLU, (N, h, w); the explainer applies ReLU and normalisation for all of them.
Score-CAM weights channels by masked forward passes, so the explainer runs those and calls
:func:`scorecam_combine`. Adding a method = one function here + one entry in :mod:`gradcam_widget.registry`.
"""

from __future__ import annotations

from dataclasses import replace

import tensorflow as tf

from .. import registry
from ..registry import MethodInfo

_EPS = 1e-7


def _weighted_sum(weights, activations):
    """sum_k weights[n, k] * activations[n, :, :, k]"""
    return tf.einsum("nk,nhwk->nhw", weights, activations)


def gradcam(activations, gradients):
    """Grad-CAM (Selvaraju et al. 2017): channel weight = spatial mean of the gradient."""
    return _weighted_sum(tf.reduce_mean(gradients, axis=(1, 2)), activations)


def gradcam_plus_plus(activations, gradients):
    """Grad-CAM++ (Chattopadhay et al. 2018), with the usual exponential-score closed form.

    For score exp(S), the second and third derivatives are powers of the first, so the pixel
    weights alpha only need the gradients and the summed activations.
    """
    g2 = tf.square(gradients)
    g3 = g2 * gradients
    summed = tf.reduce_sum(activations, axis=(1, 2), keepdims=True)
    denominator = 2.0 * g2 + summed * g3
    denominator = tf.where(tf.abs(denominator) > _EPS, denominator, tf.ones_like(denominator))
    alpha = tf.where(tf.not_equal(gradients, 0.0), g2 / denominator, tf.zeros_like(g2))
    weights = tf.reduce_sum(alpha * tf.nn.relu(gradients), axis=(1, 2))
    return _weighted_sum(weights, activations)


def hirescam(activations, gradients):
    """HiResCAM (Draelos & Carin 2020): element-wise gradient x activation, summed over channels."""
    return tf.reduce_sum(gradients * activations, axis=-1)


def layercam(activations, gradients):
    """Layer-CAM (Jiang et al. 2021): positive gradients weight each position separately."""
    return tf.reduce_sum(tf.nn.relu(gradients) * activations, axis=-1)


def xgradcam(activations, gradients):
    """XGrad-CAM (Fu et al. 2020): gradients weighted by the normalised activations."""
    summed = tf.reduce_sum(activations, axis=(1, 2))
    summed = tf.where(tf.abs(summed) > _EPS, summed, tf.ones_like(summed))
    weights = tf.reduce_sum(gradients * activations, axis=(1, 2)) / summed
    return _weighted_sum(weights, activations)


def eigencam(activations, gradients=None):
    """Eigen-CAM (Muhammad & Yeasin 2020): projection on the first principal component.

    Class-agnostic. The component's sign is arbitrary, so it is chosen to make the projection agree
    with the mean activation (positive where the layer is most active).
    """
    n, h, w, k = tf.unstack(tf.shape(activations))
    flat = tf.reshape(activations, (n, h * w, k))
    centred = flat - tf.reduce_mean(flat, axis=1, keepdims=True)
    _, _, v = tf.linalg.svd(centred, full_matrices=False)
    component = v[:, :, 0]  # (n, k)
    projection = tf.einsum("npk,nk->np", centred, component)  # (n, h*w)
    mean_activation = tf.reduce_mean(flat, axis=2)
    agreement = tf.reduce_sum(projection * (mean_activation - tf.reduce_mean(mean_activation, 1, True)), 1)
    sign = tf.where(agreement < 0.0, -1.0, 1.0)
    return tf.reshape(projection * sign[:, None], (n, h, w))


def scorecam_combine(activations, channel_scores, channels):
    """Score-CAM (Wang et al. 2020): weight the chosen channels by softmax of their masked scores.

    ``channel_scores`` (N, m) are the class scores of the image masked by each chosen channel,
    ``channels`` (m,) their indices. The softmax over channels follows the common implementation.
    """
    chosen = tf.gather(activations, channels, axis=-1)
    weights = tf.nn.softmax(channel_scores, axis=-1)
    return _weighted_sum(weights, chosen)


def get_method(name) -> MethodInfo:
    """The registry's entry for a method name as users type it, with its function imported."""
    entry = registry.lookup(name)
    return replace(entry, function=entry.resolve())
