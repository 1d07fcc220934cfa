"""The CAM methods the package knows: one table, no TensorFlow, read by every part that names a method.

`gradcam_widget.METHODS`, the widget's method menu and slow set, the trust strip, the labels the front
end shows and the explainer's choice of program all come from here, so a method is added in one place:
its function (in ``explain/methods.py``, or any importable callable) and one :func:`register` call.
The function may be given as ``"module:attr"`` so that importing this table never imports TensorFlow.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

#: What a method needs from the model: gradients of the class score, masked forward passes, only
#: the activations, or forward passes of perturbed images (no layer, no gradients: occlusion).
KINDS = ("gradient", "masked", "activations", "perturbation")


@dataclass(frozen=True)
class MethodInfo:
    """One CAM method and the facts the widget, the trust panel and the explainer ask about it.

    ``function`` computes the map before ReLU: ``(activations, gradients) -> (N, h, w)`` for the
    "gradient" and "activations" kinds (gradients None for the latter), ``(activations, channel_scores,
    channels)`` for "masked", ``(score_batch, model_input, targets, *, batch_size, progress,
    checkpoint) -> (N, H, W)`` for "perturbation" (see ``explain/occlusion.py``). ``slow``: computed in the background with progress (the widget first
    shows a fast map). ``class_agnostic``: the same map for every class, so no contrastive form.
    ``mean_gradient_weights``: channel weights are the spatial mean of the gradient (Grad-CAM), which a
    pooled dense head gives without a backward pass. ``in_strip``: compared in the trust panel's strip
    (slow ones only on request).
    """

    name: str
    label: str
    kind: str
    function: Callable | str
    slow: bool = False
    class_agnostic: bool = False
    mean_gradient_weights: bool = False
    in_strip: bool = False
    aliases: tuple[str, ...] = ()

    @property
    def needs_gradients(self) -> bool:
        return self.kind == "gradient"

    @property
    def masked_passes(self) -> bool:
        return self.kind == "masked"

    def resolve(self) -> Callable:
        """The map function itself (imports its module on first use when given as "module:attr")."""
        if callable(self.function):
            return self.function
        module, _, attr = self.function.partition(":")
        return getattr(importlib.import_module(module), attr)


_REGISTRY: dict[str, MethodInfo] = {}


def register(info: MethodInfo) -> MethodInfo:
    """Add a method (or replace one of the same name); it shows in every menu from then on."""
    if not isinstance(info, MethodInfo):
        raise TypeError(f"register() takes a MethodInfo, got {type(info).__name__}.")
    if info.kind not in KINDS:
        raise ValueError(f"method kind must be one of {', '.join(KINDS)}, got {info.kind!r}.")
    _REGISTRY[info.name] = info
    return info


def unregister(name: str) -> None:
    """Remove a method added with :func:`register` (tests use it to restore the table)."""
    _REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    """Method names in menu order."""
    return tuple(_REGISTRY)


def methods() -> tuple[MethodInfo, ...]:
    return tuple(_REGISTRY.values())


def info(name: str) -> MethodInfo | None:
    """The entry of an exact method name, or None."""
    return _REGISTRY.get(name) if isinstance(name, str) else None


def lookup(name) -> MethodInfo:
    """The entry of a method name as users type it ("Grad-CAM++", "grad_cam"...), or a clear error."""
    available = ", ".join(_REGISTRY)
    if not isinstance(name, str):
        raise TypeError(f"method= must be a method name (str), got {type(name).__name__}. Available: {available}.")
    key = _squash(name)
    for entry in _REGISTRY.values():
        if key == _squash(entry.name) or key in (_squash(a) for a in entry.aliases):
            return entry
    raise ValueError(f"unknown method {name!r}. Available: {available}.")


def labels() -> dict[str, str]:
    """Method name -> its name in words, for the front end."""
    return {m.name: m.label for m in _REGISTRY.values()}


def label(name: str) -> str:
    entry = info(name)
    return entry.label if entry is not None else str(name)


def slow_names() -> frozenset[str]:
    return frozenset(m.name for m in _REGISTRY.values() if m.slow)


def is_slow(name: str) -> bool:
    entry = info(name)
    return entry is not None and entry.slow


def strip_names(slow: bool = False) -> tuple[str, ...]:
    """The trust strip's methods: the fast ones, or (``slow=True``) the ones added on request."""
    return tuple(m.name for m in _REGISTRY.values() if m.in_strip and m.slow == slow)


def _squash(name: str) -> str:
    return name.strip().lower().replace("_", "").replace("-", "")


_M = "gradcam_widget.explain.methods:"
for _entry in (
    MethodInfo("gradcam", "Grad-CAM", "gradient", _M + "gradcam", mean_gradient_weights=True, in_strip=True),
    MethodInfo(
        "gradcam++",
        "Grad-CAM++",
        "gradient",
        _M + "gradcam_plus_plus",
        in_strip=True,
        aliases=("gradcampp", "gradcamplusplus"),
    ),
    MethodInfo("hirescam", "HiResCAM", "gradient", _M + "hirescam", in_strip=True),
    MethodInfo("layercam", "Layer-CAM", "gradient", _M + "layercam", in_strip=True),
    MethodInfo("xgradcam", "XGrad-CAM", "gradient", _M + "xgradcam"),
    MethodInfo("eigencam", "Eigen-CAM", "activations", _M + "eigencam", class_agnostic=True),
    MethodInfo("scorecam", "Score-CAM", "masked", _M + "scorecam_combine", slow=True, in_strip=True),
    # Patch and stride: occlusion.PATCH_FRACTION / STRIDE_FRACTION of the input's shorter side; other
    # settings with register(occlusion_method(patch=..., stride=...)) (explain/occlusion.py).
    MethodInfo(
        "occlusion",
        "Occlusion",
        "perturbation",
        "gradcam_widget.explain.occlusion:occlusion",
        slow=True,
        aliases=("occlusionsensitivity",),
    ),
):
    register(_entry)
del _entry
