"""TensorFlow pieces of the head programs: the target score (contrastive or not), the pooled-head
offset shortcut for Grad-CAM (see :class:`_PooledDense`), and token grids."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf


def _target_scores(scores, classes, against):
    """Each row's class score, minus its contrast class's score where one is given (index >= 0)."""
    picked = tf.gather(scores, classes[:, None], batch_dims=1)
    other = tf.gather(scores, tf.maximum(against, 0)[:, None], batch_dims=1)
    return picked - tf.where(against[:, None] >= 0, other, tf.zeros_like(other))


@dataclass(frozen=True)
class _PooledDense:
    """A head that starts with pooling that commutes with a per-channel offset b (pool(A + b) =
    pool(A) + b: max/average pooling, local or global). Then sum_ij dS/dA[i, j, k] = dS/db_k, which is
    all Grad-CAM needs (the spatial mean of the gradient), and b can be injected after the pooling:

    - global pooling -> ...: b is added to the pooled vector z = GAP(A) (n, k); the backward stops there
      and never materialises an (n, h, w, k) gradient;
    - [local pooling ->] Flatten -> Dense: z is the Dense pre-activation and b enters as z + b @ W_sum,
      W_sum (k x U) being the kernel rows summed over the pooled positions: the backward reads W_sum
      instead of the kernel (h*w*k x U; 411 MB for VGG16's fc1).

    z does not depend on the class: it is computed once per image, with the scores."""

    source: object  # the tensor z is computed from (the Flatten output, or the global pooling output)
    dense: object  # the Dense layer, or None (global pooling: z is the pooled vector)
    inject: object  # the tensor seeded with activation(z + b @ W_sum) (or z + b) to get the scores
    w_sum: object  # (k, U) float32 tf.Variable, or None
    shape: tuple = ()  # (h, w, k) of the Flatten's input: how W_sum is summed from the kernel


def _find_pooled_dense(graph, choice, source):
    consumers: dict = {}
    for flat in graph.nodes:
        for tid in flat.input_ids:
            consumers.setdefault(tid, []).append(flat)
    tid, chain, shape = id(graph.canonical(choice.tensor)), [], tuple(choice.shape)
    while True:
        users = consumers.get(tid, [])
        if len(users) != 1 or len(users[0].output_ids) != 1 or len(users[0].input_ids) != 1:
            return None
        node = users[0]
        op = node.operation
        if isinstance(op, (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D)) and not chain:
            if getattr(op, "keepdims", False) or getattr(op, "data_format", "channels_last") != "channels_last":
                return None
            pooled = graph.canonical(node.node.outputs[0])
            return _PooledDense(pooled, None, pooled, None)
        if isinstance(op, keras.layers.Dense):
            break
        if isinstance(op, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)) and not chain:
            if getattr(op, "data_format", "channels_last") != "channels_last":
                return None
            shape = tuple(graph.canonical(node.node.outputs[0]).shape[1:])
        elif not (
            isinstance(op, keras.layers.Flatten) and getattr(op, "data_format", "channels_last") == "channels_last"
        ):
            return None
        chain.append(node)
        tid = node.output_ids[0]
    if not chain or not isinstance(chain[-1].operation, keras.layers.Flatten) or None in shape:
        return None
    dense_out = graph.canonical(node.node.outputs[0])
    if id(op) in source.overrides or dense_out is graph.canonical(source.target):
        return None  # the Dense is the score layer itself: the ordinary head is as cheap
    h, w, k = (int(d) for d in shape)
    kernel = tf.convert_to_tensor(op.kernel)
    if tuple(kernel.shape) != (h * w * k, int(kernel.shape[-1])):
        return None
    with tf.init_scope():  # a variable, so refresh_weights() can update it without retracing
        w_sum = tf.Variable(_summed_kernel(op, h, w, k), trainable=False, name="gradcam_w_sum")
    return _PooledDense(graph.canonical(chain[-1].node.outputs[0]), op, dense_out, w_sum, (h, w, k))


def _summed_kernel(dense, h: int, w: int, k: int):
    """The Dense kernel's rows summed over the h x w positions: (k, units) float32."""
    kernel = tf.cast(tf.convert_to_tensor(dense.kernel), tf.float32)
    return tf.reduce_sum(tf.reshape(kernel, (h, w, k, -1)), axis=(0, 1))


def _pooled_gradcam(pd, scores_from, a, z, classes, against):
    """Grad-CAM maps (n, h, w) through the offset shortcut, one row per class (A and z repeated)."""
    n = tf.shape(classes)[0]
    a = tf.repeat(a, n // tf.shape(a)[0], axis=0)
    z = tf.repeat(z, n // tf.shape(z)[0], axis=0)
    offset = tf.zeros((n, tf.shape(a)[-1]))
    with tf.GradientTape() as tape:
        tape.watch(offset)
        picked = _target_scores(_offset_scores(pd, scores_from, z, offset), classes, against)
    weights = tape.gradient(picked, offset) / _positions(a)  # = the spatial mean of dS/dA
    return tf.einsum("nk,nhwk->nhw", weights, a)


def _as_grid(choice, a):
    """Activations or gradients as the methods take them: a token layer's patch tokens as a grid."""
    return a if choice.grid is None else choice.grid.to_grid(a)


def _positions(a):
    """h * w of an (n, h, w, k) batch as float32, known or not when traced (any-size models)."""
    return tf.cast(tf.shape(a)[1] * tf.shape(a)[2], tf.float32)


def _offset_scores(pd, scores_from, z, offset):
    """Class scores with the per-channel offset injected after the pooling (see _PooledDense)."""
    if pd.dense is None:
        return scores_from(z + offset)
    return scores_from(pd.dense.activation(z + offset @ pd.w_sum))
