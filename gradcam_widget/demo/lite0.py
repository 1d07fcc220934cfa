"""EfficientNet-Lite0 as a Keras 3 model, filled from a PyTorch state dict (numpy arrays by name).

The weights are a PyTorch port of Google's TF checkpoint (key names as in lukemelas'
EfficientNet-PyTorch), so the graph follows the TF original: TF "SAME" padding, which Keras'
``padding="same"`` is (asymmetric on stride-2 convolutions: the extra pixel goes right/bottom),
BatchNorm epsilon 1e-3, ReLU6, no squeeze-excite, no conv biases. The input normalisation
``(x - 127) / 128`` is the model's first layer, so the model takes RGB 0..255 like every demo model.
"""

from __future__ import annotations

import numpy as np

# (repeats, kernel, stride, expansion, output channels) per stage, as in the Lite0 definition
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_CHANNELS, HEAD_CHANNELS, NUM_CLASSES, IMAGE_SIZE = 32, 1280, 1000, 224
BN_EPSILON = 1e-3


def _conv_kernel(w: np.ndarray) -> np.ndarray:
    """torch (out, in, kh, kw) -> Keras (kh, kw, in, out)."""
    return np.transpose(w, (2, 3, 1, 0))


def _depthwise_kernel(w: np.ndarray) -> np.ndarray:
    """torch (channels, 1, kh, kw) -> Keras (kh, kw, channels, 1)."""
    return np.transpose(w, (2, 3, 0, 1))


def build_lite0(state: dict | None = None):
    """The Lite0 graph (softmax output); with ``state``, every layer set from its tensors.

    Raises ``ValueError`` if a tensor is missing, has the wrong shape, or is left unused: a state
    dict that does not fit this architecture exactly never yields a model.
    """
    import keras
    from keras import layers

    assignments = []  # (layer, [numpy weights]) to set once the graph exists
    used = set()

    def take(*keys):
        missing = [k for k in keys if k not in state]
        if missing:
            raise ValueError(f"the state dict has no tensor {missing[0]!r}; it is not an EfficientNet-Lite0 state dict")
        used.update(keys)
        return [state[k] for k in keys]

    def conv_bn(x, key_conv, key_bn, filters, kernel, stride, name, depthwise=False, act=True):
        if depthwise:
            conv = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_dwconv")
        else:
            conv = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")
        bn = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")
        x = bn(conv(x))
        if state is not None:
            (w,) = take(f"{key_conv}.weight")
            assignments.append((conv, [_depthwise_kernel(w) if depthwise else _conv_kernel(w)]))
            used.add(f"{key_bn}.num_batches_tracked")
            assignments.append(
                (bn, take(*[f"{key_bn}.{k}" for k in ("weight", "bias", "running_mean", "running_var")]))
            )
        return layers.ReLU(max_value=6.0, name=f"{name}_relu6")(x) if act else x

    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="rgb_0_255")
    x = layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="preprocess")(inputs)
    x = conv_bn(x, "_conv_stem", "_bn0", STEM_CHANNELS, 3, 2, "stem")
    channels, index = STEM_CHANNELS, 0
    for stage, (repeats, kernel, stride, expansion, out) in enumerate(STAGES, start=1):
        for r in range(repeats):
            block_in, key, name = x, f"_blocks.{index}", f"block{stage}{chr(ord('a') + r)}"
            hidden = channels * expansion
            if expansion != 1:
                x = conv_bn(x, f"{key}._expand_conv", f"{key}._bn0", hidden, 1, 1, f"{name}_expand")
            x = conv_bn(
                x,
                f"{key}._depthwise_conv",
                f"{key}._bn1",
                hidden,
                kernel,
                stride if r == 0 else 1,
                name,
                depthwise=True,
            )
            x = conv_bn(x, f"{key}._project_conv", f"{key}._bn2", out, 1, 1, f"{name}_project", act=False)
            if (stride if r == 0 else 1) == 1 and channels == out:
                x = layers.Add(name=f"{name}_add")([x, block_in])
            channels, index = out, index + 1
    x = conv_bn(x, "_conv_head", "_bn1", HEAD_CHANNELS, 1, 1, "top")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    dense = layers.Dense(NUM_CLASSES, activation="softmax", name="predictions")
    outputs = dense(x)
    model = keras.Model(inputs, outputs, name="efficientnet_lite0")
    if state is None:
        return model
    w, b = take("_fc.weight", "_fc.bias")
    assignments.append((dense, [w.T, b]))
    left = sorted(set(state) - used)
    if left:
        raise ValueError(
            f"{len(left)} tensors of the state dict fit no layer, e.g. {left[:3]}; "
            f"it is not an EfficientNet-Lite0 state dict"
        )
    for layer, weights in assignments:
        expected = [tuple(v.shape) for v in layer.weights]
        if expected != [tuple(w.shape) for w in weights]:
            raise ValueError(
                f"layer {layer.name} expects weights of shapes {expected}, "
                f"the state dict gives {[w.shape for w in weights]}"
            )
        layer.set_weights([np.asarray(w, np.float32) for w in weights])
    return model
