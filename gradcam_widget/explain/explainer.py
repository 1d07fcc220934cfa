"""The Explainer: one model, many maps, with the expensive part done once per image.

The forward pass from the image to the target layer's activations A is run once per image and cached
(bounded LRU). A class switch then costs only the head (A -> scores) forward and backward; several
classes are done in one batched backward pass. Each tf.function is traced once per (layer, method)
with a batch-agnostic signature, so interactive use never retraces.
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf
import keras

from .. import images as imgs
from .graph import FlatGraph, graph_of
from .layers import LayerChoice, find_candidates, resolve_layer, score_source
from .methods import METHODS, get_method
from .results import CamMap, Scores, make_cam_map


class Cancelled(Exception):
    """A long computation was stopped because its ``cancel()`` callback said so."""


def _check_cancel(cancel):
    if cancel is not None and cancel():
        raise Cancelled("the computation was cancelled (a newer request superseded it)")


def _target_scores(scores, classes, against):
    """Each row's class score, minus its contrast class's score where one is given (index >= 0)."""
    picked = tf.gather(scores, classes[:, None], batch_dims=1)
    other = tf.gather(scores, tf.maximum(against, 0)[:, None], batch_dims=1)
    return picked - tf.where(against[:, None] >= 0, other, tf.zeros_like(other))


#: Names TensorFlow accepts for name scopes inside a traced function.
_SCOPE_NAME = re.compile(r"^[A-Za-z0-9_.\\/>-]*$")


class _Counted:
    """A traced body that counts its traces on its explainer (Python code runs only while tracing).

    A callable object rather than a closure: TensorFlow groups retracing statistics by the function's
    code object, so closures of many explainers would look like one function retracing and trigger
    its "excessive retracing" warning in the user's notebook.
    """

    def __init__(self, body, explainer):
        self._body = body
        self._owner = weakref.ref(explainer)

    def __call__(self, *args):
        owner = self._owner()
        if owner is not None:
            owner.trace_count += 1
        return self._body(*args)


@dataclass(frozen=True)
class PreparedImage:
    """An image ready for the model: the picture to show and the exact model input."""

    display: np.ndarray      # uint8 H x W x 3, the original (longest side capped) for display
    model_input: np.ndarray  # float32 h x w x c, resized and preprocessed
    key: str                 # content hash of model_input: the cache key


def _check_model(model):
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        raise TypeError(f"model must be a Keras model object, got the {type(model).__name__} {str(model)!r}. "
                        f"Load it first: keras.saving.load_model(path).")
    if not isinstance(model, keras.Model):
        if callable(model):
            raise TypeError(f"model must be a Keras model (keras.Model), got a {type(model).__name__}. A plain "
                            f"function has no layers to explain; wrap your network in a keras.Model.")
        raise TypeError(f"model must be a Keras model (keras.Model), got {type(model).__name__}.")


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
        raise ValueError("the Sequential model has not been built and gradcam-widget cannot tell its input "
                         "shape. Start it with keras.Input(shape=(height, width, channels)) or call "
                         "model.build((None, height, width, channels)).")
    raise ValueError(f"the model ({type(model).__name__}) has no layer graph to read: subclassed models "
                     f"cannot be split at a layer. Build it with the functional API or Sequential.")


class Explainer:
    """Class activation maps of one Keras image classifier.

    ``layer``: the layer to compute maps at (default: the output of the last convolutional block, also
    inside a nested backbone). ``preprocess``: the model's input function (e.g.
    ``keras.applications.vgg16.preprocess_input``), applied to RGB pixel values 0..255.
    ``cache_size``: images whose features are kept. ``scorecam_channels``: channels Score-CAM masks
    with (the highest-variance ones, as Faster Score-CAM). ``compiled=False`` runs eagerly (no tracing
    cost; better for one-off calls).
    """

    def __init__(self, model, layer=None, preprocess=None, *, cache_size: int = 16,
                 scorecam_channels: int | None = 64, batch_size: int = 32, compiled: bool = True,
                 input_shape=None):
        _check_model(model)
        if preprocess is not None and not callable(preprocess):
            raise TypeError(f"preprocess= must be a function applied to the image batch (e.g. "
                            f"keras.applications.vgg16.preprocess_input), got {type(preprocess).__name__}.")
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
        self._functions: dict = {}
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
            raise ValueError(f"the model has {len(graph.inputs)} inputs; gradcam-widget explains image "
                             f"classifiers with a single image input.")
        shape = tuple(graph.inputs[0].shape)
        if len(shape) != 4:
            raise ValueError(f"the model's input has shape {shape}; an image classifier takes "
                             f"(batch, height, width, channels).")
        source = score_source(graph)
        candidates = find_candidates(graph)
        names = {flat.operation.name for flat in graph.nodes} | {flat.name for flat in graph.nodes}
        default = resolve_layer(candidates, self._requested_layer, names)
        self._graph, self._source, self._candidates, self._layer_names = graph, source, candidates, names
        self._default = default
        self._input_shape = shape[1:]
        if self._compiled and not all(_SCOPE_NAME.match(flat.operation.name) for flat in graph.nodes):
            # TensorFlow refuses such layer names as graph scopes (Keras' own predict() fails too);
            # the model still runs eagerly, so explain it that way rather than fail.
            self._compiled = False
        self._num_outputs = int(graph.outputs[0].shape[-1])

    def _require_setup(self):
        if self._graph is None:
            raise ValueError("the model is not built yet, so its layers are unknown. Pass an image to "
                             "scores()/cam() first, or give input_shape=(height, width, channels).")

    @property
    def model(self):
        return self._model

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
    def input_size(self):
        self._require_setup()
        h, w = self._input_shape[:2]
        return None if h is None or w is None else (int(h), int(w))

    def layer_shape(self, layer=None) -> tuple:
        """(h, w, channels) of the maps at ``layer``."""
        return self._choice(layer).shape

    def _choice(self, layer) -> LayerChoice:
        self._require_setup()
        if layer is None:
            return self._default
        return resolve_layer(self._candidates, layer, self._layer_names)

    # ---- images -------------------------------------------------------------------------------
    def prepare(self, image) -> PreparedImage:
        """Load, resize and preprocess one image (see :func:`gradcam_widget.images.load_image`)."""
        if isinstance(image, PreparedImage):
            return image
        return self._prepare_rgb([imgs.load_pixels(image)])[0]

    def prepare_batch(self, images) -> list[PreparedImage]:
        if isinstance(images, PreparedImage):
            return [images]
        if isinstance(images, (list, tuple)) and images and all(isinstance(i, PreparedImage) for i in images):
            return list(images)
        return self._prepare_rgb(imgs.load_pixels_batch(images))

    def model_pixels(self, image) -> np.ndarray:
        """One image as the model sees it before preprocessing: resized, float32 RGB 0..255 (H, W, C).

        Perturbation metrics change these pixels, then score them with :meth:`scores_of_pixels`.
        """
        if isinstance(image, PreparedImage):
            raise TypeError("got a PreparedImage, which is already preprocessed. Pass the original image.")
        return self._resize_for_model([imgs.load_pixels(image)])[0]

    def _resize_for_model(self, rgbs) -> np.ndarray:
        """Float RGB images (0..255) resized to the model's input: one (N, H, W, C) batch."""
        if self._graph is None:  # a Sequential never called: build it as its first call would
            self._setup(rgbs[0].shape[:2] + (3,))
        channels = self._input_shape[2] if self._input_shape[2] is not None else 3
        size = self.input_size
        resized = [imgs.resize_for_model(rgb, size, int(channels)) for rgb in rgbs]
        if size is None and len({r.shape for r in resized}) > 1:
            raise ValueError("the images have different sizes and the model accepts any size, so they "
                             "cannot form one batch. Explain them one at a time, or resize them first.")
        return np.stack(resized).astype(np.float32)

    def _prepare_rgb(self, rgbs) -> list[PreparedImage]:
        batch = self._apply_preprocess(self._resize_for_model(rgbs))
        out = []
        for rgb, x in zip(rgbs, batch):
            digest = hashlib.blake2b(x.tobytes(), digest_size=16)
            digest.update(str(x.shape).encode())
            out.append(PreparedImage(imgs.to_uint8(imgs.cap_size(rgb)), x, digest.hexdigest()))
        return out

    def _apply_preprocess(self, batch: np.ndarray) -> np.ndarray:
        if self._preprocess is None:
            return batch
        try:
            result = self._preprocess(batch.copy())
        except Exception as err:  # the user's function: report it, whatever it raised
            raise ValueError(f"preprocess= raised {type(err).__name__}: {err}. It is called with a float32 "
                             f"batch of shape {batch.shape} holding RGB values 0..255.") from err
        result = np.asarray(result.numpy() if hasattr(result, "numpy") else result)
        if result.shape != batch.shape:
            raise ValueError(f"preprocess= returned shape {result.shape}, expected {batch.shape} (the same "
                             f"batch, values transformed). Resizing is done by gradcam-widget.")
        if result.dtype.kind not in "fiu":
            raise TypeError(f"preprocess= returned dtype {result.dtype}; it must return numbers.")
        result = result.astype(np.float32)
        if not np.all(np.isfinite(result)):
            raise ValueError("preprocess= returned NaN or infinite values.")
        return result

    # ---- compiled pieces ----------------------------------------------------------------------
    def _function(self, key, build: Callable, signature):
        fn = self._functions.get(key)
        if fn is None:
            body = _Counted(build(), self)
            fn = tf.function(body, input_signature=signature, reduce_retracing=True) if self._compiled else body
            self._functions[key] = fn
        return fn

    def _x_spec(self):
        return tf.TensorSpec((None,) + tuple(self._input_shape), tf.float32)

    def _a_spec(self, choice):
        return tf.TensorSpec((None,) + tuple(choice.shape), tf.float32)

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

    def _cam_fn(self, choice, method):
        head = self._head(choice)

        def build():
            def run(a, classes, against):
                if not method.needs_gradients:
                    return head(a), method.function(a, None)
                with tf.GradientTape() as tape:
                    tape.watch(a)
                    scores = head(a)
                    picked = _target_scores(scores, classes, against)
                gradients = tf.cast(tape.gradient(picked, a), tf.float32)
                return scores, method.function(a, gradients)
            return run

        spec = [self._a_spec(choice), tf.TensorSpec((None,), tf.int32), tf.TensorSpec((None,), tf.int32)]
        return self._function(("cam", choice.name, method.name), build, spec)

    def _full_scores_fn(self, choice):
        features = self._features_fn(choice)
        head = self._head(choice)

        def build():
            return lambda x: head(features(x))
        return self._function(("full", choice.name), build, [self._x_spec()])

    # ---- cached features ----------------------------------------------------------------------
    def _features(self, prepared: list[PreparedImage], choice) -> tuple:
        """Activations (N,h,w,k) and scores (N,C) for prepared images, from cache where possible."""
        found = {}
        for p in prepared:
            key = (choice.name, p.key)
            if key in self._cache:
                self._cache.move_to_end(key)
                found[p.key] = self._cache[key]
        unique = list({p.key: p for p in prepared if p.key not in found}.values())
        if unique:
            features, scores_fn = self._features_fn(choice), self._scores_fn(choice)
        for start in range(0, len(unique), self._batch_size):
            chunk = unique[start:start + self._batch_size]
            a = features(tf.constant(np.stack([p.model_input for p in chunk])))
            s = scores_fn(a).numpy()
            if not np.all(np.isfinite(s)):
                raise FloatingPointError("the model produced NaN or infinite class scores for this image. "
                                         "Check the image values and preprocess=.")
            for i, p in enumerate(chunk):
                found[p.key] = (a[i:i + 1], s[i])
                self._remember((choice.name, p.key), found[p.key])
        entries = [found[p.key] for p in prepared]
        return tf.concat([e[0] for e in entries], axis=0), np.stack([e[1] for e in entries])

    def _remember(self, key, value):
        self._cache[key] = value
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def clear_cache(self):
        """Forget cached features (they are also evicted automatically, oldest first)."""
        self._cache.clear()

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
        return self._scores_of_inputs(np.stack([p.model_input for p in self.prepare_batch(images)]))

    def scores_of_pixels(self, pixels: np.ndarray) -> Scores:
        """Scores of an (N, H, W, C) batch of model-size pixels 0..255 (see :meth:`model_pixels`):
        ``preprocess=`` is applied, nothing is cached."""
        return self._scores_of_inputs(self._apply_preprocess(np.asarray(pixels, dtype=np.float32)))

    def _scores_of_inputs(self, inputs: np.ndarray) -> Scores:
        full = self._full_scores_fn(self._choice(None))
        rows = [np.asarray(full(tf.constant(inputs[start:start + self._batch_size])), dtype=np.float32)
                for start in range(0, len(inputs), self._batch_size)]
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
                raise TypeError(f"class_index must be an int, got the float {class_index!r}; use "
                                f"int({class_index!r}).")
            if isinstance(class_index, str):
                raise TypeError(f"class_index must be an int, got the string {class_index!r}. To pick a "
                                f"class by name, look it up in your class names list (names.index(...)).")
            raise TypeError(f"class_index must be an int, got {type(class_index).__name__}.")
        if not 0 <= int(class_index) < n:
            raise ValueError(f"class_index {int(class_index)} is out of range: the model has {n} classes "
                             f"(0..{n - 1}).")
        return int(class_index)

    def cam(self, image, class_index=None, method: str = "gradcam", *, layer=None, contrast=None,
            progress: Callable | None = None, cancel: Callable | None = None) -> CamMap:
        """The map of one class (default: the top class) for one image.

        ``contrast``: another class; the map then explains "why ``class_index`` rather than
        ``contrast``" (the target is the difference of their pre-softmax scores).
        ``progress(done, total)`` is called during long methods (Score-CAM); ``cancel()`` returning
        True stops them with :class:`Cancelled`.
        """
        prepared = self.prepare(image)
        if class_index is None:
            class_index = int(np.argmax(self.scores(prepared, layer=layer).logits))
        return self.cams(prepared, [class_index], method, layer=layer, contrast=contrast, progress=progress,
                         cancel=cancel)[0]

    def cams(self, image, class_indices: Sequence[int], method: str = "gradcam", *, layer=None, contrast=None,
             progress: Callable | None = None, cancel: Callable | None = None) -> list[CamMap]:
        """Maps of several classes of one image, in one batched pass through the head."""
        prepared = self.prepare(image)
        if isinstance(class_indices, (int, np.integer)):
            class_indices = [class_indices]
        classes = [self._check_class(c) for c in class_indices]
        if not classes:
            return []
        against = [self._check_contrast(contrast, c) for c in classes]
        return self._maps([prepared] * len(classes), classes, against, get_method(method), self._choice(layer),
                          progress, cancel)

    def _check_contrast(self, contrast, class_index) -> int:
        if contrast is None:
            return -1
        contrast = self._check_class(contrast)
        if contrast == class_index:
            raise ValueError(f"contrast= is the same class as class_index ({class_index}); a contrastive map "
                             f"compares two different classes.")
        return contrast

    def cams_batch(self, images, class_indices, method: str = "gradcam", *, layer=None, contrast=None,
                   progress: Callable | None = None, cancel: Callable | None = None) -> list[CamMap]:
        """One map per image, each for its own class (None = each image's top class).

        ``contrast``: None, one class for all images, or one class per image.
        """
        prepared = self.prepare_batch(images)
        choice = self._choice(layer)
        if class_indices is None:
            classes = []
            for start in range(0, len(prepared), self._batch_size):
                _, s = self._features(prepared[start:start + self._batch_size], choice)
                classes.extend(int(np.argmax(row)) for row in s)
        elif isinstance(class_indices, (int, np.integer)) and not isinstance(class_indices, bool):
            classes = [self._check_class(class_indices)] * len(prepared)
        else:
            if isinstance(class_indices, str):
                self._check_class(class_indices)  # explains how to pick a class by name
            if isinstance(class_indices, bytes) or not hasattr(class_indices, "__len__"):
                raise TypeError(f"class_index must be None, an int or a sequence of ints (one per image), got "
                                f"{type(class_indices).__name__}.")
            if len(class_indices) != len(prepared):
                raise ValueError(f"class_index has {len(class_indices)} entries but there are {len(prepared)} "
                                 f"images: give one class per image, or a single int for all.")
            classes = [self._check_class(c) for c in class_indices]
        if contrast is None or (isinstance(contrast, (int, np.integer)) and not isinstance(contrast, bool)):
            against = [self._check_contrast(contrast, c) for c in classes]
        else:
            if not hasattr(contrast, "__len__") or len(contrast) != len(prepared):
                raise ValueError("contrast= must be None, one class for all images, or one class per image.")
            against = [self._check_contrast(b, c) for b, c in zip(contrast, classes)]
        return self._maps(prepared, classes, against, get_method(method), choice, progress, cancel)

    def _maps(self, prepared, classes, against, method, choice, progress, cancel) -> list[CamMap]:
        if method.name == "eigencam" and any(b >= 0 for b in against):
            raise ValueError("eigencam is class-agnostic, so it has no contrastive form. Use a gradient "
                             "method such as gradcam for a contrastive map.")
        results = []
        step = self._batch_size
        for start in range(0, len(prepared), step):
            chunk = prepared[start:start + step]
            chunk_classes, chunk_against = classes[start:start + step], against[start:start + step]
            _check_cancel(cancel)
            a, scores = self._features(chunk, choice)
            if method.masked_passes:
                pre = self._scorecam(chunk, a, chunk_classes, chunk_against, choice, progress, cancel)
            else:
                _, pre = self._cam_fn(choice, method)(a, tf.constant(chunk_classes, tf.int32),
                                                      tf.constant(chunk_against, tf.int32))
                pre = pre.numpy()
            results.extend(make_cam_map(pre[i], c, method.name, choice.name, None if b < 0 else b)
                           for i, (c, b) in enumerate(zip(chunk_classes, chunk_against)))
        return results

    def _scorecam(self, prepared, a, classes, against, choice, progress, cancel) -> np.ndarray:
        full_scores = self._full_scores_fn(choice)
        k = int(a.shape[-1])
        m = k if self._scorecam_channels is None else min(k, self._scorecam_channels)
        height, width = (int(d) for d in prepared[0].model_input.shape[:2])
        total = len(prepared) * m
        done = 0
        maps = []
        for i, (p, c, b) in enumerate(zip(prepared, classes, against)):
            ai = a[i:i + 1]
            variance = tf.math.reduce_variance(ai[0], axis=(0, 1))
            channels = tf.sort(tf.math.top_k(variance, m).indices)
            x = tf.constant(p.model_input[None])
            channel_scores = []
            for start in range(0, m, self._batch_size):
                _check_cancel(cancel)
                idx = channels[start:start + self._batch_size]
                masks = tf.transpose(tf.gather(ai[0], idx, axis=-1), (2, 0, 1))[..., None]
                masks = tf.image.resize(masks, (height, width), method="bilinear")
                lo = tf.reduce_min(masks, axis=(1, 2, 3), keepdims=True)
                hi = tf.reduce_max(masks, axis=(1, 2, 3), keepdims=True)
                masks = tf.where(hi - lo > 0, (masks - lo) / tf.maximum(hi - lo, 1e-12), tf.zeros_like(masks))
                s = full_scores(x * masks)
                channel_scores.append(s[:, c] - (s[:, b] if b >= 0 else 0.0))
                done += int(idx.shape[0])
                if progress is not None:
                    progress(done, total)
            scores = tf.concat(channel_scores, axis=0)[None]
            maps.append(METHODS["scorecam"].function(ai, scores, channels)[0].numpy())
        return np.stack(maps)


def compute_cam(model, images, class_index=None, *, layer=None, method: str = "gradcam", preprocess=None,
                normalize: bool = True, contrast=None) -> np.ndarray:
    """Class activation maps for one image or a batch: float32 array (N, h, w) at the layer's resolution.

    ``class_index``: None = each image's top class; an int = that class for every image; a sequence =
    one class per image. With ``normalize=True`` (default) each map lies in [0, 1] with maximum 1, and a
    map with no positive evidence for its class is all zeros (never NaN): ``maps.max(axis=(1, 2)) == 0``
    tells them apart. ``normalize=False`` returns the maps after ReLU in the model's own units.
    ``contrast``: None, a class, or one class per image: explain "why class_index rather than contrast".
    ``model`` may also be an :class:`Explainer`, to reuse its caches and compiled functions.
    """
    explainer = model if isinstance(model, Explainer) else Explainer(model, layer, preprocess,
                                                                     compiled=False)
    if isinstance(model, Explainer) and preprocess is not None:
        raise ValueError("preprocess= is set on the Explainer; do not pass it again to compute_cam.")
    maps = explainer.cams_batch(images, class_index, method, layer=layer, contrast=contrast)
    key = "normalized" if normalize else "raw"
    return np.stack([getattr(m, key) for m in maps]).astype(np.float32)
