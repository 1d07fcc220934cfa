"""GradCAMWidget: the kernel half of the widget (traits and observers; no TensorFlow here).

The kernel owns numbers, the browser owns pixels (docs/protocol.md): this module sends the display
image once, the top-k classes and their raw maps from one batched engine call, and answers a click on
any other class with one map tagged with the (class, method, layer) it answers. Colormap and opacity
are pure display state, mirrored here only so ``to_png()`` draws what the screen shows.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from collections import OrderedDict
from pathlib import Path

import anywidget
import numpy as np
import traitlets

from . import colormaps
from .frontend import front_end_source
from . import trust as trust_report
from .images import cap_size
from .labels import class_names_for

#: Longest side of the PNG put into the notebook file as the no-widget fallback (keeps files small).
FALLBACK_MAX_SIDE = 512
#: Top classes precomputed when top_k is not given (fewer when the model has fewer classes).
DEFAULT_TOP_K = 5
#: On-demand maps kept per widget (a 14x14 map is ~1 KB; this bounds memory, not speed).
CACHE_SIZE = 256
#: Methods that run many masked forward passes: computed off the comm thread, so clicks made
#: meanwhile are received at once, supersede the running request and stop it at its next batch.
SLOW_METHODS = frozenset({"scorecam"})
#: Trust reports kept per widget, so going back to a class shows its report at once.
TRUST_CACHE_SIZE = 16
#: Least time between two progress updates sent to the browser.
PROGRESS_INTERVAL_S = 0.2

_MISSING_ESM = """
export default { render({ el }) {
  el.textContent = "gradcam-widget: the front end (gradcam.js) is missing from this installation. " +
    "Reinstall gradcam-widget.";
} };
"""


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of a uint8 HxWx3 array."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").save(buf, format="PNG")
    return buf.getvalue()


def map_payload(cam, class_index: int, method: str, layer: str) -> dict:
    """One map as the browser receives it, tagged with the request it answers (see protocol)."""
    raw = np.ascontiguousarray(cam.raw, dtype="<f4")
    height, width = raw.shape
    return {
        "class_index": int(class_index),
        "method": str(method),
        "layer": str(layer),
        "height": int(height),
        "width": int(width),
        "raw": raw.tobytes(),
        "maximum": float(cam.maximum),
        "has_evidence": bool(cam.has_evidence),
    }


def top_classes(probabilities: np.ndarray, logits: np.ndarray, names: list[str], k: int) -> list[dict]:
    """The k most probable classes in rank order (ties keep the lower index first)."""
    probs = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    scores = np.asarray(logits, dtype=np.float64).reshape(-1)
    order = np.argsort(-np.nan_to_num(probs, nan=-np.inf), kind="stable")[:k]
    return [
        {"index": int(i), "name": names[i], "probability": float(probs[i]), "score": float(scores[i])}
        for i in order
    ]


def _error_message(err: Exception) -> str:
    text = str(err).strip()
    if isinstance(err, (ValueError, TypeError, FileNotFoundError)) and text:
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


class _LRU(OrderedDict):
    """A small least-recently-used cache of CamMaps keyed by (class, method, layer); thread-safe,
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

    def put(self, key, value) -> None:
        with self._lock:
            self[key] = value
            self.move_to_end(key)
            while len(self) > self.size:
                self.popitem(last=False)


class GradCAMWidget(anywidget.AnyWidget):
    """Interactive Grad-CAM view of one image: click a class, see where the model looks.

    Build it with :func:`show_gradcam`, or directly from an :class:`~gradcam_widget.Explainer`.
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
    layers = traitlets.List(traitlets.Unicode()).tag(sync=True)
    status = traitlets.Dict().tag(sync=True)
    colormap_tables = traitlets.Dict().tag(sync=True)
    diverging_table = traitlets.Bytes(b"").tag(sync=True)
    trust = traitlets.Dict().tag(sync=True)
    # Both directions
    selected_class = traitlets.Int(0).tag(sync=True)
    method = traitlets.Unicode("gradcam").tag(sync=True)
    layer = traitlets.Unicode("").tag(sync=True)
    colormap = traitlets.Unicode("jet").tag(sync=True)
    opacity = traitlets.Float(0.4).tag(sync=True)
    trust_open = traitlets.Bool(False).tag(sync=True)
    trust_scorecam = traitlets.Bool(False).tag(sync=True)

    def __init__(self, explainer, image, class_names=None, top_k: int | None = None, method: str = "gradcam",
                 layer: str | None = None, colormap: str = "jet", opacity: float = 0.4, **kwargs):
        from . import METHODS

        self._ready = False
        self._explainer = explainer
        _check_colormap(colormap)
        _check_opacity(opacity)
        if not isinstance(method, str) or method not in METHODS:
            raise ValueError(f"unknown method {method!r}; use one of: {', '.join(METHODS)}.")
        # Prepare once (this also builds a never-called Sequential model, so its layers are known);
        # every later engine call reuses the prepared image and the engine's feature cache.
        self._input = explainer.prepare(image)
        num_classes = int(explainer.num_classes)
        names = class_names_for(num_classes, class_names)
        top_k = min(DEFAULT_TOP_K, num_classes) if top_k is None else top_k
        _check_top_k(top_k, num_classes)
        layer = explainer.layer_name if layer is None else layer
        if not isinstance(layer, str) or not layer:
            raise TypeError(f"layer must be a layer name (str), got {layer!r}. Candidates: "
                            f"{', '.join(explainer.candidate_layers)}.")
        self._display = np.ascontiguousarray(cap_size(self._input.display))
        scores = explainer.scores(self._input)
        top = top_classes(scores.probabilities, scores.logits, names, int(top_k))
        self._top_indices = [t["index"] for t in top]
        self._cache = _LRU(CACHE_SIZE)
        self._topk_cams: dict[int, object] = {}
        self._topk_key: tuple[str, str] | None = None
        self._last_error: Exception | None = None
        self._generation = 0          # bumped by every request; a worker whose request is older stops
        self._worker: threading.Thread | None = None
        self._trust_generation = 0    # the same for the trust panel's worker
        self._trust_worker: threading.Thread | None = None
        self._trust_done: _LRU = _LRU(TRUST_CACHE_SIZE)  # (class, method, layer) -> finished sections

        selected = self._top_indices[0]
        cams = explainer.cams(self._input, self._top_indices, method=method, layer=layer)  # one pass
        self._store_topk(cams, method, layer)
        height, width = self._display.shape[:2]
        super().__init__(
            image=encode_png(self._display),
            image_size=[int(width), int(height)],
            class_names=names,
            top_classes=top,
            maps=[map_payload(cams[i], k, method, layer) for i, k in enumerate(self._top_indices)],
            extra_map={},
            methods=list(METHODS),
            layers=[str(n) for n in explainer.candidate_layers],
            status=_status("ready", "", selected, method, layer),
            colormap_tables={name: colormaps.colormap_bytes(name) for name in colormaps.COLORMAPS},
            diverging_table=colormaps.diverging_bytes(),
            selected_class=selected,
            method=method,
            layer=layer,
            colormap=colormap,
            opacity=float(opacity),
            **kwargs,
        )
        self._ready = True

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
        """The uint8 RGB image the widget shows (original, longest side capped at 1024)."""
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
        for worker in (self._worker, self._trust_worker):
            if worker is not None:
                worker.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not self.busy

    @property
    def busy(self) -> bool:
        """True while a slow method or the trust panel computes in the background."""
        return any(w is not None and w.is_alive() for w in (self._worker, self._trust_worker))

    def open_trust_panel(self, scorecam: bool | None = None) -> None:
        """Open the trust panel from Python, as the button does (the report then computes in the
        background: ``wait()`` for it, read it in ``trust``)."""
        with self.hold_trait_notifications():
            if scorecam is not None:
                self.trust_scorecam = bool(scorecam)
            self.trust_open = True

    @property
    def heatmap(self) -> np.ndarray:
        """Normalised map (float32, h x w, in [0, 1]) of the selected class; computed if needed."""
        return np.array(self._cam_for(self.selected_class, self.method, self.layer).normalized,
                        dtype=np.float32, copy=True)

    def to_png(self, path=None) -> bytes:
        """The overlay as shown (image + coloured map at the current opacity), PNG-encoded.

        Writes the file too when ``path`` is given.
        """
        rgb = colormaps.overlay(self._display, self.heatmap, self.colormap, self.opacity)
        data = encode_png(rgb)
        if path is not None:
            Path(path).write_bytes(data)
        return data

    # ----------------------------------------------------------------- validation
    @traitlets.validate("selected_class")
    def _valid_class(self, proposal):
        value = proposal["value"]
        n = len(self.class_names) if self.class_names else int(self._explainer.num_classes)
        if not 0 <= value < n:
            raise traitlets.TraitError(f"selected_class {value} is out of range: the model has {n} "
                                       f"classes (0..{n - 1}).")
        return value

    @traitlets.validate("opacity")
    def _valid_opacity(self, proposal):
        try:
            _check_opacity(proposal["value"])
        except ValueError as err:
            raise traitlets.TraitError(str(err)) from None
        return proposal["value"]

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

    @traitlets.observe("trust_open", "trust_scorecam", "selected_class", "method", "layer")
    def _on_trust_inputs(self, change):
        if not self._ready:
            return
        if self.trust_open:
            self._start_trust()
        else:
            self._trust_generation += 1  # closing the panel stops its work

    # ----------------------------------------------------------------- internals
    def _store_topk(self, cams, method: str, layer: str) -> None:
        self._topk_cams = {k: cams[i] for i, k in enumerate(self._top_indices)}
        self._topk_key = (method, layer)
        for k, cam in self._topk_cams.items():
            self._cache.put((k, method, layer), cam)

    def _cam_for(self, k: int, method: str, layer: str, **hooks):
        """The CamMap of one class: from the top-k maps, the cache, or one engine call (``hooks``:
        progress/cancel for slow methods). Also the trust panel's source of maps."""
        if self._topk_key == (method, layer) and k in self._topk_cams:
            return self._topk_cams[k]
        cam = self._cache.get_fresh((k, method, layer))
        if cam is None:
            cam = self._explainer.cam(self._input, k, method=method, layer=layer, **hooks)
            self._cache.put((k, method, layer), cam)
        return cam

    def _fail(self, err: Exception, k: int, method: str, layer: str) -> None:
        self._last_error = err
        self.status = _status("error", _error_message(err), k, method, layer)

    def _show(self, k: int) -> None:
        """Answer a selection: bookkeeping for a top-k class, else one map sent as ``extra_map``."""
        self._generation += 1
        method, layer = self.method, self.layer
        if self._topk_key != (method, layer):  # a failed method/layer change: retry the batch
            self._refresh()
            return
        if k in self._topk_cams:
            self._last_error = None
            self.status = _status("ready", "", k, method, layer)
            return
        cached = self._cache.get_fresh((k, method, layer))
        if cached is not None:
            self._send_extra(cached, k, method, layer)
            return
        if method in SLOW_METHODS:  # a fast map is sent before a "computing" status could be drawn
            self.status = _status("computing", "", k, method, layer)
        self._compute(lambda **hooks: self._explainer.cam(self._input, k, method=method, layer=layer, **hooks),
                      lambda cam: self._finish_extra(cam, k, method, layer), k, method, layer)

    def _finish_extra(self, cam, k, method, layer) -> None:
        self._cache.put((k, method, layer), cam)
        self._send_extra(cam, k, method, layer)

    def _send_extra(self, cam, k, method, layer) -> None:
        self._last_error = None
        with self.hold_sync():
            self.extra_map = map_payload(cam, k, method, layer)
            self.status = _status("ready", "", k, method, layer)

    def _refresh(self) -> None:
        """Recompute the top-k maps (and an outside selection) for the current method and layer."""
        method, layer, k = self.method, self.layer, self.selected_class
        wanted = list(self._top_indices) + ([] if k in self._top_indices else [k])
        cached = [self._cache.get_fresh((c, method, layer)) for c in wanted]
        if all(cam is not None for cam in cached):
            self._finish_refresh(cached, wanted, k, method, layer)
            return
        self.status = _status("computing", "", k, method, layer)
        self._compute(lambda **hooks: self._explainer.cams(self._input, wanted, method=method, layer=layer,
                                                           **hooks),
                      lambda cams: self._finish_refresh(cams, wanted, k, method, layer), k, method, layer)

    def _finish_refresh(self, cams, wanted, k, method, layer) -> None:
        for c, cam in zip(wanted, cams):
            self._cache.put((c, method, layer), cam)
        self._store_topk(cams, method, layer)
        self._last_error = None
        with self.hold_sync():
            self.maps = [map_payload(cams[i], c, method, layer) for i, c in enumerate(self._top_indices)]
            if k not in self._top_indices:
                self.extra_map = map_payload(cams[-1], k, method, layer)
            self.status = _status("ready", "", k, method, layer)

    def _compute(self, work, finish, k, method, layer) -> None:
        """Run ``work`` now (fast methods) or on a worker thread (slow ones), then ``finish`` its result.

        A worker checks between batches whether a newer request superseded it and then stops without
        sending anything, so a superseded result is never drawn.
        """
        generation = self._generation
        if method not in SLOW_METHODS:
            try:
                result = work()
            except Exception as err:  # noqa: BLE001 - any engine failure is shown, the widget stays usable
                self._fail(err, k, method, layer)
                return
            finish(result)
            return

        def superseded() -> bool:
            return self._generation != generation

        last = [0.0]

        def progress(done, total) -> None:
            now = time.monotonic()
            if (now - last[0] >= PROGRESS_INTERVAL_S or done == total) and not superseded():
                last[0] = now
                self.status = _status("computing", f"{method}: {done}/{total} masked passes", k, method, layer)

        def run() -> None:
            from .explain import Cancelled

            try:
                result = work(progress=progress, cancel=superseded)
            except Cancelled:
                return
            except Exception as err:  # noqa: BLE001
                if not superseded():
                    self._fail(err, k, method, layer)
                return
            if not superseded():
                finish(result)

        self._worker = threading.Thread(target=run, name="gradcam-widget-worker", daemon=True)
        self._worker.start()

    # ----------------------------------------------------------------- trust panel
    def _start_trust(self) -> None:
        """(Re)start the report for the current selection on a worker; sections already computed for
        it are sent at once, the rest as each is ready. A newer selection stops the worker."""
        self._trust_generation += 1
        generation = self._trust_generation
        k, method, layer = int(self.selected_class), self.method, self.layer
        key = (k, method, layer)
        scorecam = bool(self.trust_scorecam)
        done = dict(self._trust_done.get_fresh(key) or {})
        wanted_strip = list(trust_report.STRIP_METHODS) + (list(trust_report.SLOW_STRIP_METHODS) if scorecam else [])
        report = _trust_payload(done, key, wanted_strip, "computing", "")
        complete = not report["strip_pending"] and all(report[s] for s in _TRUST_SECTIONS)
        if complete:
            report["state"] = "ready"
        if report != self.trust:
            self.trust = report
        if complete:
            return
        name = self.class_names[k] if 0 <= k < len(self.class_names) else f"class {k}"

        def superseded() -> bool:
            return self._trust_generation != generation

        last = [0.0]

        def progress(section, n, total) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_INTERVAL_S and not superseded():
                last[0] = now
                self.trust = {**self.trust, "message": f"{_SECTION_WORDS.get(section, section)}: {n}/{total}"}

        def publish(state: str, message: str) -> None:
            if not superseded():
                self._trust_done.put(key, dict(done))
                self.trust = _trust_payload(done, key, wanted_strip, state, message)

        def run() -> None:
            from .explain import Cancelled

            skip = frozenset(done.get("strip", {})) | frozenset(s for s in done if s != "strip")
            try:
                for section, value in trust_report.trust_sections(
                        self._explainer, self._input, k, method, layer, class_name=name, scorecam=scorecam,
                        cam_for=self._cam_for, progress=progress, cancel=superseded, skip=skip):
                    if superseded():
                        return
                    if section == "strip":
                        done["strip"] = {**done.get("strip", {}), value[0]: value[1]}
                    else:
                        done[section] = value
                    publish("computing", "")
            except Cancelled:
                return
            except Exception as err:  # noqa: BLE001 - shown in the panel; the widget stays usable
                self._last_error = err
                publish("error", _error_message(err))
                return
            publish("ready", "")

        self._trust_worker = threading.Thread(target=run, name="gradcam-widget-trust", daemon=True)
        self._trust_worker.start()

    # ----------------------------------------------------------------- display fallback
    def _repr_mimebundle_(self, **kwargs):
        """Widget view plus a PNG of the overlay and a text line, for front ends without widgets."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data)
        data["text/plain"] = self._describe()
        exclude = kwargs.get("exclude") or ()
        if "image/png" not in exclude:
            try:
                png = encode_png(cap_size(
                    colormaps.overlay(self._display, self.heatmap, self.colormap, self.opacity),
                    FALLBACK_MAX_SIDE))
            except Exception:  # noqa: BLE001 - no picture is better than no output at all
                png = None
            if png is not None:
                data["image/png"] = base64.b64encode(png).decode("ascii")
        return data, metadata

    def _describe(self) -> str:
        k = self.selected_class
        name = self.class_names[k] if 0 <= k < len(self.class_names) else "?"
        prob = next((t["probability"] for t in self.top_classes if t["index"] == k), None)
        shown = f", p={prob:.3f}" if prob is not None else ""
        return (f"GradCAMWidget(class {k} {name!r}{shown}, method={self.method!r}, "
                f"layer={self.layer!r})")


_TRUST_SECTIONS = ("difference", "randomization", "faithfulness")
_SECTION_WORDS = {"faithfulness": "deletion and insertion curves: images", "randomization": "randomised models",
                  "scorecam": "Score-CAM: masked passes"}


def _floats(values) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def _trust_payload(done: dict, key: tuple, strip_methods: list, state: str, message: str) -> dict:
    """The ``trust`` trait (docs/protocol.md) from the sections computed so far."""
    k, method, layer = key
    strip = done.get("strip", {})
    report = {"class_index": k, "method": method, "layer": layer, "state": state, "message": message,
              "strip": [{**map_payload(strip[m], k, m, layer), "label": trust_report.method_label(m)}
                        for m in strip_methods if m in strip],
              "strip_pending": [m for m in strip_methods if m not in strip],
              "difference": {}, "faithfulness": {}, "randomization": {}}
    if "difference" in done:
        diff = done["difference"]
        values = np.ascontiguousarray(diff.values, dtype="<f4")
        report["difference"] = {"height": int(values.shape[0]), "width": int(values.shape[1]),
                                "raw": values.tobytes(), "max_abs": float(diff.max_abs), "text": diff.text}
    if "faithfulness" in done:
        f = done["faithfulness"]
        report["faithfulness"] = {
            "baseline": f.baseline, "steps": int(len(f.fractions) - 1), "fractions": _floats(f.fractions),
            "deletion": _floats(f.deletion), "insertion": _floats(f.insertion),
            "random_deletion": _floats(f.random_deletion), "random_insertion": _floats(f.random_insertion),
            "deletion_auc": float(f.deletion_auc), "insertion_auc": float(f.insertion_auc),
            "random_deletion_auc": float(f.random_deletion_auc),
            "random_insertion_auc": float(f.random_insertion_auc),
            "random_maps": int(f.random_maps), "verdict": f.verdict}
    if "randomization" in done:
        r = done["randomization"]
        report["randomization"] = {"correlations": _floats(r.correlations), "steps": list(r.steps),
                                   "final": float(r.final), "passed": bool(r.passed), "verdict": r.verdict}
    return report


def _status(state: str, message: str, k: int, method: str, layer: str) -> dict:
    return {"state": state, "message": message, "class_index": int(k), "method": method, "layer": layer}


def _check_top_k(top_k, num_classes: int) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)):
        raise TypeError(f"top_k must be an int, got {top_k!r}.")
    if not 1 <= top_k <= num_classes:
        raise ValueError(f"top_k must be between 1 and the number of classes ({num_classes}), "
                         f"got {top_k}.")


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


def show_gradcam(model, img, *, class_names=None, top_k: int | None = None, layer: str | None = None,
                 method: str = "gradcam", preprocess=None, colormap: str = "jet",
                 opacity: float = 0.4, output=None, input_size=None) -> GradCAMWidget:
    """Show an interactive Grad-CAM widget for one image.

    ``model`` is a Keras model, or an existing :class:`~gradcam_widget.Explainer` to reuse its caches
    (then ``preprocess`` belongs to that Explainer). ``top_k`` classes get their maps precomputed
    (default 5, or every class when the model has fewer). ``class_names`` defaults to the ImageNet
    names for 1000-class models and to "class i" otherwise. ``output``: the output to explain of a
    model with several (name or index). ``input_size``: (height, width) for a model that accepts any
    size (default: the image at its own size).
    """
    from .explain import Explainer

    if isinstance(model, Explainer):
        if preprocess is not None or output is not None or input_size is not None:
            raise ValueError("preprocess=, output= and input_size= are set on the Explainer; pass them to "
                             "Explainer(model, ...) or pass the Keras model here instead.")
        explainer = model
    else:
        explainer = Explainer(model, layer=layer, preprocess=preprocess, compiled="background", output=output,
                              input_size=input_size)
    return GradCAMWidget(explainer, img, class_names=class_names, top_k=top_k, method=method,
                         layer=layer, colormap=colormap, opacity=opacity)
