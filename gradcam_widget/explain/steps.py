"""The numbers behind one map, step by step: activations A^k, the method's channel weights, the signed
weighted sum, ReLU (the widget's "How was this map made?" panel, issue 17).

Cost: the layer's activations come from the explainer's feature cache (no new forward pass once the
map is shown); gradient methods then run the head once forward and once backward; Score-CAM reads the
masked passes the explainer keeps for its map; Eigen-CAM needs no gradients.

This module is on the Keras/TensorFlow side (it runs the head under a GradientTape): everything it needs
from the Explainer and its KerasBackend is reached through the few calls below (``_engine_*``), so a
second backend has one place to provide them.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .head_ops import _as_grid, _offset_scores, _positions, _target_scores
from .methods import get_method
from .results import MapSteps

#: The methods whose weighting the step-through knows (registry names).
STEPPED_METHODS = ("gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "eigencam", "scorecam")
#: Channels shown as thumbnails (those with the largest |contribution| to the signed sum).
TOP_CHANNELS = 6
_EPS = 1e-7  # methods.py's guard against 0/0 in Grad-CAM++ and XGrad-CAM


# ---- the explainer internals this module uses (the only ones) ----------------------------------
def _engine_layer(explainer, layer):
    """The LayerChoice of ``layer`` (None: the explainer's default)."""
    return explainer._choice(layer)


def _engine_activations(explainer, prepared, choice):
    """A (1, h, w, k) for one prepared image and the pooled head's z (or None), from the feature cache
    (one forward on a miss)."""
    features, _ = explainer._features([prepared], choice)
    a, z = features  # keras_backend.Features: TensorFlow tensors
    return a[:1], (None if z is None else z[:1])


def _engine_mean_gradient(explainer, choice, a, z, class_index: int, contrast: int):
    """Grad-CAM's weights through the pooled-head shortcut the explainer's own map uses (head_ops.
    _PooledDense: the backward stops at the pooling, never through a VGG-sized Dense kernel), or None
    when the head has no such shortcut."""
    pd = None if z is None else explainer.backend.programs.pooled_dense(choice)
    if pd is None:
        return None
    scores_from = explainer.backend.programs.dense_scores(choice, pd)
    offset = tf.zeros((1, int(a.shape[-1])))
    with tf.GradientTape() as tape:
        tape.watch(offset)
        scores = _offset_scores(pd, scores_from, z, offset)
        picked = _target_scores(scores, tf.constant([class_index], tf.int32), tf.constant([contrast], tf.int32))
    return tape.gradient(picked, offset)[0] / _positions(a)


def _engine_gradients(explainer, choice, a, class_index: int, contrast: int) -> tf.Tensor:
    """d(target score)/dA: one head forward and one backward."""
    head = explainer.backend.programs.head(choice)
    with tf.GradientTape() as tape:
        tape.watch(a)
        picked = _target_scores(head(a), tf.constant([class_index], tf.int32), tf.constant([contrast], tf.int32))
    return tape.gradient(picked, a)


def _engine_masked_scores(explainer, prepared, choice, class_index: int, contrast: int):
    """Score-CAM's (channels (m,), class scores of the masked images (m, C)), as its map used them:
    computed by the explainer's own Score-CAM call when not kept yet."""
    k = int(choice.shape[-1])
    entry = explainer._kept_masked_passes(choice, prepared.key, k)
    if entry is None:
        explainer.cam(prepared, class_index, "scorecam", layer=choice.name, contrast=None if contrast < 0 else contrast)
        entry = explainer._kept_masked_passes(choice, prepared.key, k)
    if entry is None:
        raise RuntimeError("Score-CAM's masked passes were not kept (the cache is too small); try again.")
    return np.asarray(entry[0]), np.asarray(entry[1], np.float32)


# ---- the steps -----------------------------------------------------------------------------------
def map_steps(explainer, image, class_index=None, method: str = "gradcam", *, layer=None, contrast=None) -> MapSteps:
    """The step-through of one map (see :class:`~gradcam_widget.explain.results.MapSteps`)."""
    info = get_method(method)
    if info.name not in STEPPED_METHODS:
        raise ValueError(
            f"the step-through shows how {', '.join(STEPPED_METHODS)} weight the layer's channels; "
            f"{info.label} does not build its map from channel weights. Pick one of those methods."
        )
    prepared = explainer.prepare(image)
    choice = _engine_layer(explainer, layer)
    if class_index is None:
        class_index = int(np.argmax(explainer.scores(prepared, layer=choice.name).logits))
    class_index = explainer.check_class(class_index)
    against = -1 if contrast is None else explainer.check_class(contrast)
    if against == class_index:
        raise ValueError("contrast= is the same class as class_index; a contrastive map compares two classes.")
    if info.class_agnostic and against >= 0:
        raise ValueError(f"{info.name} is class-agnostic, so it has no contrastive form.")
    a_cut, z = _engine_activations(explainer, prepared, choice)
    a = np.asarray(_as_grid(choice, a_cut)[0], np.float64)  # (h, w, k)
    gains = None
    if info.name == "scorecam":
        weighting, weights, used, gains = _scorecam_weights(explainer, prepared, choice, class_index, against, a)
        products = weights * used
    elif info.name == "eigencam":
        weighting, used = "component", a - a.reshape(-1, a.shape[-1]).mean(axis=0)
        weights = _eigen_component(a)
        products = weights * used
    elif (
        info.name == "gradcam"
        and (alpha := _engine_mean_gradient(explainer, choice, a_cut, z, class_index, against)) is not None
    ):
        weighting, weights, used = "channel", np.asarray(alpha, np.float64), a
        products = weights * a
    else:
        g = np.asarray(
            _as_grid(choice, _engine_gradients(explainer, choice, a_cut, class_index, against))[0], np.float64
        )
        used = a
        weighting, weights, products = _gradient_weights(info.name, a, g)
    signed = products.sum(axis=-1)
    contributions = products.sum(axis=(0, 1))
    top = np.argsort(-np.abs(contributions), kind="stable")[: min(TOP_CHANNELS, a.shape[-1])]
    f32 = lambda x: np.ascontiguousarray(x, dtype=np.float32)  # noqa: E731
    return MapSteps(
        class_index=int(class_index),
        method=info.name,
        layer=choice.name,
        contrast=None if against < 0 else int(against),
        weighting=weighting,
        weights=f32(weights if weights.ndim == 1 else weights.mean(axis=(0, 1))),
        contributions=f32(contributions),
        top=top.astype(np.int64),
        channels=f32(np.moveaxis(used[..., top], -1, 0)),
        products=f32(np.moveaxis(products[..., top], -1, 0)),
        signed=f32(signed),
        relu=f32(np.maximum(signed, 0.0)),
        gains=None if gains is None else f32(gains),
    )


def _gradient_weights(method: str, a: np.ndarray, g: np.ndarray):
    """(weighting, weights, weighted activations (h, w, k)) of a gradient method, in float64."""
    if method == "gradcam":
        w = g.mean(axis=(0, 1))
    elif method == "gradcam++":
        g2, g3 = g * g, g * g * g
        denominator = 2.0 * g2 + a.sum(axis=(0, 1)) * g3
        denominator = np.where(np.abs(denominator) > _EPS, denominator, 1.0)
        alpha = np.where(g != 0.0, g2 / denominator, 0.0)
        w = (alpha * np.maximum(g, 0.0)).sum(axis=(0, 1))
    elif method == "xgradcam":
        summed = a.sum(axis=(0, 1))
        w = (g * a).sum(axis=(0, 1)) / np.where(np.abs(summed) > _EPS, summed, 1.0)
    elif method == "hirescam":
        return "elementwise", g, g * a
    elif method == "layercam":
        positive = np.maximum(g, 0.0)
        return "elementwise", positive, positive * a
    else:
        raise ValueError(f"the step-through does not know how {method} weights channels.")
    return "channel", w, w * a


def _eigen_component(a: np.ndarray) -> np.ndarray:
    """Eigen-CAM's first principal component of the centred activations, signed as the method signs
    it (its projection agrees with the mean activation)."""
    flat = a.reshape(-1, a.shape[-1])
    centred = flat - flat.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    component = vt[0]
    projection = centred @ component
    mean_activation = flat.mean(axis=1)
    if float(np.sum(projection * (mean_activation - mean_activation.mean()))) < 0.0:
        component = -component
    return component


def _scorecam_weights(explainer, prepared, choice, class_index, against, a):
    """Score-CAM: softmax over the masked channels of the target score of each masked image."""
    channels, scores = _engine_masked_scores(explainer, prepared, choice, class_index, against)
    target = scores[:, class_index] - (scores[:, against] if against >= 0 else 0.0)
    target = target.astype(np.float64)
    soft = np.exp(target - target.max())
    soft /= soft.sum()
    k = a.shape[-1]
    weights, gains = np.zeros(k), np.full(k, np.nan)
    weights[channels], gains[channels] = soft, target
    return "masked", weights, a, gains
