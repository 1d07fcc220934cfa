"""The kernel half of the "How was this map made?" panel and of the main view's scale modes.

The engine computes the steps (Explainer.map_steps, explain/steps.py); this module turns them into the
``steps`` trait (plain numbers, float32 bytes, the one-line equation of each step as text) and keeps
the ``scale`` trait (the common maximum of the classes shown) up to date. The browser draws both
(js/lib/steps.js, js/lib/scale.js) and computes nothing. No TensorFlow here.
"""

from __future__ import annotations

import numpy as np

from . import registry, scale_modes
from .background import BackgroundJob

_SCORE = "y"  # the class score symbol in the equations
#: Per method: (what its bars are, the weights' equation, the weighted sum's equation).
_EQUATIONS = {
    "gradcam": (
        "α_k",
        "α_k = (1/Z) Σ_ij ∂y/∂A^k_ij: the mean gradient of the score over the layer's positions",
        "L = Σ_k α_k A^k",
    ),
    "gradcam++": (
        "α_k",
        "α_k = Σ_ij a_ij^k · ReLU(∂y/∂A^k_ij), with a = g² / (2g² + Σ_ab A^k_ab · g³)",
        "L = Σ_k α_k A^k",
    ),
    "xgradcam": (
        "α_k",
        "α_k = Σ_ij (A^k_ij / Σ_ab A^k_ab) · ∂y/∂A^k_ij",
        "L = Σ_k α_k A^k",
    ),
    "hirescam": (
        "mean of ∂y/∂A^k",
        "HiResCAM weights every position: w^k_ij = ∂y/∂A^k_ij (bars: their mean per channel)",
        "L_ij = Σ_k ∂y/∂A^k_ij · A^k_ij (element-wise product)",
    ),
    "layercam": (
        "mean of ReLU(∂y/∂A^k)",
        "Layer-CAM weights every position: w^k_ij = ReLU(∂y/∂A^k_ij) (bars: their mean per channel)",
        "L_ij = Σ_k ReLU(∂y/∂A^k_ij) · A^k_ij",
    ),
    "eigencam": (
        "v_k",
        "v = the first principal component of the centred activations (no class, no gradient)",
        "L = Σ_k v_k (A^k − mean A^k)",
    ),
    "scorecam": (
        "α_k",
        "α_k = softmax_k of y(image × normalised upsampled A^k): the score gain of each masked image",
        "L = Σ_k α_k A^k",
    ),
}
_RELU = "ReLU(L) = max(L, 0): only the evidence for the class is kept"
_UPSAMPLE = "ReLU(L) / max, upsampled bilinearly to the image and drawn over it"


def _f32(values) -> bytes:
    return np.ascontiguousarray(values, dtype="<f4").tobytes()


def equations(method: str, contrast_name: str | None = None) -> dict:
    """The one-line equation of each step for ``method`` (text; the page shows it as text)."""
    bars, weights, weighted = _EQUATIONS.get(method, ("weight", "", ""))
    target = "y is the class's score before softmax"
    if contrast_name is not None:
        target = f"y is the class's score minus the score of {contrast_name}"
    return {
        "activations": "A^k: the layer's activation maps, one per channel k (the channels contributing most)",
        "weights": weights.replace("∂y", f"∂{_SCORE}") + f" ({target})",
        "bars": bars,
        "sum": weighted + " before ReLU (red: for the class, blue: against)",
        "relu": _RELU,
        "upsample": _UPSAMPLE,
    }


def steps_payload(steps, key, contrast_name: str | None = None) -> dict:
    """The ``steps`` trait for one MapSteps (docs: js/lib/steps.js reads it)."""
    order = np.argsort(-steps.weights, kind="stable")
    channels = []
    for i, k in enumerate(steps.top):
        values = steps.channels[i]
        entry = {
            "channel": int(k),
            "weight": float(steps.weights[k]),
            "contribution": float(steps.contributions[k]),
            "values": _f32(values),
            "low": float(values.min(initial=0.0)),
            "high": float(values.max(initial=0.0)),
            "product": _f32(steps.products[i]),
            "product_max": float(np.abs(steps.products[i]).max(initial=0.0)),
        }
        if steps.gains is not None:
            entry["gain"] = float(steps.gains[k])
        channels.append(entry)
    h, w = steps.signed.shape
    return {
        **key.wire(),
        "state": "ready",
        "message": "",
        "weighting": steps.weighting,
        "equations": equations(steps.method, contrast_name),
        "height": int(h),
        "width": int(w),
        "num_channels": int(steps.weights.shape[0]),
        "channels": channels,
        "weights_sorted": _f32(steps.weights[order]),
        "weights_max": float(np.abs(steps.weights).max(initial=0.0)),
        "positive": steps.positive,
        "negative": steps.negative,
        "signed": _f32(steps.signed),
        "signed_max": float(np.abs(steps.signed).max(initial=0.0)),
        "relu": _f32(steps.relu),
        "relu_max": float(steps.relu.max(initial=0.0)),
    }


class StepsPanel:
    """Keeps ``widget.steps`` for the current selection while the panel is open: computed at once for
    fast methods (one head backward on cached features), on a worker for slow ones (Score-CAM)."""

    def __init__(self, widget):
        self._widget = widget
        self._job = BackgroundJob("gradcam-widget-steps")
        self._version = None  # the weights version the steps on show were computed with

    @property
    def busy(self) -> bool:
        return self._job.busy

    def join(self, timeout=None) -> None:
        self._job.join(timeout)

    def close(self) -> None:
        self._job.supersede()

    def stop(self, reason: str) -> None:
        """Stop a running (Score-CAM) step-through, as an interrupt stops the other workers."""
        self._job.stop(reason)

    def update(self) -> None:
        widget = self._widget
        self._job.supersede()
        if not widget.steps_open:
            return
        key = widget._key()
        shown = widget.steps
        if (
            shown.get("state") == "ready"
            and self._version == widget._weights_version
            and {k: shown.get(k) for k in key.wire()} == key.wire()
        ):
            return  # already on show (the maps were re-sent for the same selection)
        self._version = widget._weights_version
        names = list(widget.class_names)
        contrast_name = None if key.contrast is None else names[key.contrast]

        def work():
            steps = widget.explainer.map_steps(
                widget._input, key.class_index, key.method, layer=key.layer, contrast=key.contrast
            )
            return steps_payload(steps, key, contrast_name)

        def fail(err):
            from .widget import _error_message

            widget._last_error = err
            return {**key.wire(), "state": "error", "message": _error_message(err)}

        if not registry.is_slow(key.method):
            try:
                widget.steps = work()
            except Exception as err:  # noqa: BLE001 - shown in the panel; the widget stays usable
                widget.steps = fail(err)
            return
        widget.steps = {**key.wire(), "state": "computing", "message": ""}
        run = self._job.run()

        def body():
            try:
                payload = work()
            except Exception as err:  # noqa: BLE001
                payload = fail(err)
            if not run.superseded():
                widget.steps = payload

        self._job.start(body)


def scale_payload(widget) -> dict:
    """The ``scale`` trait: the mode, the modes' words, and the common maximum of the classes shown
    (the top-k maps and the selection's map) for the shared mode."""
    cams = list(widget._topk_cams.values())
    selected = widget._cache.get_fresh(widget._key())
    if selected is not None:
        cams.append(selected)
    return {
        "mode": widget.scale_mode,
        "modes": [[m, scale_modes.LABELS[m]] for m in scale_modes.MODES],
        "maximum": scale_modes.shared_maximum(cams),
    }
