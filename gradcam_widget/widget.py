"""GradCAMWidget: the kernel half of the widget (traits and observers; no TensorFlow here).

The kernel owns numbers, the browser owns pixels (docs/protocol.md): this module sends the display
image once, the top-k classes and their raw maps from one batched engine call, and answers a click on
any other class with one map tagged with the (class, method, layer) it answers. Colormap and opacity
are pure display state, mirrored here only so ``to_png()`` draws what the screen shows.
"""

from __future__ import annotations

import base64
import io
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path

import anywidget
import numpy as np
import traitlets

from . import colormaps, kernel_hooks, scale_modes, static_view, steps_panel
from .frontend import front_end_source
from . import registry
from .background import PROGRESS_INTERVAL_S, BackgroundJob  # noqa: F401 - the interval, re-exported
from .map_key import MapKey
from .validation import check_top_k as _check_top_k
from . import trust as trust_report
from . import images as imgs
from .images import cap_size
from .labels import class_names_for
from .edit_session import EditSession
from . import whatif

#: Top classes precomputed when top_k is not given (fewer when the model has fewer classes).
DEFAULT_TOP_K = 5
#: On-demand maps kept per widget (a 14x14 map is ~1 KB; this bounds memory, not speed).
CACHE_SIZE = 256
# Slow methods (the registry's ``slow``, e.g. Score-CAM's masked passes) are computed off the comm
# thread, so clicks made meanwhile are received at once, supersede the running request and stop it at
# its next batch. ``SLOW_METHODS`` (module attribute) is that set, read from the registry.
#: Trust reports kept per widget, so going back to a class shows its report at once.
TRUST_CACHE_SIZE = 16

_MISSING_ESM = """
export default { render({ el }) {
  el.textContent = "gradcam-widget: the front end (gradcam.js) is missing from this installation. " +
    "Reinstall gradcam-widget.";
} };
"""


def encode_png(rgb: np.ndarray, compress_level: int = 6) -> bytes:
    """PNG bytes of a uint8 HxWx3 array (``compress_level`` 0: stored, fastest, for the what-if brush's pictures)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").save(
        buf, format="PNG", compress_level=compress_level
    )
    return buf.getvalue()


def map_payload(cam, key: MapKey, signed: bool = False) -> dict:
    """One map as the browser receives it, tagged with the request it answers (see protocol).
    ``signed``: with the map before ReLU too (the signed scale mode draws it)."""
    raw = np.ascontiguousarray(cam.raw, dtype="<f4")
    height, width = raw.shape
    return {
        **key.wire(),
        "height": int(height),
        "width": int(width),
        "raw": raw.tobytes(),
        "maximum": float(cam.maximum),
        "has_evidence": bool(cam.has_evidence),
        **(_signed_fields(cam) if signed else {}),
    }


def _signed_fields(cam) -> dict:
    """The map before ReLU, for the signed scale mode (absent for maps made without it)."""
    if cam.signed is None:
        return {}
    return {"signed": np.ascontiguousarray(cam.signed, dtype="<f4").tobytes(), "signed_max": cam.signed_max}


def top_classes(probabilities: np.ndarray, logits: np.ndarray, names: list[str], k: int) -> list[dict]:
    """The k most probable classes in rank order (ties keep the lower index first)."""
    probs = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    scores = np.asarray(logits, dtype=np.float64).reshape(-1)
    order = np.argsort(-np.nan_to_num(probs, nan=-np.inf), kind="stable")[:k]
    return [
        {"index": int(i), "name": names[i], "probability": float(probs[i]), "score": float(scores[i])} for i in order
    ]


def _error_message(err: Exception) -> str:
    text = str(err).strip()
    if isinstance(err, (ValueError, TypeError, FileNotFoundError)) and text:
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


class _LRU(OrderedDict):
    """A small least-recently-used cache of CamMaps keyed by MapKey; thread-safe,
    since slow methods fill it from a worker thread."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size
        self._lock = threading.Lock()

    def get_fresh(self, key):
        with self._lock:
            if key not in self:
                return None
            self.move_to_end(key)
            return self[key]

    def snapshot(self) -> list:
        """The (key, value) pairs, least recently used first."""
        with self._lock:
            return list(self.items())

    def put(self, key, value) -> None:
        with self._lock:
            self[key] = value
            self.move_to_end(key)
            while len(self) > self.size:
                self.popitem(last=False)


class GradCAMWidget(anywidget.AnyWidget):
    """Interactive Grad-CAM view of one image: click a class, see where the model looks.

    Build it with :func:`show_gradcam`, or directly from an :class:`~gradcam_widget.Explainer`.
    ``display_image``: the picture to show instead of the image (never fed to the model).
    ``contrast``: a class b; every map is then the explainer's contrastive map "why k rather than b"
    (fixed for the widget's life; the explorer's third panel).
    Python side: ``selected_class`` (int, synced both ways), ``heatmap`` (normalised map of the
    selection), ``to_png(path)`` (the overlay as shown).
    """

    _esm = front_end_source("gradcam.js", _MISSING_ESM)
    _css = front_end_source("gradcam.css")

    # Kernel -> browser
    image = traitlets.Bytes(b"").tag(sync=True)
    image_size = traitlets.List(traitlets.Int(), default_value=[0, 0]).tag(sync=True)
    class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    top_classes = traitlets.List(traitlets.Dict()).tag(sync=True)
    maps = traitlets.List(traitlets.Dict()).tag(sync=True)
    extra_map = traitlets.Dict().tag(sync=True)
    methods = traitlets.List(traitlets.Unicode()).tag(sync=True)
    method_labels = traitlets.Dict().tag(sync=True)  # method name -> its name in words (the registry's)
    layers = traitlets.List(traitlets.Unicode()).tag(sync=True)
    status = traitlets.Dict().tag(sync=True)
    stale = traitlets.Bool(False).tag(sync=True)  # the maps shown were computed for earlier weights
    notice = traitlets.Unicode("").tag(sync=True)  # why the kernel refused a value the page sent
    colormap_tables = traitlets.Dict().tag(sync=True)
    diverging_table = traitlets.Bytes(b"").tag(sync=True)
    trust = traitlets.Dict().tag(sync=True)
    image_note = traitlets.Unicode("").tag(sync=True)
    contrast = traitlets.Int(None, allow_none=True).tag(sync=True)
    # Both directions
    selected_class = traitlets.Int(0).tag(sync=True)
    method = traitlets.Unicode("gradcam").tag(sync=True)
    layer = traitlets.Unicode("").tag(sync=True)
    colormap = traitlets.Unicode("jet").tag(sync=True)
    opacity = traitlets.Float(0.4).tag(sync=True)
    trust_open = traitlets.Bool(False).tag(sync=True)
    trust_scorecam = traitlets.Bool(False).tag(sync=True)
    # The what-if brush (edit_session.py): the page sends the whole edit, the kernel answers with the
    # edited image (in ``image``), the probabilities before -> after and ``edit_state``.
    edit = traitlets.Dict().tag(sync=True)
    edit_state = traitlets.Dict().tag(sync=True)
    edit_fills = traitlets.List(traitlets.Unicode(), default_value=list(whatif.FILLS)).tag(sync=True)
    # Teaching (issue 17): the main view's scale mode, the step-through panel and its channel view.
    scale_mode = traitlets.Unicode("per_map").tag(sync=True)
    scale = traitlets.Dict().tag(sync=True)  # kernel: the modes and the shared mode's common maximum
    steps_open = traitlets.Bool(False).tag(sync=True)
    steps_channel = traitlets.Int(-1).tag(sync=True)  # the channel shown over the image (-1: the map)
    steps = traitlets.Dict().tag(sync=True)  # kernel: the step-through of the selection's map

    def __init__(
        self,
        explainer,
        image,
        class_names=None,
        top_k: int | None = None,
        method: str = "gradcam",
        layer: str | None = None,
        colormap: str = "jet",
        opacity: float = 0.4,
        *,
        display_image=None,
        contrast: int | None = None,
        **kwargs,
    ):
        self._ready = False
        self._explainer = explainer
        _check_colormap(colormap)
        _check_opacity(opacity)
        if registry.info(method) is None:
            raise ValueError(f"unknown method {method!r}; use one of: {', '.join(registry.names())}.")
        # Prepare once (this also builds a never-called Sequential model, so its layers are known);
        # every later engine call reuses the prepared image and the engine's feature cache.
        self._input = explainer.prepare(image)
        num_classes = int(explainer.num_classes)
        names = class_names_for(num_classes, class_names)
        top_k = min(DEFAULT_TOP_K, num_classes) if top_k is None else top_k
        _check_top_k(top_k, num_classes)
        layer = explainer.layer_name if layer is None else layer
        if not isinstance(layer, str) or not layer:
            raise TypeError(
                f"layer must be a layer name (str), got {layer!r}. Candidates: {', '.join(explainer.candidate_layers)}."
            )
        if contrast is not None:
            contrast = explainer.check_class(contrast)
        self._contrast = contrast
        shown, note = self._input.display, self._input.note
        if display_image is not None:  # the user's own picture of what they pass preprocessed
            shown, note = imgs.display(display_image, hint=False)
        self._display = np.ascontiguousarray(cap_size(shown))
        self._weights_version = explainer.weights_version
        scores = explainer.scores(self._input)
        top = top_classes(scores.probabilities, scores.logits, names, int(top_k))
        self._top_indices = [t["index"] for t in top]
        self._cache = _LRU(CACHE_SIZE)
        self._topk_cams: dict[int, object] = {}
        self._topk_key: tuple | None = None  # MapKey.view() of the top-k maps
        self._last_error: Exception | None = None
        self._map_job = BackgroundJob("gradcam-widget-worker")  # slow maps; every request supersedes
        self._trust_job = BackgroundJob("gradcam-widget-trust")  # the trust report, the same way
        self._trust_done: _LRU = _LRU(TRUST_CACHE_SIZE)  # MapKey -> finished sections
        self._steps_panel = steps_panel.StepsPanel(self)

        selected = self._top_indices[0]
        key = MapKey(selected, method, layer, contrast)
        cams = self._engine_cams(key, self._top_indices)  # one pass
        self._store_topk(cams, key)
        height, width = self._display.shape[:2]
        super().__init__(
            image=encode_png(self._display),
            image_size=[int(width), int(height)],
            class_names=names,
            top_classes=top,
            maps=[map_payload(cams[i], key.for_class(k)) for i, k in enumerate(self._top_indices)],
            extra_map={},
            methods=list(registry.names()),
            method_labels=registry.labels(),
            layers=[str(n) for n in explainer.candidate_layers],
            status=_status("ready", "", key),
            image_note=note,
            contrast=contrast,
            colormap_tables={name: colormaps.colormap_bytes(name) for name in colormaps.COLORMAPS},
            diverging_table=colormaps.diverging_bytes(),
            selected_class=selected,
            method=method,
            layer=layer,
            colormap=colormap,
            opacity=float(opacity),
            **kwargs,
        )
        self._original_png = self.image
        self._original_probabilities = np.asarray(scores.probabilities, dtype=np.float64).reshape(-1)
        self._edits = EditSession(self, image)
        self._ready = True
        self.scale = steps_panel.scale_payload(self)
        self.on_msg(_on_page_message)
        kernel_hooks.watch(self)

    # ----------------------------------------------------------------- public Python API
    @property
    def explainer(self):
        """The explainer behind this widget (reuse it to keep its caches)."""
        return self._explainer

    @property
    def top_k(self) -> int:
        return len(self._top_indices)

    @property
    def display_image(self) -> np.ndarray:
        """The uint8 RGB picture the widget shows (longest side capped at 1024): ``display_image=`` when
        given, else derived from the image (``image_note`` says how, when not as is)."""
        return self._display.copy()

    @property
    def last_error(self) -> Exception | None:
        """The exception behind the last error status (None after a success), for debugging."""
        return self._last_error

    def wait(self, timeout: float | None = None) -> bool:
        """Block until background work (slow methods such as Score-CAM, the trust panel) has finished.

        Returns False if some is still running after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        self._edits.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        for job in (self._map_job, self._trust_job, self._steps_panel):
            job.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not self.busy

    @property
    def busy(self) -> bool:
        """True while a slow method or the trust panel computes in the background."""
        return self._map_job.busy or self._trust_job.busy or self._edits.busy or self._steps_panel.busy

    @property
    def edited_image(self) -> np.ndarray:
        """The image the model gets now: the original with the what-if edit filled in (float32 values
        as ``model.predict`` receives them before ``preprocess=``); the original when nothing is
        painted. Set ``edit`` (or paint in the page), then ``wait()``."""
        edited = self._edits.edited
        source = self._edits.source_values
        if edited is not None:
            return edited.copy()
        if source is None:
            raise TypeError("this widget's image cannot be edited (it was given as a PreparedImage).")
        return source.copy()

    @property
    def edit_mask(self) -> np.ndarray:
        """Bool (H, W) mask of the painted pixels of ``edited_image`` (all False with no edit)."""
        if self._edits.mask is not None:
            return self._edits.mask.copy()
        source = self._edits.source_values
        return np.zeros((0, 0) if source is None else source.shape[:2], dtype=bool)

    def open_trust_panel(self, scorecam: bool | None = None) -> None:
        """Open the trust panel from Python, as the button does (the report then computes in the
        background: ``wait()`` for it, read it in ``trust``)."""
        with self.hold_trait_notifications():
            if scorecam is not None:
                self.trust_scorecam = bool(scorecam)
            self.trust_open = True

    def refresh(self) -> None:
        """Recompute everything on screen with the model's current weights (after ``model.fit``,
        ``set_weights``...): top classes, their maps, the selection's map and an open trust report.
        The widget also does this by itself at the next class, method or layer change."""
        self._map_job.supersede()
        self._trust_job.supersede()
        self._weights_version = self._explainer.check_weights()
        self._cache = _LRU(CACHE_SIZE)
        self._trust_done = _LRU(TRUST_CACHE_SIZE)
        self._topk_cams, self._topk_key = {}, None
        scores = self._explainer.scores(self._input)
        top = top_classes(scores.probabilities, scores.logits, list(self.class_names), len(self._top_indices))
        self._top_indices = [t["index"] for t in top]
        with self.hold_sync():
            self.top_classes = top
            self.stale = False
        self._refresh()
        if self.trust_open:
            self._start_trust()

    def check_weights(self) -> bool:
        """True (and the page says so) when the model's weights changed since the maps on screen were
        computed. Run after every notebook cell for each open widget."""
        changed = self._explainer.weights_version != self._weights_version
        if changed and not self.stale:
            self.stale = True
        return changed

    def stop_work(self, reason: str = kernel_hooks.INTERRUPTED) -> None:
        """Stop background work (a slow method, the trust report) at its next batch; the page shows
        ``reason`` in place of what was being computed. Called on a kernel interrupt."""
        self._map_job.stop(reason)
        self._trust_job.stop(reason)
        self._steps_panel.stop(reason)

    def close(self):
        """Close the widget; its background work stops at its next batch."""
        if kernel_hooks is None:  # ipywidgets' __del__ at interpreter exit: modules are torn down,
            return  # and there is no comm or background work left to close
        kernel_hooks.unwatch(self)
        if hasattr(self, "_edits"):
            self._edits.close()
        if hasattr(self, "_trust_job"):  # not when construction failed (then __del__ closes)
            self._map_job.supersede()
            self._trust_job.supersede()
            self._steps_panel.close()
        super().close()

    @property
    def heatmap(self) -> np.ndarray:
        """Normalised map (float32, h x w, in [0, 1]) of the selected class; computed if needed."""
        return np.array(
            self._cam_for(self.selected_class, self.method, self.layer).normalized, dtype=np.float32, copy=True
        )

    def to_png(self, path=None) -> bytes:
        """The overlay as shown (image + coloured map at the current opacity), PNG-encoded.

        Writes the file too when ``path`` is given.
        """
        cam = self._cam_for(self.selected_class, self.method, self.layer)
        rgb = scale_modes.overlay(
            self._display, cam, self.scale_mode, self._common_maximum(), self.colormap, self.opacity
        )
        data = encode_png(rgb)
        if path is not None:
            Path(path).write_bytes(data)
        return data

    def computed_maps(self) -> list[dict]:
        """Every map computed so far (top-k and on demand, all methods and layers), as the browser
        receives them; what a saved page (``save_html``) can show without a kernel."""
        entries = self._cache.snapshot()
        return [map_payload(cam, key, signed=True) for key, cam in entries]

    def save_html(self, path, title: str = "Grad-CAM") -> int:
        """Save this widget as one self-contained, offline HTML page (see
        :func:`gradcam_widget.save_html`); returns the file size in bytes."""
        from .standalone import save_html

        return save_html(path, self, title=title)

    # ----------------------------------------------------------------- validation
    def set_state(self, sync_data):
        """State sent by the page (ipywidgets calls this for every message from the front end).

        Each value is checked first: an accepted one is applied as usual; a rejected one is answered
        with the kernel's own value, so the page snaps back, and ``notice`` says why. Raising here
        would only print a traceback in JupyterLab's log console and leave the page disagreeing.
        Python-side assignments do not come through here and keep raising ``TraitError``."""
        accepted, refused = {}, []
        for name, value in sync_data.items():
            try:
                accepted[name] = _check_from_page(self, name, value)
            except (TypeError, ValueError) as err:
                refused.append((name, str(err)))
        try:
            if accepted:
                super().set_state(accepted)
        except Exception as err:  # noqa: BLE001 - a check above missed something: answer, never raise
            refused.extend((name, _error_message(err)) for name in accepted)
        if refused:
            self.send_state([name for name, _ in refused])
            self.notice = " ".join(
                f"Kept {name} = {_shown(getattr(self, name))}: {why}" if name in PAGE_TRAITS else why
                for name, why in refused
            )
        elif accepted and self.notice:
            self.notice = ""

    @traitlets.validate("selected_class")
    def _valid_class(self, proposal):
        value = proposal["value"]
        n = len(self.class_names) if self.class_names else int(self._explainer.num_classes)
        if not 0 <= value < n:
            raise traitlets.TraitError(
                f"selected_class {value} is out of range: the model has {n} classes (0..{n - 1})."
            )
        return value

    @traitlets.validate("contrast")
    def _fixed_contrast(self, proposal):
        if self._ready and proposal["value"] != self._contrast:
            raise traitlets.TraitError(
                "contrast is fixed when the widget is made (its maps and the browser's "
                "cache are for that contrast); make a new widget with contrast=."
            )
        return proposal["value"]

    @traitlets.validate("opacity")
    def _valid_opacity(self, proposal):
        try:
            _check_opacity(proposal["value"])
        except ValueError as err:
            raise traitlets.TraitError(str(err)) from None
        return proposal["value"]

    @traitlets.validate("scale_mode")
    def _valid_scale_mode(self, proposal):
        try:
            return scale_modes.check_mode(proposal["value"])
        except ValueError as err:
            raise traitlets.TraitError(str(err)) from None

    @traitlets.validate("colormap")
    def _valid_colormap(self, proposal):
        try:
            _check_colormap(proposal["value"])
        except ValueError as err:
            raise traitlets.TraitError(str(err)) from None
        return proposal["value"]

    # ----------------------------------------------------------------- observers
    @traitlets.observe("selected_class")
    def _on_select(self, change):
        if self._ready:
            self._show(change["new"])

    @traitlets.observe("method", "layer")
    def _on_method_or_layer(self, change):
        # Both changed at once (hold_trait_notifications): the second call finds the maps in place.
        # Back to the pair the maps are for (after a failed change): only the status is renewed.
        if self._ready:
            self._show(self.selected_class)

    @traitlets.observe("edit")
    def _on_edit(self, change):
        if self._ready:
            self.edit_state = {"seq": change["new"].get("seq"), "state": "computing", "message": ""}
            self._edits.submit(change["new"])

    def _rescore(self, prepared, edited: bool) -> None:
        """Explain another input of the same image (the what-if edit, or the original back): the
        top-k classes stay the original's, each with its probability before the edit."""
        self._map_job.supersede()
        self._trust_job.supersede()
        with self._explainer.one_weights_check():  # scores and maps of one input: one look at the weights
            self._rescore_with(prepared, edited)
        if self.trust_open:
            self._start_trust()

    def _rescore_with(self, prepared, edited: bool) -> None:
        # at the layer on show: the features of this one forward pass serve the maps that follow
        scores = self._explainer.scores(prepared, layer=self.layer or None)
        probs = np.asarray(scores.probabilities, dtype=np.float64).reshape(-1)
        logits = np.asarray(scores.logits, dtype=np.float64).reshape(-1)
        before = self._original_probabilities
        top = [
            {
                "index": k,
                "name": self.class_names[k],
                "probability": float(probs[k]),
                "score": float(logits[k]),
                **({"before": float(before[k])} if edited else {}),
            }
            for k in self._top_indices
        ]
        self._input = prepared
        self._cache = _LRU(CACHE_SIZE)
        self._trust_done = _LRU(TRUST_CACHE_SIZE)
        self._topk_cams, self._topk_key = {}, None
        png = encode_png(cap_size(prepared.display), compress_level=0) if edited else self._original_png
        with self.hold_sync():
            self.image = png
            self.top_classes = top
            self._refresh()

    def _edit_done(self, seq, state: str, message: str, painted: float) -> None:
        self.edit_state = {"seq": seq, "state": state, "message": message, "painted": painted}

    @traitlets.observe("trust_open", "trust_scorecam", "selected_class", "method", "layer")
    def _on_trust_inputs(self, change):
        if not self._ready:
            return
        if self.trust_open:
            self._start_trust()
        else:
            self._trust_job.supersede()  # closing the panel stops its work

    @traitlets.observe("scale_mode", "maps", "extra_map", "selected_class")
    def _on_scale_inputs(self, change):
        if not self._ready:
            return
        if change["name"] == "scale_mode" and "signed" in (change["old"], change["new"]):
            self._resend_maps()  # the maps before ReLU travel only while the signed mode needs them
        scale = steps_panel.scale_payload(self)
        if scale != self.scale:
            self.scale = scale

    def _resend_maps(self) -> None:
        """The maps on the page again, with (signed mode) or without their values before ReLU."""
        signed = self.scale_mode == "signed"
        key = self._key()
        with self.hold_sync():
            if self._topk_key == key.view():
                self.maps = [map_payload(cam, key.for_class(k), signed=signed) for k, cam in self._topk_cams.items()]
            shown = self._cache.get_fresh(key)
            if shown is not None and key.class_index not in self._topk_cams:
                self.extra_map = map_payload(shown, key, signed=signed)

    @traitlets.observe("steps_open", "selected_class", "method", "layer", "maps")
    def _on_steps_inputs(self, change):
        if self._ready:
            self._steps_panel.update()

    def _common_maximum(self) -> float:
        """The shared scale's maximum (the classes shown), as the page's colour bar says it."""
        return float(steps_panel.scale_payload(self)["maximum"])

    # ----------------------------------------------------------------- internals
    def _key(self, k: int | None = None, method: str | None = None, layer: str | None = None) -> MapKey:
        """The request of the current selection (or of the class/method/layer given)."""
        return MapKey(
            int(self.selected_class if k is None else k),
            self.method if method is None else method,
            self.layer if layer is None else layer,
            self._contrast,
        )

    def _store_topk(self, cams, key: MapKey) -> None:
        self._topk_cams = {k: cams[i] for i, k in enumerate(self._top_indices)}
        self._topk_key = key.view()
        for k, cam in self._topk_cams.items():
            self._cache.put(key.for_class(k), cam)

    def _cam_for(self, k: int, method: str, layer: str, **hooks):
        """The CamMap of one class: from the top-k maps, the cache, or one engine call (``hooks``:
        progress/cancel for slow methods). Also the trust panel's source of maps."""
        key = self._key(k, method, layer)
        if self.check_weights():  # the maps kept here are for earlier weights: ask the engine
            return self._engine_cam(key, **hooks)
        if self._topk_key == key.view() and k in self._topk_cams:
            return self._topk_cams[k]
        cam = self._cache.get_fresh(key)
        if cam is None:
            cam = self._engine_cam(key, **hooks)
            self._cache.put(key, cam)
        return cam

    def _engine_cam(self, key: MapKey, **hooks):
        """One map from the explainer (see :meth:`_engine_cams`)."""
        if key.contrast is not None and key.class_index == key.contrast:
            return self._engine_cams(key, [key.class_index])[0]
        against = {} if key.contrast is None else {"contrast": key.contrast}
        return self._explainer.cam(self._input, key.class_index, method=key.method, layer=key.layer, **against, **hooks)

    def _engine_cams(self, key: MapKey, classes, **hooks) -> list:
        """The explainer's maps of ``classes`` in one pass; with ``contrast``, the contrastive maps "why
        k rather than contrast" (the contrast class itself: a zero score difference, no evidence)."""
        b, method, layer = key.contrast, key.method, key.layer
        if b is None:
            return self._explainer.cams(self._input, list(classes), method=method, layer=layer, **hooks)
        from .explain.results import make_cam_map

        others = [c for c in classes if c != b]
        found = (
            dict(
                zip(others, self._explainer.cams(self._input, others, method=method, layer=layer, contrast=b, **hooks))
            )
            if others
            else {}
        )
        if b in classes:
            found[b] = make_cam_map(np.zeros(self._explainer.layer_shape(layer)[:2], np.float32), b, method, layer, b)
        return [found[c] for c in classes]

    def _fail(self, err: Exception, key: MapKey) -> None:
        self._last_error = err
        self.status = _status("error", _error_message(err), key)

    def _show(self, k: int) -> None:
        """Answer a selection: bookkeeping for a top-k class, else one map sent as ``extra_map``."""
        if self._explainer.weights_version != self._weights_version:
            self.refresh()  # new weights: every map on screen is recomputed, not only this one
            return
        self._map_job.supersede()
        key = self._key(k)
        if self._topk_key != key.view():  # a failed method/layer change: retry the batch
            self._refresh()
            return
        if k in self._topk_cams:
            self._last_error = None
            self.status = _status("ready", "", key)
            return
        cached = self._cache.get_fresh(key)
        if cached is not None:
            self._send_extra(cached, key)
            return
        if registry.is_slow(key.method):  # a fast map is sent before a "computing" status could be drawn
            self.status = _status("computing", "", key)
        self._compute(lambda **hooks: self._engine_cam(key, **hooks), lambda cam: self._finish_extra(cam, key), key)

    def _finish_extra(self, cam, key: MapKey) -> None:
        self._cache.put(key, cam)
        self._send_extra(cam, key)

    def _send_extra(self, cam, key: MapKey) -> None:
        self._last_error = None
        with self.hold_sync():
            self.extra_map = map_payload(cam, key, signed=self.scale_mode == "signed")
            self.status = _status("ready", "", key)

    def _refresh(self) -> None:
        """Recompute the top-k maps (and an outside selection) for the current method and layer."""
        key = self._key()
        k = key.class_index
        wanted = list(self._top_indices) + ([] if k in self._top_indices else [k])
        cached = [self._cache.get_fresh(key.for_class(c)) for c in wanted]
        if all(cam is not None for cam in cached):
            self._finish_refresh(cached, wanted, key)
            return
        self.status = _status("computing", "", key)
        self._compute(
            lambda **hooks: self._engine_cams(key, wanted, **hooks),
            lambda cams: self._finish_refresh(cams, wanted, key),
            key,
        )

    def _finish_refresh(self, cams, wanted, key: MapKey) -> None:
        for c, cam in zip(wanted, cams):
            self._cache.put(key.for_class(c), cam)
        self._store_topk(cams, key)
        self._last_error = None
        with self.hold_sync():
            signed = self.scale_mode == "signed"
            self.maps = [map_payload(cams[i], key.for_class(c), signed=signed) for i, c in enumerate(self._top_indices)]
            if key.class_index not in self._top_indices:
                self.extra_map = map_payload(cams[-1], key, signed=signed)
            self.status = _status("ready", "", key)

    def _compute(self, work, finish, key: MapKey) -> None:
        """Run ``work`` now (fast methods) or on a worker thread (slow ones), then ``finish`` its result.

        A worker checks between batches whether a newer request superseded it and then stops without
        sending anything, so a superseded result is never drawn.
        """
        if not registry.is_slow(key.method):
            try:
                result = work()
            except Exception as err:  # noqa: BLE001 - any engine failure is shown, the widget stays usable
                self._fail(err, key)
                return
            finish(result)
            return
        run = self._map_job.run()

        def progress(done, total) -> None:
            if run.due(final=done == total):
                self.status = _status("computing", f"{key.method}: {done}/{total} masked passes", key)

        def body() -> None:
            from .explain import Cancelled

            try:
                result = work(progress=progress, cancel=run.superseded)
            except Cancelled:
                reason = run.stop_reason()
                if reason is not None:
                    self.status = _status("error", reason, key)
                return
            except Exception as err:  # noqa: BLE001
                if not run.superseded():
                    self._fail(err, key)
                return
            if not run.superseded():
                finish(result)

        self._map_job.start(body)

    # ----------------------------------------------------------------- trust panel
    def _start_trust(self) -> None:
        """(Re)start the report for the current selection on a worker; sections already computed for
        it are sent at once, the rest as each is ready. A newer selection stops the worker."""
        self._trust_job.supersede()
        run = self._trust_job.run()
        superseded = run.superseded
        key = self._key()
        k, method, layer = key.class_index, key.method, key.layer
        scorecam = bool(self.trust_scorecam)
        done = dict(self._trust_done.get_fresh(key) or {})
        wanted_strip = list(registry.strip_names()) + (list(registry.strip_names(slow=True)) if scorecam else [])
        report = _trust_payload(done, key, wanted_strip, "computing", "")
        complete = not report["strip_pending"] and all(report[s] for s in _TRUST_SECTIONS)
        if complete:
            report["state"] = "ready"
        if report != self.trust:
            self.trust = report
        if complete:
            return
        name = _sentence_name(self.class_names[k] if 0 <= k < len(self.class_names) else f"class {k}")

        def progress(section, n, total) -> None:
            if run.due():
                self.trust = {**self.trust, "message": f"{_section_words(section)}: {n}/{total}"}

        def publish(state: str, message: str) -> None:
            if not superseded():
                self._trust_done.put(key, dict(done))
                self.trust = _trust_payload(done, key, wanted_strip, state, message)

        def body() -> None:
            from .explain import Cancelled

            skip = frozenset(done.get("strip", {})) | frozenset(s for s in done if s != "strip")
            try:
                for section, value in trust_report.trust_sections(
                    self._explainer,
                    self._input,
                    k,
                    method,
                    layer,
                    class_name=name,
                    scorecam=scorecam,
                    cam_for=self._cam_for,
                    progress=progress,
                    cancel=superseded,
                    skip=skip,
                ):
                    if superseded():
                        return
                    if section == "strip":
                        done["strip"] = {**done.get("strip", {}), value[0]: value[1]}
                    else:
                        done[section] = value
                    publish("computing", "")
            except Cancelled:
                reason = run.stop_reason()
                if reason is not None:
                    self.trust = {**self.trust, "state": "error", "message": reason}
                return
            except Exception as err:  # noqa: BLE001 - shown in the panel; the widget stays usable
                self._last_error = err
                publish("error", _error_message(err))
                return
            publish("ready", "")

        self._trust_job.start(body)

    # ----------------------------------------------------------------- display fallback
    def _repr_mimebundle_(self, **kwargs):
        """Widget view, plus the current view as a still picture for wherever widgets cannot run
        (exported HTML, viewers that ignore widgets): ``text/html`` with the picture at display
        size and the class list as text, the same picture as ``image/png``, and a text line."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data)
        data["text/plain"] = self._describe()
        exclude = kwargs.get("exclude") or ()
        try:
            cam = self._cam_for(self.selected_class, self.method, self.layer)
            rgb = static_view.picture(
                self._display,
                self.heatmap,
                self.colormap,
                self.opacity,
                cam=cam,
                mode=self.scale_mode,
                common_maximum=self._common_maximum(),
            )
            png = encode_png(rgb)
        except Exception:  # noqa: BLE001 - no picture is better than no output at all
            return data, metadata
        if "image/png" not in exclude:
            data["image/png"] = base64.b64encode(png).decode("ascii")
        if "text/html" not in exclude:
            data["text/html"] = self._still_html(png, rgb.shape[1], rgb.shape[0])
        return data, metadata

    def _still_html(self, png: bytes, width: int, height: int) -> str:
        """The current view as static HTML (picture + class list as text), as exported pages show it."""
        k = int(self.selected_class)
        name = self.class_names[k] if 0 <= k < len(self.class_names) else f"class {k}"
        shown = (
            f"Showing: {name} (#{k}) · {self.method} · layer {self.layer} · {self.colormap}, "
            f"opacity {round(self.opacity * 100)}%"
        )
        if self.scale_mode != "per_map":
            shown += f" · scale: {scale_modes.LABELS[self.scale_mode]}"
        return static_view.static_html(
            png,
            width,
            height,
            lines=static_view.class_lines(list(self.top_classes), k, list(self.class_names)),
            shown=shown,
            note="Still picture of the widget (it needs a running kernel to be interactive).",
        )

    def _describe(self) -> str:
        k = self.selected_class
        name = self.class_names[k] if 0 <= k < len(self.class_names) else "?"
        prob = next((t["probability"] for t in self.top_classes if t["index"] == k), None)
        shown = f", p={prob:.3f}" if prob is not None else ""
        return f"GradCAMWidget(class {k} {name!r}{shown}, method={self.method!r}, layer={self.layer!r})"


_TRUST_SECTIONS = ("difference", "randomization", "faithfulness")
_SECTION_WORDS = {"faithfulness": "deletion and insertion curves: images", "randomization": "randomised models"}


def _section_words(section: str) -> str:
    """A progress line's subject: a trust section, or a slow strip method (its masked passes)."""
    entry = registry.info(section)
    if entry is not None:
        return f"{entry.label}: masked passes" if entry.masked_passes else entry.label
    return _SECTION_WORDS.get(section, section)


def _floats(values) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def _trust_payload(done: dict, key: MapKey, strip_methods: list, state: str, message: str) -> dict:
    """The ``trust`` trait (docs/protocol.md) from the sections computed so far."""
    strip = done.get("strip", {})
    report = {
        **key.wire(),
        "state": state,
        "message": message,
        "strip": [
            {**map_payload(strip[m], key._replace(method=m)), "label": trust_report.method_label(m)}
            for m in strip_methods
            if m in strip
        ],
        "strip_pending": [m for m in strip_methods if m not in strip],
        "difference": {},
        "faithfulness": {},
        "randomization": {},
    }
    if "difference" in done:
        diff = done["difference"]
        values = np.ascontiguousarray(diff.values, dtype="<f4")
        report["difference"] = {
            "height": int(values.shape[0]),
            "width": int(values.shape[1]),
            "raw": values.tobytes(),
            "max_abs": float(diff.max_abs),
            "text": diff.text,
        }
    if "faithfulness" in done:
        f = done["faithfulness"]
        report["faithfulness"] = {
            "baseline": f.baseline,
            "steps": int(len(f.fractions) - 1),
            "fractions": _floats(f.fractions),
            "deletion": _floats(f.deletion),
            "insertion": _floats(f.insertion),
            "random_deletion": _floats(f.random_deletion),
            "random_insertion": _floats(f.random_insertion),
            "deletion_auc": float(f.deletion_auc),
            "insertion_auc": float(f.insertion_auc),
            "random_deletion_auc": float(f.random_deletion_auc),
            "random_insertion_auc": float(f.random_insertion_auc),
            "random_maps": int(f.random_maps),
            "verdict": f.verdict,
        }
    if "randomization" in done:
        r = done["randomization"]
        report["randomization"] = {
            "correlations": _floats(r.correlations),
            "steps": list(r.steps),
            "final": float(r.final),
            "passed": bool(r.passed),
            "verdict": r.verdict,
        }
    return report


def _status(state: str, message: str, key: MapKey) -> dict:
    return {"state": state, "message": message, **key.wire()}


def _check_colormap(name) -> None:
    if name not in colormaps.COLORMAPS:
        raise ValueError(f"unknown colormap {name!r}; use one of: {', '.join(colormaps.COLORMAPS)}.")


def _check_opacity(value) -> None:
    try:
        ok = 0.0 <= float(value) <= 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"opacity must be a number in [0, 1], got {value!r}.")


#: Traits the page may set; the kernel computes every other one (a page setting those is refused).
PAGE_TRAITS = (
    "selected_class",
    "method",
    "layer",
    "colormap",
    "opacity",
    "trust_open",
    "trust_scorecam",
    "scale_mode",
    "steps_open",
    "steps_channel",
    "edit",
)


def _check_from_page(widget, name: str, value):
    """The value the page sent for ``name``, checked as a Python assignment would be, or a
    ValueError/TypeError saying why it is refused (see GradCAMWidget.set_state)."""
    if name not in PAGE_TRAITS:
        if name not in GradCAMWidget.class_own_traits(sync=True):
            return value  # ipywidgets'/anywidget's own traits (layout, ...): theirs to check
        raise ValueError(f"{_shown(name, 40)} is computed by the kernel; the page cannot set it.")
    if name == "selected_class":
        n = len(widget.class_names)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"a class index must be a whole number 0..{n - 1}, got {_shown(value)}.")
        if not 0 <= value < n:
            raise ValueError(f"class {_shown(value)} is out of range: the model has {n} classes (0..{n - 1}).")
        return value
    if name == "edit":
        whatif.check_edit(value)  # the what-if brush's edit: refused whole when any part is wrong
        return value
    if name in ("method", "layer"):
        if not isinstance(value, str) or not value:
            raise TypeError(f"{name} must be a name from the menu, got {_shown(value)}.")
        return value
    if name == "colormap":
        if not isinstance(value, str) or value not in colormaps.COLORMAPS:
            raise ValueError(f"unknown colormap {_shown(value)}; use one of: {', '.join(colormaps.COLORMAPS)}.")
        return value
    if name == "opacity":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"opacity must be a number in [0, 1], got {_shown(value)}.")
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"opacity must be a number in [0, 1], got {_shown(value)}.")
        return float(value)
    if name == "scale_mode":
        if not isinstance(value, str) or value not in scale_modes.MODES:
            raise ValueError(f"unknown scale mode {_shown(value)}; use one of: {', '.join(scale_modes.MODES)}.")
        return value
    if name == "steps_channel":
        if isinstance(value, bool) or not isinstance(value, int) or value < -1:
            raise TypeError(f"steps_channel must be a channel number or -1, got {_shown(value)}.")
        return value
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false, got {_shown(value)}.")
    return value


#: Right-to-left scripts and bidi controls: text holding them can reorder the words around it.
_BIDI_SENSITIVE = re.compile(
    "[\u0590-\u08ff\u200e\u200f\u202a-\u202e\u2066-\u2069\ufb1d-\ufdff\ufe70-\ufeff"
    "\U00010800-\U00010fff\U0001e800-\U0001efff]"
)


def _sentence_name(name: str, limit: int = 80) -> str:
    """A class name to put inside a sentence (the trust report's verdicts): cut to ``limit``
    characters, and isolated (FSI ... PDI) when its text direction could reorder the sentence.
    The same rule as isolatedName() in js/lib/maps.js."""
    text = name if len(name) <= limit else name[: limit - 1] + "…"
    return f"\u2068{text}\u2069" if _BIDI_SENSITIVE.search(text) else text


def _shown(value, limit: int = 60) -> str:
    """repr() of a value for a message, cut to ``limit`` characters (the page may send anything)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _on_page_message(widget, content, buffers) -> None:
    """Custom messages from the page: ``{"type": "refresh"}`` (the stale indicator's button)."""
    if isinstance(content, dict) and content.get("type") == "refresh":
        try:
            widget.refresh()
        except Exception as err:  # noqa: BLE001 - shown in place of the map, never a traceback in the log
            widget._fail(err, widget._key())


def show_gradcam(
    model,
    img,
    *,
    class_names=None,
    top_k: int | None = None,
    layer: str | None = None,
    method: str = "gradcam",
    preprocess=None,
    colormap: str = "jet",
    opacity: float = 0.4,
    display_image=None,
    output=None,
    input_size=None,
) -> GradCAMWidget:
    """Show an interactive Grad-CAM widget for one image.

    ``img`` reaches the model as ``model.predict`` would get it (see :mod:`gradcam_widget.images`),
    then ``preprocess`` when given. ``display_image``: the picture to show instead of ``img``
    (e.g. the original photo when ``img`` is already preprocessed); it never reaches the model.

    ``model`` is a Keras model, or an existing :class:`~gradcam_widget.Explainer` to reuse its caches
    (then ``preprocess`` belongs to that Explainer). ``top_k`` classes get their maps precomputed
    (default 5, or every class when the model has fewer). ``class_names`` defaults to the ImageNet
    names for 1000-class models and to "class i" otherwise. ``output``: the output to explain of a
    model with several (name or index). ``input_size``: (height, width) for a model that accepts any
    size (default: the image at its own size).
    """
    from .explain import explainer_for

    explainer = explainer_for(
        model,
        "show_gradcam",
        layer=layer,
        preprocess=preprocess,
        output=output,
        input_size=input_size,
        compiled="background",
    )
    return GradCAMWidget(
        explainer,
        img,
        class_names=class_names,
        top_k=top_k,
        method=method,
        layer=layer,
        colormap=colormap,
        opacity=opacity,
        display_image=display_image,
    )


def __getattr__(name):
    if name == "SLOW_METHODS":  # read at each use, so a method registered later is included
        return registry.slow_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
