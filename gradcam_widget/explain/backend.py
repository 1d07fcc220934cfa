"""What the backend-neutral :class:`~gradcam_widget.explain.Explainer` needs from an engine: the model's
structure, a batch's features and scores, the maps of a method kind, full forward passes, Score-CAM's
masked passes, compilation and a weights sample. No TensorFlow here.

The Explainer keeps the caches, validation, batching, cancellation and the public API; a backend only
computes. Features are the backend's own opaque values (the Keras one: :class:`keras_backend.Features`
of TensorFlow tensors); the Explainer stores, splits and joins them only through the backend. Maps and
scores cross back as numpy arrays. The Keras/TensorFlow backend is
:class:`~gradcam_widget.explain.keras_backend.KerasBackend`.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Layer(Protocol):
    """A layer maps can be computed at, as the backend describes it."""

    name: str  # the name users pass as ``layer=``
    shape: tuple  # (h, w, channels) of its maps


@runtime_checkable
class Backend(Protocol):
    """An engine computing over one model (see the module docstring)."""

    # ---- structure (valid once ``ready``) ------------------------------------------------------
    @property
    def model(self) -> Any: ...
    @property
    def ready(self) -> bool:
        """True once the model's structure has been read (:meth:`setup`)."""

    @property
    def built(self) -> bool:
        """True when the model has a graph to read now (else :meth:`setup` needs an image shape)."""

    def setup(self, image_shape: tuple | None = None) -> None: ...
    @property
    def input_shape(self) -> tuple:
        """One model input's shape without the batch axis (None sides: any size)."""

    @property
    def output(self) -> tuple[int, str]: ...
    @property
    def num_outputs(self) -> int: ...
    @property
    def score_kind(self) -> str:
        """What turns the scores into the model's outputs: "softmax", "sigmoid" or "linear"."""

    @property
    def candidates(self) -> list[Layer]: ...
    @property
    def default_layer(self) -> Layer: ...
    def choice(self, layer) -> Layer:
        """The candidate ``layer`` names (or a clear error); None = the default."""

    # ---- the input side ------------------------------------------------------------------------
    @property
    def resizes_itself(self) -> bool:
        """The model's own preprocessor resizes images (so the Explainer must not)."""

    def model_side(self, batch: np.ndarray) -> np.ndarray:
        """What the model's ``predict()`` applies to a batch before its layers (or the batch)."""

    def visible(self, shown: np.ndarray) -> np.ndarray:
        """The part of a shown image the model sees."""

    # ---- features ------------------------------------------------------------------------------
    def features(self, inputs: np.ndarray, layer: Layer) -> tuple[Any, np.ndarray]:
        """(features at ``layer``, scores (N, C) float32) of one batch of model inputs."""

    def split(self, features, n: int) -> list: ...
    def join(self, parts: Sequence) -> Any: ...
    def rows(self, features) -> int: ...
    def channels(self, features) -> int: ...

    # ---- maps, one function per method kind (registry.KINDS) ------------------------------------
    def first_map(self, model_input: np.ndarray, layer: Layer, method) -> tuple[Any, np.ndarray, np.ndarray]:
        """A new image's (features, scores (1, C), top class's map (1, h, w)) in one call ("gradient")."""

    def gradient_maps(
        self, features, classes: Sequence[int], against: Sequence[int], layer: Layer, method
    ) -> np.ndarray:
        """Maps (N, h, w) before ReLU from the gradients of each class score (minus its contrast's)."""

    def activation_maps(self, features, classes: Sequence[int], layer: Layer, method) -> np.ndarray:
        """Maps (N, h, w) before ReLU from the activations alone (one per class row)."""

    def masked_channels(self, features, row: int, count: int, layer: Layer) -> Any:
        """The ``count`` channels Score-CAM masks one image with (the highest-variance ones)."""

    def masked_scores(
        self, model_input: np.ndarray, features, row: int, channels, start: int, stop: int, layer: Layer
    ) -> np.ndarray:
        """Scores (stop - start, C) of the image masked by ``channels[start:stop]``."""

    def combine_masked(self, features, row: int, channels, target: np.ndarray, layer: Layer, method) -> np.ndarray:
        """Masked-pass maps (R, h, w) of one image from each row's target scores ``target`` (R, m)."""

    def full_scores(self, inputs: np.ndarray, layer: Layer) -> np.ndarray:
        """Scores (N, C) float32 of one batch of model inputs, nothing cached."""

    # ---- compilation and weights ---------------------------------------------------------------
    @property
    def trace_count(self) -> int: ...
    def start_compiling(self) -> None: ...
    def wait_compiled(self, timeout: float | None = None) -> bool: ...
    def weights_sample(self) -> bytes: ...
    def optimizer_steps(self) -> bytes: ...
    def forget_weight_results(self) -> None:
        """Re-read what the backend derived from the weights (after they changed)."""

    def randomized_copy(self, explainer, layer: str) -> Any: ...
