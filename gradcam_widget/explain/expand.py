"""Open up composite layers whose ``call`` is a plain chain of sublayers, so maps can be cut between them.

keras_hub's ViT runs all its transformer blocks inside one ``ViTEncoder`` layer: to the layer graph the
encoder is a single call, so its blocks (where a ViT map is read) are not layers of the graph. A layer
listed here is executed as its chain of sublayers instead. Each chain is checked once against the
layer's own call on a random input (same shapes, same values to 1e-5); a chain that disagrees (another
keras_hub version, a subclass) is not used and the layer stays one opaque call. Nothing is changed on
the layer.
"""

from __future__ import annotations

import numpy as np


def _vit_encoder(layer):
    """keras_hub ``ViTEncoder.call``: dropout -> each encoder block -> final LayerNormalization."""
    blocks = getattr(layer, "encoder_layers", None)
    if not blocks or getattr(layer, "layer_norm", None) is None or getattr(layer, "dropout", None) is None:
        return None
    return [layer.dropout, *blocks, layer.layer_norm]


#: (module prefix, class name) -> function returning the layer's chain of sublayers, or None.
_CHAINS = {
    ("keras_hub.", "ViTEncoder"): _vit_encoder,
}


def chain_of(layer, input_shape) -> list | None:
    """The sublayers ``layer`` calls one after the other, checked against the layer itself, or None."""
    for (module, name), chain in _CHAINS.items():
        if type(layer).__name__ == name and type(layer).__module__.startswith(module):
            steps = chain(layer)
            if steps and _agrees(layer, steps, input_shape):
                return steps
    return None


def _agrees(layer, steps, input_shape) -> bool:
    """One random input through the layer and through its chain: same shape and values (to 1e-5)."""
    if any(d is None for d in input_shape[1:]):
        return False
    x = np.random.default_rng(0).standard_normal((1,) + tuple(input_shape[1:])).astype(np.float32)
    try:
        expected = np.asarray(layer(x, training=False))
        y = x
        for step in steps:
            y = call_step(step, y)
            if tuple(y.shape) != tuple(x.shape):  # each step keeps the token shape (see _inline)
                return False
        return expected.shape == tuple(y.shape) and np.allclose(np.asarray(y), expected, rtol=1e-5, atol=1e-5)
    except Exception:  # noqa: BLE001 - any failure means the chain is not this layer's computation
        return False


def call_step(step, x):
    """One sublayer of a chain, in inference mode."""
    return step(x, training=False)
