"""The Keras 3 / TensorFlow backend of the Explainer (see :mod:`gradcam_widget.explain.backend`).

It reads the model's layer graph (:class:`~gradcam_widget.explain.graph.FlatGraph`), picks the layers
maps can be computed at, runs the programs of :mod:`programs` (traced once per (layer, method), or
eagerly, or traced in the background) and Score-CAM's masked passes (:mod:`scorecam`), and samples
the weights for the Explainer's staleness check. Caches, validation and the API are the Explainer's.
"""

from __future__ import annotations

import queue
import re
import threading
import weakref
from typing import Callable, NamedTuple

import keras
import numpy as np
import tensorflow as tf

from . import hub
from . import scorecam
from . import weights as fingerprint
from .compilation import _COMPILE_WORKERS, _compile, _compile_worker, _Counted
from .graph import FlatGraph, graph_of
from .head_ops import _summed_kernel
from .layers import LayerChoice, find_candidates, output_names, resolve_layer, score_source, select_output
from .programs import Programs

#: Names TensorFlow accepts for name scopes inside a traced function.
_SCOPE_NAME = re.compile(r"^[A-Za-z0-9_.\\/>-]*$")


class Features(NamedTuple):
    """A batch's features at one layer: ``activations`` (N, h, w, k) (tokens: (N, T, k)) and ``pooled``,
    the pooled head's vector z (see head_ops._PooledDense) or None; TensorFlow tensors."""

    activations: object
    pooled: object = None


def load_keras_model(path):
    """A saved Keras model (``.keras``/``.h5``) loaded with Keras 3, for callers outside explain/
    (the one package folder that imports Keras)."""
    return keras.models.load_model(path)


class KerasBackend:
    """One Keras model's graph, layers, programs and compiled functions."""

    def __init__(self, model, *, layer=None, output=None, compiled: bool | str = True):
        check_model(model)
        self._model = model
        self._requested_layer, self._requested_output = layer, output
        self._task_preprocess = hub.task_preprocessor(model)  # keras_hub: what predict() applies first
        self.compiled = compiled
        self.functions: dict = {}  # key -> compiled (or eager) program; also the pooled heads found
        self._pending: set = set()
        self._compile_queue: queue.SimpleQueue | None = None
        self._compile_worker = None
        self._weights_plan = None
        self.trace_count = 0
        self.graph = None
        self.programs = Programs(self)

    # ---- structure ------------------------------------------------------------------------------
    @property
    def model(self):
        return self._model

    @property
    def ready(self) -> bool:
        return self.graph is not None

    @property
    def built(self) -> bool:
        return graph_of(self._model) is not None

    def setup(self, image_shape=None):
        if self.graph is not None:
            return
        _ensure_built(self._model, image_shape)
        graph = FlatGraph(self._model)
        if len(graph.inputs) != 1:
            raise ValueError(
                f"the model has {len(graph.inputs)} inputs; gradcam-widget explains image "
                f"classifiers with a single image input."
            )
        shape = tuple(graph.inputs[0].shape)
        if len(shape) not in (3, 4):  # (N, H, W): grayscale without a channel axis
            raise ValueError(
                f"the model's input has shape {shape}; an image classifier takes "
                f"(batch, height, width, channels) or (batch, height, width)."
            )
        index = select_output(graph, self._requested_output)
        source = score_source(graph, index)
        candidates = find_candidates(graph, graph.outputs[index])
        names = {flat.operation.name for flat in graph.nodes} | {flat.name for flat in graph.nodes}
        default = resolve_layer(candidates, self._requested_layer, names)
        if self._requested_layer is None and default.is_tokens:
            default = _token_default(graph, source, candidates, default)
        if self.compiled and not all(_SCOPE_NAME.match(flat.operation.name) for flat in graph.nodes):
            # TensorFlow refuses such layer names as graph scopes (Keras' own predict() fails too);
            # the model still runs eagerly, so explain it that way rather than fail.
            self.compiled = False
        self.source, self._candidates, self._layer_names, self._default = source, candidates, names, default
        self.input_shape = shape[1:]
        self.num_outputs = int(graph.outputs[index].shape[-1])
        self.output = (index, output_names(graph)[index])
        self.graph = graph

    @property
    def score_kind(self) -> str:
        return self.source.kind

    @property
    def binary(self) -> bool:
        """One logit (sigmoid or linear): scores become [-s, s] for classes 0 and 1."""
        return self.num_outputs == 1 and self.source.kind in ("sigmoid", "linear")

    @property
    def candidates(self) -> list[LayerChoice]:
        return list(self._candidates)

    @property
    def default_layer(self) -> LayerChoice:
        return self._default

    def choice(self, layer) -> LayerChoice:
        if layer is None:
            return self._default
        return resolve_layer(self._candidates, layer, self._layer_names)

    # ---- the input side ---------------------------------------------------------------------------
    @property
    def resizes_itself(self) -> bool:
        return hub.resizes(self._model)

    def model_side(self, batch: np.ndarray) -> np.ndarray:
        """A keras_hub task's own preprocessor (``task.preprocessor``), as its ``predict()`` applies it."""
        return batch if self._task_preprocess is None else self._task_preprocess(batch)

    def visible(self, shown: np.ndarray) -> np.ndarray:
        """The part of the image the model sees (a keras_hub converter may crop to its aspect ratio)."""
        box = hub.visible_box(self._model, *shown.shape[:2])
        if box is None:
            return shown
        top, left, h, w = box
        return np.ascontiguousarray(shown[top : top + h, left : left + w])

    # ---- features -----------------------------------------------------------------------------------
    def features(self, inputs: np.ndarray, layer: LayerChoice) -> tuple[Features, np.ndarray]:
        """One forward pass of a batch: its features at ``layer`` and its scores (one dispatch)."""
        a, s, z = self.programs.features_scores_fn(layer)(tf.constant(inputs))
        return Features(a, z if z.shape[-1] else None), s.numpy()

    def split(self, features: Features, n: int) -> list[Features]:
        """One Features per image (one op, not an eager slice per image)."""
        a, z = features
        parts_a = [a] if n == 1 else tf.split(a, n)
        parts_z = ([z] if n == 1 else tf.split(z, n)) if z is not None else [None] * n
        return [Features(parts_a[i], parts_z[i]) for i in range(n)]

    def join(self, parts) -> Features:
        z = tf.concat([p.pooled for p in parts], axis=0) if parts[0].pooled is not None else None
        return Features(tf.concat([p.activations for p in parts], axis=0), z)

    def rows(self, features: Features) -> int:
        return int(features.activations.shape[0])

    def channels(self, features: Features) -> int:
        return int(features.activations.shape[-1])

    # ---- maps, per method kind ---------------------------------------------------------------------
    def first_map(self, model_input: np.ndarray, layer: LayerChoice, method):
        """A new image's features, scores and top-class map in one call, one head forward."""
        a, s, z, pre = self.programs.first_map_fn(layer, method)(tf.constant(model_input[None]))
        return Features(a, z if z.shape[-1] else None), s.numpy(), pre.numpy()

    def gradient_maps(self, features: Features, classes, against, layer: LayerChoice, method) -> np.ndarray:
        """A gradient method's maps; Grad-CAM with a pooled head through the offset shortcut."""
        a, z = features
        classes, against = tf.constant(classes, tf.int32), tf.constant(against, tf.int32)
        if method.mean_gradient_weights and z is not None:
            one_image = int(classes.shape[0]) > 1 and int(a.shape[0]) == 1
            programs = self.programs
            fn = programs.pooled_gradcam_k_fn(layer) if one_image else programs.pooled_gradcam_fn(layer)
            return fn(a, z, classes, against).numpy()
        return self.programs.cam_fn(layer, method)(a, classes, against).numpy()

    def activation_maps(self, features: Features, classes, layer: LayerChoice, method) -> np.ndarray:
        """An activations-only method's maps (one row per class; the same map for each)."""
        rows = tf.constant(classes, tf.int32)
        return self.programs.cam_fn(layer, method)(features.activations, rows, tf.fill(tf.shape(rows), -1)).numpy()

    def masked_channels(self, features: Features, row: int, count: int, layer: LayerChoice):
        return scorecam.channels(scorecam.grid_row(layer, features.activations, row), count)

    def masked_scores(self, model_input, features: Features, row: int, channels, start: int, stop: int, layer):
        ai = scorecam.grid_row(layer, features.activations, row)
        masked = scorecam.masked_inputs(model_input, ai, channels[start:stop])
        return np.asarray(self.programs.full_scores_fn(layer)(masked), dtype=np.float32)

    def combine_masked(self, features: Features, row: int, channels, target, layer: LayerChoice, method):
        ai = scorecam.grid_row(layer, features.activations, row)
        return scorecam.combine(method.resolve(), ai, channels, target)

    def full_scores(self, inputs: np.ndarray, layer: LayerChoice) -> np.ndarray:
        return np.asarray(self.programs.full_scores_fn(layer)(tf.constant(inputs)), dtype=np.float32)

    # ---- compilation ---------------------------------------------------------------------------------
    def function(self, key, build: Callable, signature):
        """The program ``key``: ``build()``'s body, traced once for ``signature`` (or eager, see
        ``compiled=``); cached, so each is built once per backend."""
        fn = self.functions.get(key)
        if fn is not None:
            return fn
        body = _Counted(build(), self)
        if not self.compiled:
            fn = body
        elif self.compiled == "background":
            if key not in self._pending:
                self._pending.add(key)
                self._compile_later(key, body, signature)
            return body  # eager until the worker has traced and run the compiled version once
        else:
            fn = _compile(body, signature)
        self.functions[key] = fn
        return fn

    def _compile_later(self, key, body, signature):
        """Queue a function for the compile worker, started once the current request is answered."""
        if self._compile_queue is None:
            self._compile_queue = queue.SimpleQueue()
        self._compile_queue.put((key, body, signature))

    def start_compiling(self):
        """Start the compile worker (one daemon thread per backend, while it has work) if work is queued.
        Called after a request's maps are computed, so tracing never slows the answer it would speed up."""
        if self._compile_queue is None or self._compile_queue.empty():
            return
        worker = self._compile_worker
        if worker is None or not worker.is_alive():
            self._compile_worker = threading.Thread(
                target=_compile_worker, args=(weakref.ref(self),), name="gradcam-widget-compile", daemon=True
            )
            _COMPILE_WORKERS.add(self._compile_worker)
            self._compile_worker.start()

    def wait_compiled(self, timeout: float | None = None) -> bool:
        worker = self._compile_worker
        if worker is not None:
            worker.join(timeout)
            return not worker.is_alive()
        return True

    # ---- weights ---------------------------------------------------------------------------------------
    def weights_sample(self) -> bytes:
        """A strided sample of every weight (see :mod:`weights`): traced once it is compiled."""
        key = ("weights-fingerprint",)
        traced = self.functions.get(key)
        if traced is not None:
            return np.asarray(traced()).tobytes()
        if self._weights_plan is None:  # model.weights walks every layer: once
            self._weights_plan = fingerprint.sample_plan(self._model)
        plan = self._weights_plan
        if self.compiled and key not in self._pending:  # not counted in trace_count: not the model's code
            self._pending.add(key)
            self._compile_later(key, fingerprint.traced_sample(plan), [])
            self.start_compiling()
        return fingerprint.eager_sample(plan).tobytes()

    def optimizer_steps(self) -> bytes:
        return fingerprint.optimizer_steps(self._model)

    def forget_weight_results(self):
        """Re-sum the pooled heads' kernels (variables, so nothing is retraced)."""
        for key, pd in list(self.functions.items()):
            if key[0] == "pooled-dense" and pd is not None and pd.w_sum is not None:
                pd.w_sum.assign(_summed_kernel(pd.dense, *pd.shape))

    def randomized_copy(self, explainer, layer: str):
        from .randomize import RandomizedCopy

        return RandomizedCopy(explainer, layer)


def check_model(model):
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        raise TypeError(
            f"model must be a Keras model object, got the {type(model).__name__} {str(model)!r}. "
            f"Load it first: keras.saving.load_model(path)."
        )
    if not isinstance(model, keras.Model):
        _check_not_keras2(model)
        if callable(model):
            raise TypeError(
                f"model must be a Keras model (keras.Model), got a {type(model).__name__}. A plain "
                f"function has no layers to explain; wrap your network in a keras.Model."
            )
        raise TypeError(f"model must be a Keras model (keras.Model), got {type(model).__name__}.")


def _check_not_keras2(model):
    """Keras 2 (``tf_keras``, or ``tf.keras`` with TF_USE_LEGACY_KERAS=1) and bare SavedModels: say what
    they are and how to get a Keras 3 model, instead of "not a Keras model".

    Why not read them: the engine executes Keras 3's layer graph (nodes, operations, layer classes);
    Keras 2 has a different one, and its .h5 / .keras files load in Keras 3 as they are.
    """
    modules = [cls.__module__ for cls in type(model).__mro__]
    if any(m.startswith(("tf_keras.", "keras.engine.", "keras.src.engine.")) for m in modules):
        raise TypeError(
            f"this is a Keras 2 model ({type(model).__module__}.{type(model).__name__}, from tf_keras "
            f"or tf.keras with TF_USE_LEGACY_KERAS); gradcam-widget reads Keras 3 models. Save it "
            f"(model.save('model.h5')) and load the same file in Keras 3: "
            f"keras.models.load_model('model.h5'). A SavedModel directory loads in Keras 3 only as "
            f"keras.layers.TFSMLayer(path, call_endpoint='serving_default'), an opaque call with no "
            f"layers to explain: load the .h5/.keras file of the model instead."
        )
    if type(model).__name__ == "TFSMLayer":
        raise TypeError(
            "model is a keras.layers.TFSMLayer: an opaque SavedModel call with no layers to "
            "explain. Load the model's .keras or .h5 file with keras.models.load_model(path) "
            "instead."
        )
    if hasattr(model, "signatures") and not hasattr(model, "layers"):
        raise TypeError(
            f"model is a TensorFlow SavedModel ({type(model).__name__}, from tf.saved_model.load): "
            f"an opaque function with no layers to explain. Load the model's .keras or .h5 file "
            f"with keras.models.load_model(path) instead."
        )


def _ensure_built(model, image_shape):
    """A Sequential model never called has no graph yet; build it as its first call would."""
    if graph_of(model) is not None:
        return
    if isinstance(model, keras.Sequential) and image_shape is not None:
        if not model.layers:
            raise ValueError("the Sequential model has no layers.")
        model.build((None,) + tuple(image_shape))
        if graph_of(model) is not None:
            return
    if isinstance(model, keras.Sequential):
        raise ValueError(
            "the Sequential model has not been built and gradcam-widget cannot tell its input "
            "shape. Start it with keras.Input(shape=(height, width, channels)) or call "
            "model.build((None, height, width, channels))."
        )
    raise ValueError(
        f"the model ({type(model).__name__}) has no layer graph to read: subclassed models "
        f"cannot be split at a layer. Build it with the functional API or Sequential."
    )


def _token_default(graph, source, candidates, fallback):
    """The deepest token layer whose patch tokens reach the score (vision transformers).

    With a class-token head, the last blocks' outputs reach the head only through the class token: every
    patch gradient there is exactly zero and the map would be empty. One probe (a random image, the
    gradient of the summed scores) tells which layers' patch tokens the scores depend on; structural
    zeros are exact, so the test is ``!= 0``. A conv layer deeper than every token layer is kept.
    """
    model_input = graph.inputs[0]
    shape = [1] + [32 if d is None else int(d) for d in model_input.shape[1:]]
    x = tf.cast(tf.random.stateless_normal(shape, seed=(0, 0)), model_input.dtype)
    for choice in reversed(candidates):
        if choice.is_pooling:
            continue
        if not choice.is_tokens:
            return choice
        try:
            tokens = graph.run({model_input: x}, [choice.tensor])[0]
            with tf.GradientTape() as tape:
                tape.watch(tokens)
                scores = graph.run({choice.tensor: tokens}, [source.target], source.overrides)[0]
                total = tf.reduce_sum(tf.cast(scores, tf.float32))
            patches = choice.grid.to_grid(tape.gradient(total, tokens))
        except Exception:  # noqa: BLE001 - a probe that cannot run decides nothing
            return fallback
        if patches is not None and bool(tf.reduce_any(tf.not_equal(patches, 0.0))):
            return choice
    return fallback
