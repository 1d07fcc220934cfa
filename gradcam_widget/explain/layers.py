"""Find the layers a map can be computed at, and split the model there into features and head.

A layer qualifies when its output is a spatial 4-D tensor (N, h, w, c) with more than one position, or a
vision transformer's tokens (N, tokens, dim) holding a patch grid (see tokens.py), and the class scores
depend on the image only through it (it is a cut of the graph), so that
"features" (input -> A) and "head" (A -> scores) are two halves of the same computation. Nested
backbones are searched too; names may be given plain or as ``outer/inner``.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from .graph import FlatGraph, FlatNode, graph_of
from .tokens import TokenGrid, find_grid, patch_size_of, spatial_sizes

#: Layers that only move pixels (padding, cropping): their map is the previous layer's plus a border.
_RESHAPING = tuple(
    cls for cls in (getattr(keras.layers, name, None) for name in ("ZeroPadding2D", "Cropping2D")) if cls is not None
)

_POOLING = tuple(
    cls
    for cls in (
        getattr(keras.layers, name, None)
        for name in ("MaxPooling2D", "AveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling2D")
    )
    if cls is not None
)


@dataclass(frozen=True)
class LayerChoice:
    """A layer a map can be computed at."""

    name: str  # the name shown to users (plain when unique, else outer/inner)
    flat: FlatNode
    tensor: object  # the symbolic output tensor in the flattened graph
    shape: tuple  # (h, w, c) of the maps' grid
    is_pooling: bool
    grid: TokenGrid | None = None  # a token layer: where its patch tokens are (tensor is (N, T, c))
    is_reshaping: bool = False  # padding/cropping: offered, but not chosen by default

    @property
    def is_tokens(self) -> bool:
        return self.grid is not None


def _spatial_shape(tensor):
    shape = tuple(tensor.shape)
    if len(shape) != 4:
        return None
    h, w, c = shape[1:]
    if h is not None and w is not None and h * w <= 1:
        return None
    return (h, w, c)


def find_candidates(graph: FlatGraph, target=None) -> list[LayerChoice]:
    """Every layer a map can be computed at, shallow to deep (cuts towards ``target``, an output tensor;
    default: all outputs)."""
    uses: dict[int, int] = {}
    for flat in graph.nodes:
        uses[id(flat.operation)] = uses.get(id(flat.operation), 0) + 1
    cuts = graph.cut_nodes(None if target is None else [target])
    image_size, patch = tuple(graph.inputs[0].shape[1:3]), patch_size_of(graph)
    sizes = spatial_sizes(graph) if patch is None else set()
    found = []
    for flat in graph.nodes:
        if len(flat.node.outputs) != 1 or uses[id(flat.operation)] != 1:
            continue
        if ".preprocessing." in type(flat.operation).__module__:
            continue  # Rescaling, Normalization, augmentation: the image itself, not learned features
        tensor = graph.canonical(flat.node.outputs[0])
        shape, grid = _spatial_shape(tensor), None
        if shape is None and len(tensor.shape) == 3 and tensor.shape[-1] is not None:
            grid = find_grid(tensor.shape[1], image_size, patch, sizes)
            shape = None if grid is None else (grid.height, grid.width, tensor.shape[-1])
        if shape is None:
            continue
        if flat.index not in cuts:
            continue
        found.append((flat, tensor, shape, grid))
    counts: dict[str, int] = {}
    for flat, *_ in found:
        counts[flat.operation.name] = counts.get(flat.operation.name, 0) + 1
    return [
        LayerChoice(
            name=flat.operation.name if counts[flat.operation.name] == 1 else flat.name,
            flat=flat,
            tensor=tensor,
            shape=shape,
            is_pooling=isinstance(flat.operation, _POOLING),
            grid=grid,
            is_reshaping=isinstance(flat.operation, _RESHAPING),
        )
        for flat, tensor, shape, grid in found
    ]


def default_layer(candidates: list[LayerChoice]) -> LayerChoice:
    """The last spatial layer that is not a pooling layer (the output of the last conv block); a padding
    or cropping layer gives way to the layer it pads (small inputs, where the last blocks are 1 x 1)."""
    for choice in reversed(candidates):
        if not choice.is_pooling and not choice.is_reshaping:
            return choice
    for choice in reversed(candidates):
        if not choice.is_pooling:
            return choice
    raise ValueError(
        "the model has no convolutional layer with a spatial output (N, h, w, c) that the "
        "class scores depend on, so there is nothing to compute a class activation map at. "
        "Grad-CAM needs a convolutional image classifier."
    )


def resolve_layer(candidates: list[LayerChoice], name, all_layer_names) -> LayerChoice:
    """The candidate called ``name`` (plain or outer/inner), or a ValueError listing the valid ones."""
    if name is None:
        return default_layer(candidates)
    if not isinstance(name, str):
        raise TypeError(
            f"layer= must be a layer name (str), got {type(name).__name__}. Valid names: {_listing(candidates)}."
        )
    for choice in candidates:
        if name in (choice.name, choice.flat.name):
            return choice
    if name in all_layer_names:
        raise ValueError(
            f"layer {name!r} cannot be used for a class activation map: its output is not a "
            f"spatial feature map that the class scores depend on through it alone. "
            f"Use one of: {_listing(candidates)}."
        )
    raise ValueError(f"the model has no layer named {name!r}. Use one of: {_listing(candidates)}.")


def _listing(candidates) -> str:
    names = [c.name for c in candidates]
    if len(names) > 12:
        names = names[-12:]
        return "... " + ", ".join(repr(n) for n in names) + " (deepest shown; see candidate_layers)"
    return ", ".join(repr(n) for n in names) or "(none)"


# ---- where the scores come from ----------------------------------------------------------------

_PROB_ACTIVATIONS = {"softmax": "softmax", "log_softmax": "softmax", "sigmoid": "sigmoid"}


def _activation_kind(fn) -> str | None:
    name = getattr(fn, "__name__", None) or getattr(fn, "name", None)
    return _PROB_ACTIVATIONS.get(name)


@dataclass
class ScoreSource:
    """How to read pre-softmax class scores from the model's output layer."""

    target: object  # tensor of the graph to compute
    overrides: dict  # id(layer) -> callable computing that layer without its activation
    kind: str  # "softmax", "sigmoid" or "linear": what turned scores into outputs


def output_names(graph: FlatGraph) -> list[str]:
    """A name for each model output, in ``model.outputs`` order: the dict key for dict outputs, else the
    output's name in ``model.output_names`` (its layer's name)."""
    model = graph.model
    raw = list(graph_of(model).outputs)
    names = list(getattr(model, "output_names", None) or [])
    if len(names) != len(raw):
        names = [getattr(graph.producer(t), "name", f"output_{i}") for i, t in enumerate(raw)]
    struct = getattr(model, "_outputs_struct", None)
    if isinstance(struct, dict):
        by_id = {id(t): key for key, t in struct.items()}
        names = [str(by_id.get(id(t), name)) for t, name in zip(raw, names)]
    return [str(n) for n in names]


def select_output(graph: FlatGraph, output) -> int:
    """The index of the output to explain: ``output=`` as a name or index; required when there are several."""
    names = output_names(graph)
    listing = ", ".join(f"{i}: {name!r} {tuple(t.shape)}" for i, (name, t) in enumerate(zip(names, graph.outputs)))
    if output is None:
        if len(names) == 1:
            return 0
        raise ValueError(
            f"the model has {len(names)} outputs ({listing}); say which one to explain with "
            f"output= (a name or an index), e.g. output={names[0]!r}."
        )
    if isinstance(output, (bool, np.bool_)) or not isinstance(output, (str, int, np.integer)):
        raise TypeError(
            f"output= must be an output name (str) or index (int), got {type(output).__name__}. "
            f"The model's outputs: {listing}."
        )
    if isinstance(output, str):
        if output in names:
            return names.index(output)
        for i, t in enumerate(graph.outputs):  # the output layer's own name also works
            producer = graph.producer(t)
            if producer is not None and output in (producer.operation.name, producer.name):
                return i
        raise ValueError(f"the model has no output named {output!r}. Its outputs: {listing}.")
    if not -len(names) <= int(output) < len(names):
        raise ValueError(f"output={int(output)} is out of range: the model's outputs are {listing}.")
    return int(output) % len(names)


def score_source(graph: FlatGraph, index: int = 0) -> ScoreSource:
    """Locate the score before output ``index``'s final softmax/sigmoid, without modifying the model."""
    output = graph.outputs[index]
    shape = tuple(output.shape)
    if len(shape) != 2:
        raise ValueError(
            f"the model's output has shape {shape}, not (batch, classes): it does not look "
            f"like an image classifier (segmentation or detection outputs are not supported). "
            f"Explain a model whose output is one score per class."
        )
    producer = graph.producer(output)
    if producer is None:
        return ScoreSource(output, {}, "linear")
    layer = producer.operation
    if isinstance(layer, keras.layers.Softmax):
        return ScoreSource(graph.canonical(producer.node.input_tensors[0]), {}, "softmax")
    kind = _activation_kind(getattr(layer, "activation", None))
    if kind is None:
        return ScoreSource(output, {}, "linear")
    if isinstance(layer, keras.layers.Activation):
        return ScoreSource(graph.canonical(producer.node.input_tensors[0]), {}, kind)
    return ScoreSource(output, {id(layer): _without_activation(layer)}, kind)


def _without_activation(layer):
    """A callable computing ``layer`` with a linear activation, sharing its variables.

    The twin shares the layer's attributes, so it reads the same weight variables (later training or
    set_weights is seen); only its own activation attribute differs, so the user's layer is untouched.
    (``copy.copy`` would not do: Keras 3 copies a layer by saving and reloading it, weights included.)
    """
    twin = object.__new__(type(layer))
    twin.__dict__.update(layer.__dict__)
    object.__setattr__(twin, "activation", keras.activations.linear)

    def call(inputs, *args, **kwargs):
        kwargs.pop("training", None)
        return twin.call(keras.ops.cast(inputs, "float32"), *args, **kwargs)

    return call
