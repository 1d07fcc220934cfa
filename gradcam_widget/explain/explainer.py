"""The Explainer: one model, many maps, with the expensive part done once per image.

The forward pass from the image to the target layer's activations A is run once per image and cached
(bounded LRU). A class switch then costs only the head (A -> scores) forward and backward; several
classes are done in one batched backward pass. Each tf.function is traced once per (layer, method)
with a batch-agnostic signature, so interactive use never retraces.
"""

from __future__ import annotations

import hashlib
import queue
import re
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf
import keras

from .. import images as imgs
from . import hub
from .graph import FlatGraph, graph_of
from .layers import LayerChoice, find_candidates, output_names, resolve_layer, score_source, select_output
from .methods import get_method
from .results import CamMap, Scores, make_cam_map
from . import weights as fingerprint
from .. import kernel_hooks
from .compilation import _COMPILE_WORKERS, _compile, _compile_worker, _Counted
from .head_ops import (
    _as_grid,
    _find_pooled_dense,
    _offset_scores,
    _pooled_gradcam,
    _positions,
    _summed_kernel,
    _target_scores,
)


class Cancelled(Exception):
    """A long computation was stopped because its ``cancel()`` callback said so."""


def _check_cancel(cancel):
    if cancel is not None and cancel():
        raise Cancelled("the computation was cancelled (a newer request superseded it)")


#: Names TensorFlow accepts for name scopes inside a traced function.
_SCOPE_NAME = re.compile(r"^[A-Za-z0-9_.\\/>-]*$")


def _same_size_groups(arrays) -> list[list[int]]:
    """Indices of the arrays grouped by shape, in order of first appearance (an any-size model takes
    images of different sizes, but one batch holds one size)."""
    groups: dict = {}
    for i, array in enumerate(arrays):
        groups.setdefault(tuple(array.shape), []).append(i)
    return list(groups.values())


@dataclass(frozen=True)
class PreparedImage:
    """An image ready for the model: the picture to show and the exact model input."""

    display: np.ndarray  # uint8 H x W x 3 to show (longest side capped); never fed to the model
    model_input: np.ndarray  # float32, one model input: resized if needed, preprocessed
    key: str  # content hash of model_input: the cache key
    pixels: np.ndarray | None = None  # model_input before preprocess= (perturbation metrics)
    note: str = ""  # how ``display`` was derived when it is not the values as they are


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


def _check_input_size(size):
    """``input_size=``: None or (height, width) of positive ints."""
    if size is None:
        return None
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size, size)
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in size)
    ):
        raise ValueError(f"input_size= must be (height, width) in pixels, two positive ints, got {size!r}.")
    return (int(size[0]), int(size[1]))


def _check_model(model):
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


class Explainer:
    """Class activation maps of one Keras image classifier.

    ``layer``: the layer to compute maps at (default: the output of the last convolutional block, also
    inside a nested backbone). ``preprocess``: the model's input function (e.g.
    ``keras.applications.vgg16.preprocess_input``), applied to each image as the model would get it
    otherwise (arrays as given, pictures RGB 0..255; see :mod:`gradcam_widget.images`).
    ``cache_size``: images whose features are kept. ``scorecam_channels``: channels Score-CAM masks
    with (the highest-variance ones, as Faster Score-CAM). ``compiled=False`` runs eagerly (no tracing
    cost; better for one-off calls). ``compiled="background"`` answers eagerly at once and traces the
    compiled functions on a worker thread, using each as soon as it is ready (interactive use).
    A keras_hub task's ``preprocessor`` is applied as its ``predict()`` does (after ``preprocess``).
    ``output``: for a model with several outputs, the one to explain (its name or index; required
    then). ``input_size``: (height, width) to resize images to for a model that accepts any size
    (default: each image at its own size).
    """

    def __init__(
        self,
        model,
        layer=None,
        preprocess=None,
        *,
        cache_size: int = 16,
        scorecam_channels: int | None = 64,
        batch_size: int = 32,
        compiled: bool | str = True,
        input_shape=None,
        input_size=None,
        output=None,
    ):
        _check_model(model)
        self._requested_output = output
        self._task_preprocess = hub.task_preprocessor(model)  # keras_hub: what predict() applies first
        self._requested_size = _check_input_size(input_size)
        if preprocess is not None and not callable(preprocess):
            raise TypeError(
                f"preprocess= must be a function applied to the image batch (e.g. "
                f"keras.applications.vgg16.preprocess_input), got {type(preprocess).__name__}."
            )
        if scorecam_channels is not None and (not isinstance(scorecam_channels, int) or scorecam_channels < 1):
            raise ValueError(f"scorecam_channels must be a positive int or None, got {scorecam_channels!r}.")
        self._model = model
        self._preprocess = preprocess
        self._cache_size = max(1, int(cache_size))
        self._scorecam_channels = scorecam_channels
        self._batch_size = max(1, int(batch_size))
        self._compiled = compiled
        self._requested_layer = layer
        self._cache: OrderedDict = OrderedDict()
        self._cache_lock = threading.Lock()  # the widget's worker threads share the cache
        self._masked_scores: OrderedDict = OrderedDict()  # Score-CAM's masked passes, per (layer, image)
        self.masked_pass_count = 0  # masked images run through the model by Score-CAM (tests count them)
        self._weights_lock = threading.Lock()
        self._fingerprint: bytes | None = None  # what the cached results were computed with
        self._checked = None  # (cells run, optimizer steps) at the last full check
        self._weights_plan = None
        kernel_hooks.install()
        self._weights_version = 0
        self._functions: dict = {}
        self._pending: set = set()
        self._compile_queue: queue.SimpleQueue | None = None
        self.trace_count = 0
        self._graph = None
        if graph_of(model) is not None or input_shape is not None:
            self._setup(input_shape)

    # ---- model structure --------------------------------------------------------------------
    def _setup(self, image_shape=None):
        if self._graph is not None:
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
        self._graph, self._source, self._candidates, self._layer_names = graph, source, candidates, names
        self._default = default
        self._input_shape = shape[1:]
        fixed = tuple(shape[1:3])
        if self._requested_size is not None and None not in fixed and fixed != self._requested_size:
            raise ValueError(
                f"input_size={self._requested_size} but the model takes {fixed[0]}x{fixed[1]} "
                f"images; input_size= is for models that accept any size (None in their input "
                f"shape). Leave it out: images are resized to the model's size."
            )
        if self._compiled and not all(_SCOPE_NAME.match(flat.operation.name) for flat in graph.nodes):
            # TensorFlow refuses such layer names as graph scopes (Keras' own predict() fails too);
            # the model still runs eagerly, so explain it that way rather than fail.
            self._compiled = False
        self._num_outputs = int(graph.outputs[index].shape[-1])
        self._output = (index, output_names(graph)[index])

    def _require_setup(self):
        if self._graph is None:
            raise ValueError(
                "the model is not built yet, so its layers are unknown. Pass an image to "
                "scores()/cam() first, or give input_shape=(height, width, channels)."
            )

    @property
    def model(self):
        return self._model

    @property
    def output(self) -> tuple[int, str]:
        """(index, name) of the model output being explained (``output=``; the only one by default)."""
        self._require_setup()
        return self._output

    @property
    def layer_name(self) -> str:
        self._require_setup()
        return self._default.name

    @property
    def candidate_layers(self) -> list[str]:
        self._require_setup()
        return [c.name for c in self._candidates]

    @property
    def num_classes(self) -> int:
        self._require_setup()
        return 2 if self._binary else self._num_outputs

    @property
    def _binary(self) -> bool:
        return self._num_outputs == 1 and self._source.kind in ("sigmoid", "linear")

    @property
    def multi_label(self) -> bool:
        """True for a head of several sigmoid units: each unit is a class with its own probability."""
        self._require_setup()
        return self._source.kind == "sigmoid" and not self._binary

    @property
    def cache_size(self) -> int:
        """How many images' features are kept (a batch that fits reuses its forward pass for its maps)."""
        return self._cache_size

    def scores_cached(self, prepared, *, layer=None) -> Scores:
        """Scores (N, C) of prepared images from one forward pass whose features stay cached, so
        their maps at ``layer`` need no second forward pass (keep N within :attr:`cache_size`)."""
        prepared = self.prepare_batch(prepared)
        _, logits = self._features(prepared, self._choice(layer))
        logits = np.asarray(logits, dtype=np.float32)
        return Scores(logits, np.stack([self._probabilities(row) for row in logits]))

    @property
    def input_size(self):
        """(height, width) images are resized to: the model's, or ``input_size=`` for an any-size model
        (None: each image keeps its own size)."""
        self._require_setup()
        h, w = self._input_shape[:2]
        return self._requested_size if h is None or w is None else (int(h), int(w))

    def layer_shape(self, layer=None) -> tuple:
        """(h, w, channels) of the maps at ``layer``."""
        return self._choice(layer).shape

    def _choice(self, layer) -> LayerChoice:
        self._require_setup()
        if layer is None:
            return self._default
        return resolve_layer(self._candidates, layer, self._layer_names)

    # ---- images -------------------------------------------------------------------------------
    def randomized_copy(self, layer: str | None = None):
        """A copy of the model whose learned layers can be re-initialised one by one, with fresh
        explainers of it at ``layer`` (the sanity check's; the model itself is never touched)."""
        from .randomize import RandomizedCopy

        return RandomizedCopy(self, self.layer_name if layer is None else layer)

    def prepare(self, image) -> PreparedImage:
        """Load, resize and preprocess one image (the input rule: :mod:`gradcam_widget.images`)."""
        if isinstance(image, PreparedImage):
            return image
        return self._prepare([imgs.load(image)])[0]

    def prepare_batch(self, images) -> list[PreparedImage]:
        if isinstance(images, PreparedImage):
            return [images]
        if isinstance(images, (list, tuple)) and images and all(isinstance(i, PreparedImage) for i in images):
            return list(images)
        rank = None if self._graph is None else len(self._input_shape)
        return self._prepare(imgs.load_batch(images, rank))

    def model_pixels(self, image) -> np.ndarray:
        """One image as the model gets it before ``preprocess=``: resized if needed, float32, shaped
        as one model input (the array's own values; pictures RGB 0..255).

        Perturbation metrics change these values, then score them with :meth:`scores_of_pixels`.
        """
        if isinstance(image, PreparedImage):
            if image.pixels is None:
                raise TypeError("got a PreparedImage without its pixels. Pass the original image.")
            return image.pixels.copy()
        return self._to_model([imgs.load(image)])[0]

    def model_pixels_batch(self, images) -> np.ndarray:
        """Several images (a list, or a batch array/tensor) as one batch of :meth:`model_pixels`."""
        if isinstance(images, (list, tuple)) and images and all(isinstance(i, PreparedImage) for i in images):
            return np.stack([self.model_pixels(i) for i in images])
        rank = None if self._graph is None else len(self._input_shape)
        return self._to_model(imgs.load_batch(images, rank))

    def _fit_shape(self) -> tuple:
        """The input shape images are fitted to: the model's, or ``input_size=`` for an any-size model
        (None sides: each image keeps its size); a keras_hub converter resizes by itself."""
        size = None if hub.resizes(self._model) else self.input_size
        return tuple(size or (None, None)) + tuple(self._input_shape[2:])

    def _to_model_each(self, inputs) -> list[np.ndarray]:
        """Loaded images as the model gets them before ``preprocess=``: float32, one array each."""
        if self._graph is None:  # a Sequential never called: build it as model.predict would
            first = inputs[0].values
            self._setup(first.shape if inputs[0].kind != imgs.PICTURE else first.shape[:2] + (3,))
        shape = self._fit_shape()
        return [imgs.to_model(image, shape).astype(np.float32) for image in inputs]

    def _to_model(self, inputs) -> np.ndarray:
        """:meth:`_to_model_each` as one float32 batch (the images must share a size)."""
        resized = self._to_model_each(inputs)
        if len({r.shape for r in resized}) > 1:
            raise ValueError(
                "the images have different sizes and the model accepts any size, so they "
                "cannot form one batch. Explain them one at a time, or resize them first."
            )
        return np.stack(resized)

    def _model_side(self, batch: np.ndarray) -> np.ndarray:
        """A keras_hub task's own preprocessor (``task.preprocessor``), as its ``predict()`` applies it."""
        return batch if self._task_preprocess is None else self._task_preprocess(batch)

    def _visible(self, shown: np.ndarray) -> np.ndarray:
        """The part of the image the model sees (a keras_hub converter may crop to its aspect ratio)."""
        box = hub.visible_box(self._model, *shown.shape[:2])
        if box is None:
            return shown
        top, left, h, w = box
        return np.ascontiguousarray(shown[top : top + h, left : left + w])

    def _prepare(self, inputs) -> list[PreparedImage]:
        pixels = self._to_model_each(inputs)
        batch = [None] * len(pixels)
        for group in _same_size_groups(pixels):  # preprocess= sees one batch per image size
            for i, x in zip(group, self._model_side(self._apply_preprocess(np.stack([pixels[i] for i in group])))):
                batch[i] = x
        out = []
        for image, x, p in zip(inputs, batch, pixels):
            digest = hashlib.blake2b(x.tobytes(), digest_size=16)
            digest.update(str(x.shape).encode())
            shown, note = imgs.display_for_model(image, self._input_shape)
            out.append(PreparedImage(self._visible(shown), x, digest.hexdigest(), p, note))
        return out

    def _apply_preprocess(self, batch: np.ndarray) -> np.ndarray:
        if self._preprocess is None:
            return batch
        try:
            result = self._preprocess(batch.copy())
        except Exception as err:  # the user's function: report it, whatever it raised
            raise ValueError(
                f"preprocess= raised {type(err).__name__}: {err}. It is called with a float32 "
                f"batch of shape {batch.shape}: the images' own values (pictures: RGB 0..255), "
                f"resized to the model's input."
            ) from err
        result = np.asarray(result.numpy() if hasattr(result, "numpy") else result)
        if result.shape != batch.shape:
            raise ValueError(
                f"preprocess= returned shape {result.shape}, expected {batch.shape} (the same "
                f"batch, values transformed). Resizing is done by gradcam-widget."
            )
        if result.dtype.kind not in "fiu":
            raise TypeError(f"preprocess= returned dtype {result.dtype}; it must return numbers.")
        result = result.astype(np.float32)
        if not np.all(np.isfinite(result)):
            raise ValueError("preprocess= returned NaN or infinite values.")
        return result

    # ---- compiled pieces ----------------------------------------------------------------------
    def _function(self, key, build: Callable, signature):
        fn = self._functions.get(key)
        if fn is not None:
            return fn
        body = _Counted(build(), self)
        if not self._compiled:
            fn = body
        elif self._compiled == "background":
            if key not in self._pending:
                self._pending.add(key)
                self._compile_later(key, body, signature)
            return body  # eager until the worker has traced and run the compiled version once
        else:
            fn = _compile(body, signature)
        self._functions[key] = fn
        return fn

    def _compile_later(self, key, body, signature):
        """Queue a function for the compile worker, started once the current request is answered."""
        if self._compile_queue is None:
            self._compile_queue = queue.SimpleQueue()
        self._compile_queue.put((key, body, signature))

    def _start_compiling(self):
        """Start the compile worker (one daemon thread per explainer, while it has work) if work is queued.
        Called after a request's maps are computed, so tracing never slows the answer it would speed up."""
        if self._compile_queue is None or self._compile_queue.empty():
            return
        worker = getattr(self, "_compile_worker", None)
        if worker is None or not worker.is_alive():
            self._compile_worker = threading.Thread(
                target=_compile_worker, args=(weakref.ref(self),), name="gradcam-widget-compile", daemon=True
            )
            _COMPILE_WORKERS.add(self._compile_worker)
            self._compile_worker.start()

    def wait_compiled(self, timeout: float | None = None) -> bool:
        """Block until the background compilation queued so far is done (True) or ``timeout`` passed."""
        worker = getattr(self, "_compile_worker", None)
        if worker is not None:
            worker.join(timeout)
            return not worker.is_alive()
        return True

    def _x_spec(self):
        return tf.TensorSpec((None,) + tuple(self._input_shape), tf.float32)

    def _a_spec(self, choice):
        return tf.TensorSpec((None,) + tuple(choice.tensor.shape[1:]), tf.float32)  # tokens: (T, dim)

    def _features_fn(self, choice):
        graph, model_input = self._graph, self._graph.inputs[0]
        dtype = model_input.dtype

        def build():
            def features(x):
                a = graph.run({model_input: tf.cast(x, dtype)}, [choice.tensor])[0]
                return tf.cast(a, tf.float32)

            return features

        return self._function(("features", choice.name), build, [self._x_spec()])

    def _head(self, choice):
        graph, source, binary = self._graph, self._source, self._binary

        def head(a):
            s = graph.run({choice.tensor: a}, [source.target], source.overrides)[0]
            s = tf.cast(s, tf.float32)
            if binary:  # one logit: class 1 = evidence for, class 0 = evidence against
                s = tf.concat([-s, s], axis=-1)
            return s

        return head

    def _scores_fn(self, choice):
        def build():
            return self._head(choice)

        return self._function(("scores", choice.name), build, [self._a_spec(choice)])

    def _pooled_dense(self, choice):
        key = ("pooled-dense", choice.name)
        if choice.is_tokens:
            return None  # token layers have no pooling shortcut
        if key not in self._functions:
            self._functions[key] = _find_pooled_dense(self._graph, choice, self._source)
        return self._functions[key]

    def _dense_scores(self, choice, pd):
        """(z: the Dense pre-activation, y: activation(z)) -> class scores (the rest of the head)."""
        graph, source, binary = self._graph, self._source, self._binary

        def scores_from(y):
            s = tf.cast(graph.run({pd.inject: y}, [source.target], source.overrides)[0], tf.float32)
            return tf.concat([-s, s], axis=-1) if binary else s

        return scores_from

    def _features_scores_fn(self, choice):
        """x -> (A, scores, z) in one call: a new image costs one dispatch. z is the pre-activation of a
        pooled Flatten->Dense head (see _PooledDense), else an empty placeholder."""
        graph, model_input, head = self._graph, self._graph.inputs[0], self._head(choice)
        dtype = model_input.dtype
        pd = self._pooled_dense(choice)
        scores_from = self._dense_scores(choice, pd) if pd is not None else None

        def build():
            def features_scores(x):
                a = tf.cast(graph.run({model_input: tf.cast(x, dtype)}, [choice.tensor])[0], tf.float32)
                if pd is None:
                    return a, head(a), tf.zeros((tf.shape(a)[0], 0))
                z = tf.cast(graph.run({choice.tensor: a}, [pd.source])[0], tf.float32)
                if pd.dense is None:  # global pooling: z is the pooled vector
                    return a, scores_from(z), z
                z = tf.matmul(z, tf.cast(pd.dense.kernel, tf.float32))
                if pd.dense.use_bias:
                    z = z + tf.cast(pd.dense.bias, tf.float32)
                return a, scores_from(pd.dense.activation(z)), z

            return features_scores

        return self._function(("features+scores", choice.name), build, [self._x_spec()])

    def _first_map_fn(self, choice, method):
        """x -> (A, scores, z, map of the top class) in one call, with one head forward (gradient methods).
        With a pooled head and Grad-CAM, through the offset shortcut (see _PooledDense)."""
        graph, model_input, head = self._graph, self._graph.inputs[0], self._head(choice)
        dtype = model_input.dtype
        pd = self._pooled_dense(choice) if method.mean_gradient_weights else None
        features_scores = self._features_scores_fn(choice) if pd is not None else None
        scores_from = self._dense_scores(choice, pd) if pd is not None else None

        def build():
            def first_map(x):
                if pd is not None:
                    a, scores, z = features_scores(x)
                    top = tf.argmax(scores, axis=-1, output_type=tf.int32)
                    offset = tf.zeros((tf.shape(a)[0], tf.shape(a)[-1]))
                    with tf.GradientTape() as tape:
                        tape.watch(offset)
                        picked = tf.gather(_offset_scores(pd, scores_from, z, offset), top[:, None], batch_dims=1)
                    weights = tape.gradient(picked, offset) / _positions(a)
                    return a, scores, z, tf.einsum("nk,nhwk->nhw", weights, a)
                a = tf.cast(graph.run({model_input: tf.cast(x, dtype)}, [choice.tensor])[0], tf.float32)
                with tf.GradientTape() as tape:
                    tape.watch(a)
                    scores = head(a)
                    top = tf.argmax(scores, axis=-1, output_type=tf.int32)
                    picked = tf.gather(scores, top[:, None], batch_dims=1)
                gradients = tf.cast(tape.gradient(picked, a), tf.float32)
                maps = method.function(_as_grid(choice, a), _as_grid(choice, gradients))
                return a, scores, tf.zeros((tf.shape(a)[0], 0)), maps

            return first_map

        return self._function(("first", choice.name, method.name), build, [self._x_spec()])

    def _cam_fn(self, choice, method):
        head = self._head(choice)

        def build():
            def run(a, classes, against):
                # One image for k classes (Explainer.cams) is repeated here, not by an eager concat.
                a = tf.repeat(a, tf.shape(classes)[0] // tf.shape(a)[0], axis=0)
                if not method.needs_gradients:
                    return method.function(_as_grid(choice, a), None)
                with tf.GradientTape() as tape:
                    tape.watch(a)
                    scores = head(a)
                    picked = _target_scores(scores, classes, against)
                gradients = tf.cast(tape.gradient(picked, a), tf.float32)
                return method.function(_as_grid(choice, a), _as_grid(choice, gradients))

            return run

        spec = [self._a_spec(choice), tf.TensorSpec((None,), tf.int32), tf.TensorSpec((None,), tf.int32)]
        return self._function(("cam", choice.name, method.name), build, spec)

    def _pooled_gradcam_fn(self, choice):
        """(A, z, classes, against) -> Grad-CAM maps through the pooling-offset shortcut (see _PooledDense)."""
        pd = self._pooled_dense(choice)
        scores_from = self._dense_scores(choice, pd)

        def build():
            return lambda a, z, classes, against: _pooled_gradcam(pd, scores_from, a, z, classes, against)

        spec = [
            self._a_spec(choice),
            tf.TensorSpec((None, None), tf.float32),
            tf.TensorSpec((None,), tf.int32),
            tf.TensorSpec((None,), tf.int32),
        ]
        return self._function(("pooled-gradcam", choice.name), build, spec)

    def _pooled_gradcam_k_fn(self, choice):
        """One image, k classes: one forward of the head, the k backward passes vectorised (jacobian)."""
        pd = self._pooled_dense(choice)
        scores_from = self._dense_scores(choice, pd)

        def build():
            def run(a, z, classes, against):
                if not tf.inside_function():  # eager: the jacobian's pfor would trace a function per call
                    return _pooled_gradcam(pd, scores_from, a, z, classes, against)
                offset = tf.zeros((1, tf.shape(a)[-1]))
                with tf.GradientTape() as tape:
                    tape.watch(offset)
                    scores = _offset_scores(pd, scores_from, z, offset)[0]
                    other = tf.where(against >= 0, tf.gather(scores, tf.maximum(against, 0)), 0.0)
                    picked = tf.gather(scores, classes) - other
                weights = tape.jacobian(picked, offset)[:, 0] / _positions(a)
                return tf.einsum("nk,hwk->nhw", weights, a[0])

            return run

        spec = [
            self._a_spec(choice),
            tf.TensorSpec((None, None), tf.float32),
            tf.TensorSpec((None,), tf.int32),
            tf.TensorSpec((None,), tf.int32),
        ]
        return self._function(("pooled-gradcam-k", choice.name), build, spec)

    def _full_scores_fn(self, choice):
        features = self._features_fn(choice)
        head = self._head(choice)

        def build():
            return lambda x: head(features(x))

        return self._function(("full", choice.name), build, [self._x_spec()])

    # ---- cached features ----------------------------------------------------------------------
    def _features(self, prepared: list[PreparedImage], choice) -> tuple:
        """Activations (N,h,w,k) and scores (N,C) for prepared images, from cache where possible."""
        a, s, _ = self._features_z(prepared, choice)
        return a, s

    def _features_z(self, prepared: list[PreparedImage], choice) -> tuple:
        """Activations (N,h,w,k) and scores (N,C) for prepared images, from cache where possible."""
        self._sync_weights()
        found = {}
        with self._cache_lock:
            for p in prepared:
                entry = self._cache.get((choice.name, p.key))
                if entry is not None:
                    self._cache.move_to_end((choice.name, p.key))
                    found[p.key] = entry
        unique = list({p.key: p for p in prepared if p.key not in found}.values())
        if unique:
            features_scores = self._features_scores_fn(choice)
        for start in range(0, len(unique), self._batch_size):
            chunk = unique[start : start + self._batch_size]
            a, s, z = features_scores(tf.constant(np.stack([p.model_input for p in chunk])))
            s = s.numpy()
            entries = self._store(chunk, a, s, choice, z)
            if len(chunk) == len(prepared) and [p.key for p in chunk] == [p.key for p in prepared]:
                return a, s, (z if z.shape[-1] else None)  # a fresh batch: no slicing and re-concatenating
            found.update(zip((p.key for p in chunk), entries))
        if len({p.key for p in prepared}) == 1:  # one image (perhaps for several classes): A not copied,
            a, s, z = found[prepared[0].key]  # the compiled functions repeat it (see _cam_fn)
            return a, np.repeat(s[None], len(prepared), axis=0), z
        entries = [found[p.key] for p in prepared]
        z = tf.concat([e[2] for e in entries], axis=0) if entries[0][2] is not None else None
        return tf.concat([e[0] for e in entries], axis=0), np.stack([e[1] for e in entries]), z

    def _store(self, chunk, a, s, choice, z=None):
        if not np.all(np.isfinite(s)):
            raise FloatingPointError(
                "the model produced NaN or infinite class scores for this image. "
                "Check the image values and preprocess=."
            )
        n, has_z = len(chunk), z is not None and z.shape[-1] > 0
        parts_a = [a] if n == 1 else tf.split(a, n)  # one op, not an eager slice per image
        parts_z = ([z] if n == 1 else tf.split(z, n)) if has_z else [None] * n
        entries = [(parts_a[i], s[i], parts_z[i]) for i in range(n)]
        with self._cache_lock:
            for p, entry in zip(chunk, entries):
                self._cache[(choice.name, p.key)] = entry
                self._cache.move_to_end((choice.name, p.key))
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return entries

    def clear_cache(self):
        """Forget cached features and re-read what the engine derives from the weights.

        Call it after training the model further (cached features and VGG-style heads' summed
        fc1 kernel were computed with the old weights); features are also evicted automatically,
        oldest first.
        """
        with self._weights_lock:
            self._forget_weight_results()
            self._fingerprint = None  # the next call records the weights as they are now
            self._weights_version += 1

    def _forget_weight_results(self):
        with self._cache_lock:
            self._cache.clear()
            self._masked_scores.clear()
        for key, pd in list(self._functions.items()):
            if key[0] == "pooled-dense" and pd is not None and pd.w_sum is not None:
                pd.w_sum.assign(_summed_kernel(pd.dense, *pd.shape))

    @property
    def weights_version(self) -> int:
        """A counter bumped each time the model's weights are seen to have changed (``model.fit``,
        ``set_weights``, ``assign``); results computed under another version are out of date."""
        self._require_setup()
        return self._sync_weights()

    def check_weights(self) -> int:
        """Read the weights' fingerprint now and return :attr:`weights_version`. In a notebook, calls
        made between cells trust the check made after the last cell (plus the optimizer's step
        counter); call this after code outside a cell (a widget callback) changed weights by hand."""
        self._require_setup()
        return self._sync_weights(full=True)

    def _sync_weights(self, full: bool = False) -> int:
        """Compare the weights' fingerprint with the one the caches were filled under; on a change,
        forget everything derived from the old weights (features, Score-CAM passes, summed kernels).

        In a notebook, between cells (clicks in a widget) no user code runs, so once the weights were
        checked after a cell only the optimizer's step counter is read (a training thread)."""
        with self._weights_lock:
            epoch, steps = kernel_hooks.quiet_epoch(), fingerprint.optimizer_steps(self._model)
            if not full and epoch is not None and self._checked == (epoch, steps) and self._fingerprint is not None:
                return self._weights_version
            current = steps + self._weights_sample()
            if self._fingerprint is None:
                self._fingerprint = current
            elif current != self._fingerprint:
                self._forget_weight_results()
                self._fingerprint = current
                self._weights_version += 1
            self._checked = (epoch, steps)
            return self._weights_version

    def _weights_sample(self) -> bytes:
        key = ("weights-fingerprint",)
        traced = self._functions.get(key)
        if traced is not None:
            return np.asarray(traced()).tobytes()
        if self._weights_plan is None:  # model.weights walks every layer: once
            self._weights_plan = fingerprint.sample_plan(self._model)
        plan = self._weights_plan
        if self._compiled and key not in self._pending:  # not counted in trace_count: not the model's code
            self._pending.add(key)
            self._compile_later(key, fingerprint.traced_sample(plan), [])
            self._start_compiling()
        return fingerprint.eager_sample(plan).tobytes()

    # ---- public API ----------------------------------------------------------------------------
    def scores(self, image, *, layer=None) -> Scores:
        """Pre-softmax scores and probabilities of one image."""
        prepared = self.prepare(image)
        _, s = self._features([prepared], self._choice(layer))
        return Scores(s[0].copy(), self._probabilities(s[0]))

    def scores_batch(self, images) -> Scores:
        """Scores of many images at once: logits and probabilities, each (N, C).

        For dataset-scale predictions: one compiled pass per batch, nothing cached (the feature cache
        is for images you look at).
        """
        inputs = [p.model_input for p in self.prepare_batch(images)]
        groups = _same_size_groups(inputs)
        if len(groups) == 1:
            return self._scores_of_inputs(np.stack(inputs))
        logits = np.zeros((len(inputs), self.num_classes), np.float32)  # any-size model: one pass per size
        probabilities = np.zeros_like(logits)
        for group in groups:
            part = self._scores_of_inputs(np.stack([inputs[i] for i in group]))
            logits[group], probabilities[group] = part.logits, part.probabilities
        return Scores(logits, probabilities)

    def scores_of_pixels(self, pixels: np.ndarray) -> Scores:
        """Scores of a batch of model-size values before preprocessing (see :meth:`model_pixels`):
        ``preprocess=`` is applied, nothing is cached."""
        return self._scores_of_inputs(self._model_side(self._apply_preprocess(np.asarray(pixels, dtype=np.float32))))

    def _scores_of_inputs(self, inputs: np.ndarray) -> Scores:
        full = self._full_scores_fn(self._choice(None))
        rows = [
            np.asarray(full(tf.constant(inputs[start : start + self._batch_size])), dtype=np.float32)
            for start in range(0, len(inputs), self._batch_size)
        ]
        logits = np.concatenate(rows)
        return Scores(logits, np.stack([self._probabilities(row) for row in logits]))

    def _probabilities(self, logits: np.ndarray) -> np.ndarray:
        z = logits.astype(np.float64)
        if self._source.kind == "sigmoid" or self._binary:
            p = 1.0 / (1.0 + np.exp(-z))
        else:
            e = np.exp(z - z.max())
            p = e / e.sum()
        return p.astype(np.float32)

    def check_class(self, class_index) -> int:
        """The class index as an int, or a TypeError/ValueError saying what is wrong with it."""
        return self._check_class(class_index)

    def _check_class(self, class_index) -> int:
        n = self.num_classes
        if isinstance(class_index, (bool, np.bool_)) or not isinstance(class_index, (int, np.integer)):
            if isinstance(class_index, (float, np.floating)) and float(class_index).is_integer():
                raise TypeError(f"class_index must be an int, got the float {class_index!r}; use int({class_index!r}).")
            if isinstance(class_index, str):
                raise TypeError(
                    f"class_index must be an int, got the string {class_index!r}. To pick a "
                    f"class by name, look it up in your class names list (names.index(...))."
                )
            raise TypeError(f"class_index must be an int, got {type(class_index).__name__}.")
        if not 0 <= int(class_index) < n:
            raise ValueError(f"class_index {int(class_index)} is out of range: the model has {n} classes (0..{n - 1}).")
        return int(class_index)

    def cam(
        self,
        image,
        class_index=None,
        method: str = "gradcam",
        *,
        layer=None,
        contrast=None,
        progress: Callable | None = None,
        cancel: Callable | None = None,
    ) -> CamMap:
        """The map of one class (default: the top class) for one image.

        ``contrast``: another class; the map then explains "why ``class_index`` rather than
        ``contrast``" (the target is the difference of their pre-softmax scores).
        ``progress(done, total)`` is called during long methods (Score-CAM); ``cancel()`` returning
        True stops them with :class:`Cancelled`.
        """
        prepared = self.prepare(image)
        if class_index is None:
            choice, m = self._choice(layer), get_method(method)
            self._sync_weights()
            if (
                contrast is None
                and m.needs_gradients
                and not m.masked_passes
                and (choice.name, prepared.key) not in self._cache
            ):
                # A new image and its top class: features, scores and map in one call, one head forward.
                a, s, z, pre = self._first_map_fn(choice, m)(tf.constant(prepared.model_input[None]))
                s = s.numpy()
                self._store([prepared], a, s, choice, z if self._pooled_dense(choice) is not None else None)
                result = make_cam_map(pre.numpy()[0], int(np.argmax(s[0])), m.name, choice.name, None)
                self._start_compiling()
                return result
            class_index = int(np.argmax(self.scores(prepared, layer=layer).logits))
        return self.cams(
            prepared, [class_index], method, layer=layer, contrast=contrast, progress=progress, cancel=cancel
        )[0]

    def cams(
        self,
        image,
        class_indices: Sequence[int],
        method: str = "gradcam",
        *,
        layer=None,
        contrast=None,
        progress: Callable | None = None,
        cancel: Callable | None = None,
    ) -> list[CamMap]:
        """Maps of several classes of one image, in one batched pass through the head."""
        prepared = self.prepare(image)
        if isinstance(class_indices, (int, np.integer)):
            class_indices = [class_indices]
        classes = [self._check_class(c) for c in class_indices]
        if not classes:
            return []
        against = [self._check_contrast(contrast, c) for c in classes]
        return self._maps(
            [prepared] * len(classes), classes, against, get_method(method), self._choice(layer), progress, cancel
        )

    def map_steps(self, image, class_index=None, method: str = "gradcam", *, layer=None, contrast=None):
        """How the map of ``class_index`` is made, step by step (activations, channel weights, signed
        sum, ReLU): a :class:`~gradcam_widget.explain.results.MapSteps` (see explain/steps.py)."""
        from .steps import map_steps

        return map_steps(self, image, class_index, method, layer=layer, contrast=contrast)

    def _check_contrast(self, contrast, class_index) -> int:
        if contrast is None:
            return -1
        contrast = self._check_class(contrast)
        if contrast == class_index:
            raise ValueError(
                f"contrast= is the same class as class_index ({class_index}); a contrastive map "
                f"compares two different classes."
            )
        return contrast

    def cams_batch(
        self,
        images,
        class_indices,
        method: str = "gradcam",
        *,
        layer=None,
        contrast=None,
        progress: Callable | None = None,
        cancel: Callable | None = None,
    ) -> list[CamMap]:
        """One map per image, each for its own class (None = each image's top class).

        ``contrast``: None, one class for all images, or one class per image.
        """
        prepared = self.prepare_batch(images)
        choice = self._choice(layer)
        if class_indices is None:
            classes = [0] * len(prepared)
            for group in _same_size_groups([p.model_input for p in prepared]):
                for start in range(0, len(group), self._batch_size):
                    part = group[start : start + self._batch_size]
                    _, s = self._features([prepared[i] for i in part], choice)
                    for i, row in zip(part, s):
                        classes[i] = int(np.argmax(row))
        elif isinstance(class_indices, (int, np.integer)) and not isinstance(class_indices, bool):
            classes = [self._check_class(class_indices)] * len(prepared)
        else:
            if isinstance(class_indices, str):
                self._check_class(class_indices)  # explains how to pick a class by name
            if isinstance(class_indices, bytes) or not hasattr(class_indices, "__len__"):
                raise TypeError(
                    f"class_index must be None, an int or a sequence of ints (one per image), got "
                    f"{type(class_indices).__name__}."
                )
            if len(class_indices) != len(prepared):
                raise ValueError(
                    f"class_index has {len(class_indices)} entries but there are {len(prepared)} "
                    f"images: give one class per image, or a single int for all."
                )
            classes = [self._check_class(c) for c in class_indices]
        if contrast is None or (isinstance(contrast, (int, np.integer)) and not isinstance(contrast, bool)):
            against = [self._check_contrast(contrast, c) for c in classes]
        else:
            if not hasattr(contrast, "__len__") or len(contrast) != len(prepared):
                raise ValueError("contrast= must be None, one class for all images, or one class per image.")
            against = [self._check_contrast(b, c) for b, c in zip(contrast, classes)]
        return self._maps(prepared, classes, against, get_method(method), choice, progress, cancel)

    def _maps(self, prepared, classes, against, method, choice, progress, cancel) -> list[CamMap]:
        if method.class_agnostic and any(b >= 0 for b in against):
            raise ValueError(
                f"{method.name} is class-agnostic, so it has no contrastive form. Use a gradient "
                "method such as gradcam for a contrastive map."
            )
        groups = _same_size_groups([p.model_input for p in prepared])
        if len(groups) > 1:  # an any-size model given images of several sizes: one batch per size
            results = [None] * len(prepared)
            for group in groups:
                maps = self._maps(
                    [prepared[i] for i in group],
                    [classes[i] for i in group],
                    [against[i] for i in group],
                    method,
                    choice,
                    progress,
                    cancel,
                )
                for i, cam in zip(group, maps):
                    results[i] = cam
            return results
        results = []
        step = self._batch_size
        for start in range(0, len(prepared), step):
            chunk = prepared[start : start + step]
            chunk_classes, chunk_against = classes[start : start + step], against[start : start + step]
            _check_cancel(cancel)
            a, scores, z = self._features_z(chunk, choice)
            if method.mean_gradient_weights and z is not None:
                one_image = len(chunk) > 1 and int(a.shape[0]) == 1
                fn = self._pooled_gradcam_k_fn(choice) if one_image else self._pooled_gradcam_fn(choice)
                pre = fn(a, z, tf.constant(chunk_classes, tf.int32), tf.constant(chunk_against, tf.int32)).numpy()
            elif method.masked_passes:
                a = tf.repeat(a, len(chunk) // int(a.shape[0]), axis=0)
                pre = self._scorecam(chunk, a, chunk_classes, chunk_against, choice, method, progress, cancel)
            else:
                pre = self._cam_fn(choice, method)(
                    a, tf.constant(chunk_classes, tf.int32), tf.constant(chunk_against, tf.int32)
                ).numpy()
            results.extend(
                make_cam_map(pre[i], c, method.name, choice.name, None if b < 0 else b)
                for i, (c, b) in enumerate(zip(chunk_classes, chunk_against))
            )
        self._start_compiling()
        return results

    def _scorecam(self, prepared, a, classes, against, choice, method, progress, cancel) -> np.ndarray:
        """Score-CAM maps, one per row: the masked passes are run once per image (and kept, with the
        features), and every class's score is read from the same passes."""
        k = int(a.shape[-1])
        m = k if self._scorecam_channels is None else min(k, self._scorecam_channels)
        rows_of: dict = {}
        for i, p in enumerate(prepared):
            rows_of.setdefault(p.key, []).append(i)
        with self._cache_lock:
            known = {key: self._masked_scores.get((choice.name, key, m)) for key in rows_of}
        todo = [key for key, entry in known.items() if entry is None]
        counter = {"done": 0, "total": len(todo) * m}
        maps: list = [None] * len(prepared)
        for key, rows in rows_of.items():
            i = rows[0]
            ai = _as_grid(choice, a[i : i + 1])
            if known[key] is None:
                known[key] = self._masked_passes(prepared[i], ai, m, choice, progress, cancel, counter)
                with self._cache_lock:
                    self._masked_scores[(choice.name, key, m)] = known[key]
                    while len(self._masked_scores) > self._cache_size:
                        self._masked_scores.popitem(last=False)
            channels, scores = known[key]
            picked = tf.gather(scores, [classes[r] for r in rows], axis=1)  # (m, rows)
            other = tf.gather(scores, [max(against[r], 0) for r in rows], axis=1)
            target = picked - tf.where(tf.constant([against[r] >= 0 for r in rows]), other, tf.zeros_like(other))
            chosen = tf.repeat(ai, len(rows), axis=0)
            result = method.function(chosen, tf.transpose(target), channels).numpy()
            for j, r in enumerate(rows):
                maps[r] = result[j]
        return np.stack(maps)

    def _masked_passes(self, p, ai, m, choice, progress, cancel, counter):
        """The m highest-variance channels of one image's activations ``ai`` and the model's scores
        (m, classes) of the image masked by each (upsampled, scaled to [0, 1]), in batches."""
        full_scores = self._full_scores_fn(choice)
        height, width = (int(d) for d in p.model_input.shape[:2])
        variance = tf.math.reduce_variance(ai[0], axis=(0, 1))
        channels = tf.sort(tf.math.top_k(variance, m).indices)
        x = tf.constant(p.model_input[None])
        rows = []
        for start in range(0, m, self._batch_size):
            _check_cancel(cancel)
            idx = channels[start : start + self._batch_size]
            masks = tf.transpose(tf.gather(ai[0], idx, axis=-1), (2, 0, 1))[..., None]
            masks = tf.image.resize(masks, (height, width), method="bilinear")
            lo = tf.reduce_min(masks, axis=(1, 2, 3), keepdims=True)
            hi = tf.reduce_max(masks, axis=(1, 2, 3), keepdims=True)
            masks = tf.where(hi - lo > 0, (masks - lo) / tf.maximum(hi - lo, 1e-12), tf.zeros_like(masks))
            if x.shape.rank == 3:  # (N, H, W) grayscale input: no channel axis
                masks = masks[..., 0]
            rows.append(full_scores(x * masks))
            self.masked_pass_count += int(idx.shape[0])
            counter["done"] += int(idx.shape[0])
            if progress is not None:
                progress(counter["done"], counter["total"])
        return channels, tf.concat(rows, axis=0)


def load_keras_model(path):
    """A saved Keras model (``.keras``/``.h5``) loaded with Keras 3, for callers outside explain/
    (the one package folder that imports Keras)."""
    return keras.models.load_model(path)


def explainer_for(
    model,
    caller: str,
    *,
    layer=None,
    preprocess=None,
    output=None,
    input_size=None,
    layer_is_fixed: bool = False,
    **settings,
) -> Explainer:
    """The Explainer an entry point works with: one passed in is reused (its caches and compiled
    functions), a Keras model gets a new one. What belongs to an Explainer (``preprocess=``,
    ``output=``, ``input_size=``; ``layer=`` where the caller has no per-call layer) cannot be given
    again next to one: it would be silently ignored."""
    if not isinstance(model, Explainer):
        return Explainer(model, layer=layer, preprocess=preprocess, output=output, input_size=input_size, **settings)
    given = [
        name
        for name, value in (
            ("preprocess", preprocess),
            ("output", output),
            ("input_size", input_size),
            ("layer", layer if layer_is_fixed else None),
        )
        if value is not None
    ]
    if given:
        raise ValueError(
            f"{', '.join(n + '=' for n in given)} belong to the Explainer passed to {caller}; set "
            f"them with Explainer(model, ...) or pass the Keras model here instead."
        )
    return model


def compute_cam(
    model,
    images,
    class_index=None,
    *,
    layer=None,
    method: str = "gradcam",
    preprocess=None,
    normalize: bool = True,
    contrast=None,
    output=None,
    input_size=None,
) -> np.ndarray:
    """Class activation maps for one image or a batch: float32 array (N, h, w) at the layer's resolution.

    ``class_index``: None = each image's top class; an int = that class for every image; a sequence =
    one class per image. With ``normalize=True`` (default) each map lies in [0, 1] with maximum 1, and a
    map with no positive evidence for its class is all zeros (never NaN): ``maps.max(axis=(1, 2)) == 0``
    tells them apart. ``normalize=False`` returns the maps after ReLU in the model's own units.
    ``contrast``: None, a class, or one class per image: explain "why class_index rather than contrast".
    ``model`` may also be an :class:`Explainer`, to reuse its caches and compiled functions.
    ``output``: the output to explain of a model with several (name or index). A model that accepts
    any input size explains each image at its own size (``input_size=(h, w)`` resizes them all):
    images of different sizes then give a list of maps, one (h, w) array each.
    """
    from ..batch import cam_maps, worth_compiling

    # Many images: traced functions, in chunks, with a progress bar for long runs (gradcam_widget/batch.py).
    explainer = explainer_for(
        model,
        "compute_cam",
        layer=layer,
        preprocess=preprocess,
        output=output,
        input_size=input_size,
        compiled=worth_compiling(images),
    )
    maps = cam_maps(explainer, images, class_index, method, layer=layer, contrast=contrast)
    key = "normalized" if normalize else "raw"
    arrays = [getattr(m, key).astype(np.float32) for m in maps]
    if len({a.shape for a in arrays}) > 1:
        return arrays
    return np.stack(arrays)
