"""A randomisable copy of an explainer's model, for the sanity check (gradcam_widget.metrics.sanity).

The Keras part of the check lives here, so metrics never touches Keras or the explainer's internals:
the copy is ``keras.models.clone_model`` plus ``set_weights`` (the user's model is never touched), its
learned layers are listed from the output down, and re-initialising one means the state before
training: kernels drawn afresh (Glorot uniform, Keras's default, seeded), biases and BatchNorm
shifts/means 0, BatchNorm scales/variances 1. Preprocessing layers (Rescaling, Normalization) are left
as they are: they are not learned features.
"""

from __future__ import annotations

import numpy as np

_ONES = ("gamma", "moving_variance", "variance")


class RandomizedCopy:
    """The copy, its learned layers (``learned``: (graph name, layer name) pairs, output first) and
    fresh explainers of it as its weights are randomised."""

    def __init__(self, explainer, layer: str):
        import keras

        self._source, self._layer = explainer, layer
        self._model = keras.models.clone_model(explainer.model)
        self._model.set_weights(explainer.model.get_weights())
        self._layers = _learned_layers(self.explainer())
        self.learned: list[tuple[str, str]] = [(name, layer.name) for name, layer in self._layers]

    def randomize(self, index: int, seed: int) -> None:
        """Re-initialise the ``index``-th learned layer (0 = the one nearest the output)."""
        _reinitialise(self._layers[index][1], seed)

    def explainer(self):
        """A fresh eager Explainer of the copy as it is now.

        Fresh each time because the engine snapshots the output layer when it steps over its softmax
        (``copy.copy`` of a Keras layer duplicates its weights), so an Explainer built earlier would
        still see the old output weights. Eager: a few maps do not repay tracing.
        """
        source = self._source
        return type(source)(
            self._model,
            layer=self._layer,
            preprocess=source._preprocess,
            compiled=False,
            output=source.output[0],
            input_size=source._requested_size,
        )


def _learned_layers(explainer) -> list:
    """Layers with learned float weights, from the output down (nested backbones included)."""
    seen, layers = set(), []
    for flat in reversed(explainer.backend.graph.nodes):
        layer = flat.operation
        if id(layer) in seen or ".preprocessing." in type(layer).__module__:
            continue
        if any(_is_float(w) for w in getattr(layer, "weights", [])):  # an opaque nested model counts once
            seen.add(id(layer))
            layers.append((flat.name, layer))
    return layers


def _is_float(variable) -> bool:
    return "float" in str(getattr(variable, "dtype", ""))


def _reinitialise(layer, seed: int) -> None:
    """Put ``layer``'s float weights back to an untrained state (see the module docstring)."""
    import keras

    for k, variable in enumerate(layer.weights):
        if not _is_float(variable):
            continue
        shape = tuple(variable.shape)
        short = variable.name.split("/")[-1]
        if len(shape) >= 2:
            value = keras.initializers.GlorotUniform(seed=seed * 1000 + k)(shape, dtype="float32")
            value = keras.ops.convert_to_numpy(value)
        elif any(short.endswith(name) for name in _ONES):
            value = np.ones(shape, np.float32)
        else:
            value = np.zeros(shape, np.float32)
        variable.assign(np.asarray(value, np.float32))  # Keras casts to the variable's dtype
