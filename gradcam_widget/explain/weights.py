"""A cheap fingerprint of a model's weights, so results cached for old weights are never shown.

TensorFlow variables have no public version counter. Training moves every trainable weight, and
``set_weights()``/``assign()`` replace whole variables, so an evenly strided sample of each variable
(FINGERPRINT_SAMPLE elements) changes with them; reading every weight (411 MB for VGG16's fc1) would
cost far more than the class switch it protects. The optimizer's step counter is read too.

Two ways to read the same sample: a traced function (one dispatch; ~1 ms for MobileNetV2's 262
variables) and, until that is traced in the background, zero-copy numpy views of the variables
(a trace of 262 variable reads costs about a second, too much for a first call).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

#: Elements read from each weight variable (evenly strided over its flattened values).
FINGERPRINT_SAMPLE = 64


def sample_plan(model) -> list:
    """(variable, stride) for every weight of the model."""
    plan = []
    for v in model.weights:
        n = int(np.prod(v.shape)) if len(v.shape) else 1
        plan.append((v, max(1, n // FINGERPRINT_SAMPLE)))
    return plan


def traced_sample(plan):
    """() -> the sample as one float32 tensor; meant to be traced (tf.function)."""

    def sample():
        parts = [tf.cast(tf.reshape(tf.convert_to_tensor(v), [-1])[::stride], tf.float32) for v, stride in plan]
        return tf.concat(parts, 0) if parts else tf.zeros((0,))

    return sample


def eager_sample(plan) -> np.ndarray:
    """The same sample read through numpy views of the variables' buffers (no copy of the weights)."""
    parts = []
    for v, stride in plan:
        variable = getattr(v, "value", v)  # a Keras variable wraps the tf.Variable
        handle = getattr(variable, "handle", None)
        value = (
            tf.convert_to_tensor(variable)
            if handle is None
            # the bare op: read_value() costs 8x
            else tf.raw_ops.ReadVariableOp(resource=handle, dtype=variable.dtype)
        )
        parts.append(np.asarray(value).reshape(-1)[::stride].astype(np.float32))
    return np.concatenate(parts) if parts else np.zeros((0,), np.float32)


def optimizer_steps(model) -> bytes:
    """The optimizer's step counter (``model.fit`` and ``apply_gradients`` advance it)."""
    iterations = getattr(getattr(model, "optimizer", None), "iterations", None)
    return b"" if iterations is None else np.asarray(iterations).tobytes()
