"""What the rest of the package may use of an explainer: widget, trust, metrics and explore call
these members and nothing else (tests/test_structure.py checks no private member is reached from
outside ``explain/``). :class:`~gradcam_widget.explain.Explainer` implements it over any backend
(:mod:`gradcam_widget.explain.backend`; the Keras/TensorFlow one is ``keras_backend.KerasBackend``),
so a second engine is a second backend, not a second explainer. No TensorFlow here."""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence, runtime_checkable


@runtime_checkable
class ExplainerAPI(Protocol):
    """The explainer as its callers see it: prepared images, scores, maps, weights bookkeeping."""

    @property
    def model(self) -> Any: ...
    @property
    def output(self) -> tuple[int, str]: ...
    @property
    def layer_name(self) -> str: ...
    @property
    def candidate_layers(self) -> list[str]: ...
    @property
    def num_classes(self) -> int: ...
    @property
    def multi_label(self) -> bool: ...
    @property
    def cache_size(self) -> int: ...
    @property
    def weights_version(self) -> int: ...

    def layer_shape(self, layer=None) -> tuple: ...
    def prepare(self, image) -> Any: ...
    def prepare_batch(self, images) -> list: ...
    def model_pixels(self, image) -> Any: ...
    def model_pixels_batch(self, images) -> Any: ...
    def check_weights(self) -> int: ...
    def check_class(self, class_index) -> int: ...
    def scores(self, image, *, layer=None) -> Any: ...
    def scores_batch(self, images) -> Any: ...
    def scores_of_pixels(self, pixels) -> Any: ...
    def scores_cached(self, prepared, *, layer=None) -> Any: ...
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
    ) -> Any: ...
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
    ) -> list: ...
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
    ) -> list: ...
    def randomized_copy(self, layer: str | None = None) -> Any: ...
