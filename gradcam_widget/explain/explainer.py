"""The Explainer: one model, many maps, with the expensive part done once per image.

Backend neutral (numpy only): it validates what users pass, prepares images, keeps the caches, checks
the weights for staleness, batches by size, honours cancellation and answers the public API; every
tensor computation is the backend's (:mod:`gradcam_widget.explain.backend`; the Keras/TensorFlow one
is :class:`~gradcam_widget.explain.keras_backend.KerasBackend`, imported when the first Explainer is
made).

The forward pass from the image to the target layer's features is run once per image and cached
(bounded LRU). A class switch then costs only the head (features -> scores) forward and backward;
several classes are done in one batched backward pass. Methods are computed by kind (the registry's
``kind``), in one place: :meth:`Explainer._kind_maps`.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .. import images as imgs
from .. import kernel_hooks
from .. import registry
from .results import CamMap, Scores, make_cam_map


class Cancelled(Exception):
    """A long computation was stopped because its ``cancel()`` callback said so."""


def _check_cancel(cancel):
    if cancel is not None and cancel():
        raise Cancelled("the computation was cancelled (a newer request superseded it)")


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


def _backend_for(model, *, layer, output, compiled):
    """The engine for ``model``: Keras 3 / TensorFlow (imported here, on first use)."""
    from .keras_backend import KerasBackend

    return KerasBackend(model, layer=layer, output=output, compiled=compiled)


def load_keras_model(path):
    """A saved Keras model (``.keras``/``.h5``) loaded with Keras 3, for callers outside explain/
    (see :func:`gradcam_widget.explain.keras_backend.load_keras_model`)."""
    from .keras_backend import load_keras_model as load

    return load(path)


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
        self._backend = _backend_for(model, layer=layer, output=output, compiled=compiled)  # checks the model
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
        self._cache: OrderedDict = OrderedDict()  # (layer, image key) -> (features, scores row)
        self._cache_lock = threading.Lock()  # the widget's worker threads share the cache
        self._masked_scores: OrderedDict = OrderedDict()  # Score-CAM's masked passes, per (layer, image)
        self.masked_pass_count = 0  # masked images run through the model by Score-CAM (tests count them)
        self._weights_lock = threading.Lock()
        self._one_check = threading.local()  # see one_weights_check()
        self._fingerprint: bytes | None = None  # what the cached results were computed with
        self._checked = None  # (cells run, optimizer steps) at the last full check
        kernel_hooks.install()
        self._weights_version = 0
        if self._backend.built or input_shape is not None:
            self._setup(input_shape)

    # ---- model structure --------------------------------------------------------------------
    def _setup(self, image_shape=None):
        backend = self._backend
        if backend.ready:
            return
        backend.setup(image_shape)
        fixed = tuple(backend.input_shape[:2])
        if self._requested_size is not None and None not in fixed and fixed != self._requested_size:
            raise ValueError(
                f"input_size={self._requested_size} but the model takes {fixed[0]}x{fixed[1]} "
                f"images; input_size= is for models that accept any size (None in their input "
                f"shape). Leave it out: images are resized to the model's size."
            )

    def _require_setup(self):
        if not self._backend.ready:
            raise ValueError(
                "the model is not built yet, so its layers are unknown. Pass an image to "
                "scores()/cam() first, or give input_shape=(height, width, channels)."
            )

    @property
    def model(self):
        return self._model

    @property
    def backend(self):
        """The engine computing the maps (:class:`~gradcam_widget.explain.backend.Backend`)."""
        return self._backend

    @property
    def output(self) -> tuple[int, str]:
        """(index, name) of the model output being explained (``output=``; the only one by default)."""
        self._require_setup()
        return self._backend.output

    @property
    def layer_name(self) -> str:
        self._require_setup()
        return self._backend.default_layer.name

    @property
    def candidate_layers(self) -> list[str]:
        self._require_setup()
        return [c.name for c in self._backend.candidates]

    @property
    def num_classes(self) -> int:
        self._require_setup()
        return 2 if self._binary else self._backend.num_outputs

    @property
    def _binary(self) -> bool:
        return self._backend.num_outputs == 1 and self._backend.score_kind in ("sigmoid", "linear")

    @property
    def multi_label(self) -> bool:
        """True for a head of several sigmoid units: each unit is a class with its own probability."""
        self._require_setup()
        return self._backend.score_kind == "sigmoid" and not self._binary

    @property
    def cache_size(self) -> int:
        """How many images' features are kept (a batch that fits reuses its forward pass for its maps)."""
        return self._cache_size

    @property
    def batch_size(self) -> int:
        """Images (or masked passes) run through the model in one call."""
        return self._batch_size

    @property
    def trace_count(self) -> int:
        """Traces of the model's programs so far (a retrace after warm-up is a performance bug)."""
        return self._backend.trace_count

    def scores_cached(self, prepared, *, layer=None) -> Scores:
        """Scores (N, C) of prepared images from one forward pass whose features stay cached, so
        their maps at ``layer`` need no second forward pass (keep N within :attr:`cache_size`)."""
        _, logits = self.features(prepared, layer=layer)
        logits = np.asarray(logits, dtype=np.float32)
        return Scores(logits, np.stack([self._probabilities(row) for row in logits]))

    def features(self, prepared, *, layer=None) -> tuple:
        """(the backend's features at ``layer``, scores (N, C)) of images, from the cache where possible.

        The features are the backend's own value (the Keras backend's ``Features(activations, pooled)``
        of TensorFlow tensors): for code that computes with that backend, e.g. benchmarks."""
        return self._features(self.prepare_batch(prepared), self._choice(layer))

    @property
    def input_size(self):
        """(height, width) images are resized to: the model's, or ``input_size=`` for an any-size model
        (None: each image keeps its own size)."""
        self._require_setup()
        h, w = self._backend.input_shape[:2]
        return self._requested_size if h is None or w is None else (int(h), int(w))

    def layer_shape(self, layer=None) -> tuple:
        """(h, w, channels) of the maps at ``layer``."""
        return self._choice(layer).shape

    def _choice(self, layer):
        self._require_setup()
        return self._backend.choice(layer)

    # ---- images -------------------------------------------------------------------------------
    def randomized_copy(self, layer: str | None = None):
        """A copy of the model whose learned layers can be re-initialised one by one, with fresh
        explainers of it at ``layer`` (the sanity check's; the model itself is never touched)."""
        return self._backend.randomized_copy(self, self.layer_name if layer is None else layer)

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
        return self._prepare(imgs.load_batch(images, self._input_rank()))

    def _input_rank(self):
        return len(self._backend.input_shape) if self._backend.ready else None

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
        return self._to_model(imgs.load_batch(images, self._input_rank()))

    def _fit_shape(self) -> tuple:
        """The input shape images are fitted to: the model's, or ``input_size=`` for an any-size model
        (None sides: each image keeps its size); a keras_hub converter resizes by itself."""
        size = None if self._backend.resizes_itself else self.input_size
        return tuple(size or (None, None)) + tuple(self._backend.input_shape[2:])

    def _to_model_each(self, inputs) -> list[np.ndarray]:
        """Loaded images as the model gets them before ``preprocess=``: float32, one array each."""
        if not self._backend.ready:  # a Sequential never called: build it as model.predict would
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

    def _prepare(self, inputs) -> list[PreparedImage]:
        pixels = self._to_model_each(inputs)
        backend = self._backend
        batch = [None] * len(pixels)
        for group in _same_size_groups(pixels):  # preprocess= sees one batch per image size
            for i, x in zip(group, backend.model_side(self._apply_preprocess(np.stack([pixels[i] for i in group])))):
                batch[i] = x
        out = []
        for image, x, p in zip(inputs, batch, pixels):
            digest = hashlib.blake2b(x.tobytes(), digest_size=16)
            digest.update(str(x.shape).encode())
            shown, note = imgs.display_for_model(image, backend.input_shape)
            out.append(PreparedImage(backend.visible(shown), x, digest.hexdigest(), p, note))
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

    def wait_compiled(self, timeout: float | None = None) -> bool:
        """Block until the background compilation queued so far is done (True) or ``timeout`` passed."""
        return self._backend.wait_compiled(timeout)

    # ---- cached features ----------------------------------------------------------------------
    def _features(self, prepared: list[PreparedImage], choice) -> tuple:
        """(features, scores (N, C)) for prepared images, from cache where possible; one image given
        several times (for several classes) comes back as one row of features (not copied)."""
        self._sync_weights()
        backend = self._backend
        found = {}
        with self._cache_lock:
            for p in prepared:
                entry = self._cache.get((choice.name, p.key))
                if entry is not None:
                    self._cache.move_to_end((choice.name, p.key))
                    found[p.key] = entry
        unique = list({p.key: p for p in prepared if p.key not in found}.values())
        for start in range(0, len(unique), self._batch_size):
            chunk = unique[start : start + self._batch_size]
            features, s = backend.features(np.stack([p.model_input for p in chunk]), choice)
            entries = self._store(chunk, features, s, choice)
            if len(chunk) == len(prepared) and [p.key for p in chunk] == [p.key for p in prepared]:
                return features, s  # a fresh batch: no splitting and re-joining
            found.update(zip((p.key for p in chunk), entries))
        if len({p.key for p in prepared}) == 1:  # one image (perhaps for several classes): features not
            features, s = found[prepared[0].key]  # copied, the backend repeats them per class
            return features, np.repeat(s[None], len(prepared), axis=0)
        entries = [found[p.key] for p in prepared]
        return backend.join([e[0] for e in entries]), np.stack([e[1] for e in entries])

    def _store(self, chunk, features, s, choice):
        if not np.all(np.isfinite(s)):
            raise FloatingPointError(
                "the model produced NaN or infinite class scores for this image. "
                "Check the image values and preprocess=."
            )
        entries = list(zip(self._backend.split(features, len(chunk)), s))
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
        self._backend.forget_weight_results()

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

    @contextmanager
    def one_weights_check(self):
        """Calls made inside (on this thread) read the weights' fingerprint once, at the first call,
        not once each: for one piece of work on one input whose parts belong together (the what-if
        brush's rescoring of an edit: its scores, then its maps from the same features)."""
        outer = getattr(self._one_check, "done", None)
        if outer is None:
            self._one_check.done = False
        try:
            yield self
        finally:
            if outer is None:
                del self._one_check.done

    def _sync_weights(self, full: bool = False) -> int:
        """Compare the weights' fingerprint with the one the caches were filled under; on a change,
        forget everything derived from the old weights (features, Score-CAM passes, summed kernels).

        In a notebook, between cells (clicks in a widget) no user code runs, so once the weights were
        checked after a cell only the optimizer's step counter is read (a training thread)."""
        in_one_check = getattr(self._one_check, "done", None)
        if in_one_check and not full:
            return self._weights_version
        if in_one_check is False:
            self._one_check.done = True
        with self._weights_lock:
            epoch, steps = kernel_hooks.quiet_epoch(), self._backend.optimizer_steps()
            if not full and epoch is not None and self._checked == (epoch, steps) and self._fingerprint is not None:
                return self._weights_version
            current = steps + self._backend.weights_sample()
            if self._fingerprint is None:
                self._fingerprint = current
            elif current != self._fingerprint:
                self._forget_weight_results()
                self._fingerprint = current
                self._weights_version += 1
            self._checked = (epoch, steps)
            return self._weights_version

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
        batch = self._backend.model_side(self._apply_preprocess(np.asarray(pixels, dtype=np.float32)))
        return self._scores_of_inputs(batch)

    def _scores_of_inputs(self, inputs: np.ndarray) -> Scores:
        logits = self._full_scores(inputs, self._choice(None))
        return Scores(logits, np.stack([self._probabilities(row) for row in logits]))

    def _full_scores(self, inputs: np.ndarray, choice) -> np.ndarray:
        """Scores (N, C) of model inputs through the whole model, in batches, nothing cached."""
        rows = [
            self._backend.full_scores(inputs[start : start + self._batch_size], choice)
            for start in range(0, len(inputs), self._batch_size)
        ]
        return np.concatenate(rows)

    def _probabilities(self, logits: np.ndarray) -> np.ndarray:
        z = logits.astype(np.float64)
        if self._backend.score_kind == "sigmoid" or self._binary:
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
            choice, m = self._choice(layer), registry.lookup(method)
            self._sync_weights()
            if contrast is None and m.kind == "gradient" and (choice.name, prepared.key) not in self._cache:
                # A new image and its top class: features, scores and map in one call, one head forward.
                features, s, pre = self._backend.first_map(prepared.model_input, choice, m)
                self._store([prepared], features, s, choice)
                result = make_cam_map(pre[0], int(np.argmax(s[0])), m.name, choice.name, None)
                self._backend.start_compiling()
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
            [prepared] * len(classes), classes, against, registry.lookup(method), self._choice(layer), progress, cancel
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
        return self._maps(prepared, classes, against, registry.lookup(method), choice, progress, cancel)

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
        if method.kind == "perturbation":  # occlusion: forward passes of edited inputs, no features
            return self._perturbation_maps(prepared, classes, against, method, choice, progress, cancel)
        results = []
        step = self._batch_size
        for start in range(0, len(prepared), step):
            chunk = prepared[start : start + step]
            chunk_classes, chunk_against = classes[start : start + step], against[start : start + step]
            _check_cancel(cancel)
            features, _ = self._features(chunk, choice)
            pre = self._kind_maps(chunk, features, chunk_classes, chunk_against, method, choice, progress, cancel)
            results.extend(
                make_cam_map(pre[i], c, method.name, choice.name, None if b < 0 else b)
                for i, (c, b) in enumerate(zip(chunk_classes, chunk_against))
            )
        self._backend.start_compiling()
        return results

    def _perturbation_maps(self, prepared, classes, against, method, choice, progress, cancel) -> list[CamMap]:
        """Maps from the model's scores of perturbed copies of each image, in batches of forward
        passes (the backend's ``full_scores``); the passes of one image serve all of its classes. It needs
        no features, so ``_maps`` sends it here before computing any; the computation is explain/occlusion.py's."""
        self._sync_weights()
        rows_of: dict = {}
        for i, p in enumerate(prepared):
            rows_of.setdefault(p.key, []).append(i)
        maps: list = [None] * len(prepared)
        occlude = method.resolve()
        for rows in rows_of.values():
            result = occlude(
                lambda batch: self._backend.full_scores(np.asarray(batch, np.float32), choice),
                prepared[rows[0]].model_input,
                [(classes[r], against[r]) for r in rows],
                batch_size=self._batch_size,
                progress=progress,
                checkpoint=lambda: _check_cancel(cancel),
            )
            for j, r in enumerate(rows):
                against_r = None if against[r] < 0 else against[r]
                maps[r] = make_cam_map(result[j], classes[r], method.name, choice.name, against_r)
        return maps

    def _kind_maps(self, chunk, features, classes, against, method, choice, progress, cancel) -> np.ndarray:
        """Maps before ReLU (one per row of ``classes``) of one batch: the one place that picks how a
        method is computed, by its registry ``kind`` (a new kind is one more branch here)."""
        kind = method.kind
        if kind == "gradient":
            return self._backend.gradient_maps(features, classes, against, choice, method)
        if kind == "activations":
            return self._backend.activation_maps(features, classes, choice, method)
        if kind == "masked":
            return self._masked_maps(chunk, features, classes, against, choice, method, progress, cancel)
        raise ValueError(f"{method.name}: no way to compute a method of kind {kind!r} ({', '.join(registry.KINDS)}).")

    def _masked_count(self, k: int) -> int:
        """How many of a layer's ``k`` channels Score-CAM masks the image with (part of its cache key)."""
        return k if self._scorecam_channels is None else min(k, self._scorecam_channels)

    def _kept_masked_passes(self, choice, image_key, k: int):
        """Score-CAM's kept (channels, scores (m, C)) of one image at one layer of ``k`` channels, or None."""
        with self._cache_lock:
            return self._masked_scores.get((choice.name, image_key, self._masked_count(k)))

    def _masked_maps(self, prepared, features, classes, against, choice, method, progress, cancel) -> np.ndarray:
        """Score-CAM maps, one per row: the masked passes are run once per image (and kept, with the
        features), and every class's score is read from the same passes."""
        backend = self._backend
        m = self._masked_count(backend.channels(features))
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
            row = i if backend.rows(features) > 1 else 0  # one image's features may serve all rows
            if known[key] is None:
                known[key] = self._masked_passes(prepared[i], features, row, m, choice, progress, cancel, counter)
                with self._cache_lock:
                    self._masked_scores[(choice.name, key, m)] = known[key]
                    while len(self._masked_scores) > self._cache_size:
                        self._masked_scores.popitem(last=False)
            channels, scores = known[key]
            picked = scores[:, [classes[r] for r in rows]]  # (m, rows)
            other = scores[:, [max(against[r], 0) for r in rows]]
            target = picked - np.where(np.array([against[r] >= 0 for r in rows]), other, np.zeros_like(other))
            result = backend.combine_masked(features, row, channels, np.ascontiguousarray(target.T), choice, method)
            for j, r in enumerate(rows):
                maps[r] = result[j]
        return np.stack(maps)

    def _masked_passes(self, p, features, row, m, choice, progress, cancel, counter):
        """The m channels one image is masked with and the model's scores (m, classes) of the image
        masked by each, in batches (cancellable, with progress)."""
        backend = self._backend
        channels = backend.masked_channels(features, row, m, choice)
        parts = []
        for start in range(0, m, self._batch_size):
            _check_cancel(cancel)
            stop = min(m, start + self._batch_size)
            parts.append(backend.masked_scores(p.model_input, features, row, channels, start, stop, choice))
            self.masked_pass_count += stop - start
            counter["done"] += stop - start
            if progress is not None:
                progress(counter["done"], counter["total"])
        return channels, np.concatenate(parts, axis=0)


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
