"""compare_gradcam: several models on one image, one shared selection, one panel per model.

A composition, not a second widget engine: each model gets a :class:`GradCAMWidget` of its own (never
displayed) that keeps doing everything it does alone (top classes, batched maps, slow methods, the
what-if edit). This widget copies the shared selection (:data:`SHARED_TRAITS`) into every one of them
and mirrors what each computes into ``panels``, which js/compare.js draws. So a panel can never drift
from what the same model shows alone.

Scale modes (``scale_mode``, the single widget's three): ``per_map`` and ``signed`` scale each panel's
map by itself, as the model's own widget does. ``shared`` here means shared *across the models*: every
panel's map of the selected class is divided by the largest of those maps' maxima, which this widget
computes into ``scale`` (so a model with weaker evidence for the class looks weaker). That is the
question a comparison asks; the model's own widget shares its scale across its classes instead. The
raw values compare fairly between models of the same architecture and layer (the biased/debiased
pair); across different architectures they are in different units.
"""

from __future__ import annotations

import threading

import anywidget
import traitlets

from . import colormaps, registry, scale_modes, whatif
from .frontend import front_end_source
from .widget import GradCAMWidget, _check_from_page, _shown

#: Traits of the selection every panel shares, copied from this widget to each model's widget.
SHARED_TRAITS = ("selected_class", "method", "colormap", "opacity", "scale_mode")
#: What a panel shows, mirrored from its model's widget into ``panels``.
PANEL_TRAITS = (
    "image",
    "image_size",
    "image_note",
    "top_classes",
    "maps",
    "extra_map",
    "status",
    "layer",
    "edit_state",
)
MIN_MODELS, MAX_MODELS = 2, 4
#: The Scale menu's words: the single widget's, with "shared" saying what it spans here.
SCALE_LABELS = {**scale_modes.LABELS, "shared": "Shared across models"}

_MISSING_ESM = """
export default { render({ el }) {
  el.textContent = "gradcam-widget: the front end (compare.js) is missing from this installation. Reinstall gradcam-widget.";
} };
"""


def _text(source) -> str:
    """A stylesheet's text (front_end_source gives a Path under ANYWIDGET_HMR=1; two sheets are joined)."""
    return source.read_text(encoding="utf-8") if hasattr(source, "read_text") else str(source)


class CompareWidget(anywidget.AnyWidget):
    """Grad-CAM of 2-4 models side by side: a class clicked in any panel, the method, colormap and
    opacity apply to all; each panel lists its own model's top classes and probabilities; a what-if
    edit is applied to the image every model sees. ``widgets``: name -> that model's GradCAMWidget
    (read its ``heatmap``, ``top_classes``...)."""

    _esm = front_end_source("compare.js", _MISSING_ESM)
    _css = "\n".join(_text(front_end_source(name)) for name in ("gradcam.css", "compare.css"))

    names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    panels = traitlets.List(traitlets.Dict()).tag(sync=True)
    class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    methods = traitlets.List(traitlets.Unicode()).tag(sync=True)
    method_labels = traitlets.Dict().tag(sync=True)
    colormap_tables = traitlets.Dict().tag(sync=True)
    edit_fills = traitlets.List(traitlets.Unicode(), default_value=list(whatif.FILLS)).tag(sync=True)
    notice = traitlets.Unicode("").tag(sync=True)
    selected_class = traitlets.Int(0).tag(sync=True)
    method = traitlets.Unicode("gradcam").tag(sync=True)
    colormap = traitlets.Unicode("jet").tag(sync=True)
    opacity = traitlets.Float(0.4).tag(sync=True)
    scale_mode = traitlets.Unicode("per_map").tag(sync=True)
    scale = traitlets.Dict().tag(sync=True)  # kernel: the modes' words and the shared maximum across panels
    diverging_table = traitlets.Bytes(b"").tag(sync=True)
    edit = traitlets.Dict().tag(sync=True)

    def __init__(self, widgets: dict[str, GradCAMWidget], **kwargs):
        self._ready = False
        self._widgets = dict(widgets)
        self._lock = threading.Lock()
        first = next(iter(self._widgets.values()))
        shared = {name: getattr(first, name) for name in SHARED_TRAITS}
        for w in self._widgets.values():  # one selection from the start: the first model's
            with w.hold_trait_notifications():
                for name, value in shared.items():
                    setattr(w, name, value)
        super().__init__(
            names=list(self._widgets),
            panels=[self._panel(n, w) for n, w in self._widgets.items()],
            class_names=list(first.class_names),
            methods=list(registry.names()),
            method_labels=registry.labels(),
            colormap_tables={name: colormaps.colormap_bytes(name) for name in colormaps.COLORMAPS},
            diverging_table=colormaps.diverging_bytes(),
            **shared,
            **kwargs,
        )
        self.scale = self._scale_payload()
        for w in self._widgets.values():
            w.observe(self._mirror, names=list(PANEL_TRAITS))
        self._ready = True

    @property
    def widgets(self) -> dict[str, GradCAMWidget]:
        """Model name -> the GradCAMWidget behind its panel."""
        return dict(self._widgets)

    @property
    def edited_image(self):
        """The edited image every model gets (see GradCAMWidget.edited_image)."""
        return next(iter(self._widgets.values())).edited_image

    @property
    def edit_mask(self):
        return next(iter(self._widgets.values())).edit_mask

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every panel's background work (slow methods, the edit) has finished."""
        return all([w.wait(timeout) for w in self._widgets.values()])

    def close(self):
        for w in self._widgets.values():
            w.close()
        super().close()

    # ---------------------------------------------------------------- shared selection
    @traitlets.observe(*SHARED_TRAITS)
    def _share(self, change):
        if not self._ready:
            return
        with self.hold_sync():
            for w in self._widgets.values():
                setattr(w, change["name"], change["new"])
            self._mirror(change)  # the scale follows a new mode even when no panel's maps change

    @traitlets.validate("scale_mode")
    def _valid_scale_mode(self, proposal):
        return scale_modes.check_mode(proposal["value"])

    @traitlets.observe("edit")
    def _share_edit(self, change):
        if self._ready:
            for w in self._widgets.values():
                w.edit = change["new"]

    def set_state(self, sync_data):
        """State sent by the page, checked as GradCAMWidget checks it (a refused value snaps back and
        ``notice`` says why)."""
        accepted, refused = {}, []
        for name, value in sync_data.items():
            try:
                if name in SHARED_TRAITS or name == "edit":
                    value = _check_from_page(next(iter(self._widgets.values())), name, value)
                elif name in CompareWidget.class_own_traits(sync=True):  # not self's: anywidget subclasses per instance
                    raise ValueError(f"{_shown(name, 40)} is computed by the kernel; the page cannot set it.")
                accepted[name] = value
            except (TypeError, ValueError) as err:
                refused.append((name, str(err)))
        if accepted:
            super().set_state(accepted)
        if refused:
            self.send_state([name for name, _ in refused])
            self.notice = " ".join(why for _, why in refused)
        elif accepted and self.notice:
            self.notice = ""

    # ---------------------------------------------------------------- panels
    def _panel(self, name: str, w: GradCAMWidget) -> dict:
        return {"name": name, **{trait: getattr(w, trait) for trait in PANEL_TRAITS}}

    def _mirror(self, change):
        with self._lock, self.hold_sync():  # a panel's maps and the scale they are drawn on: one message
            panels = [self._panel(n, w) for n, w in self._widgets.items()]
            self.panels = panels
            scale = self._scale_payload()
            if scale != self.scale:
                self.scale = scale

    def _scale_payload(self) -> dict:
        """The ``scale`` trait: the modes' words and, for the shared mode, the largest maximum of the
        panels' maps of the selected class (``maxima`` per panel, None while a panel has no map).
        ``complete`` is False while a panel still computes its map: the page then waits rather than
        draw on a maximum that may still grow."""
        maxima, complete = [], True
        for w in self._widgets.values():
            entry = None if _shows_error(w) else _selected_map(w)
            if entry is None:
                maxima.append(None)
                complete = complete and _shows_error(w)
            else:
                has = bool(entry.get("has_evidence")) and float(entry.get("maximum", 0.0)) > 0
                maxima.append(float(entry["maximum"]) if has else 0.0)
        return {
            "mode": self.scale_mode,
            "modes": [[m, SCALE_LABELS[m]] for m in scale_modes.MODES],
            "class_index": int(self.selected_class),
            "method": str(self.method),
            "maximum": max((m for m in maxima if m is not None), default=0.0),
            "maxima": maxima,
            "complete": complete,
        }


def _selected_map(w: GradCAMWidget) -> dict | None:
    """The map entry a panel draws for its selection (the page picks it by the same key), or None."""
    for entry in [*w.maps, w.extra_map]:
        if (
            entry
            and entry.get("class_index") == w.selected_class
            and entry.get("method") == w.method
            and entry.get("layer") == w.layer
            and entry.get("contrast") is None
        ):
            return entry
    return None


def _shows_error(w: GradCAMWidget) -> bool:
    """True when the panel shows an error for its selection instead of a map (it has no maximum)."""
    st = w.status or {}
    wanted = (w.selected_class, w.method, w.layer)
    return st.get("state") == "error" and (st.get("class_index"), st.get("method"), st.get("layer")) == wanted


def _named_models(models, names) -> dict:
    if isinstance(models, dict):
        if names is not None:
            raise ValueError("give names= only with a list of models (a dict's keys are the names).")
        named = {str(k): m for k, m in models.items()}
    elif isinstance(models, (list, tuple)):
        if names is None:
            names = [getattr(m, "name", None) or f"model {i + 1}" for i, m in enumerate(models)]
        names = [str(n) for n in names]
        if len(names) != len(models):
            raise ValueError(f"names= has {len(names)} entries for {len(models)} models.")
        if len(set(names)) != len(names):
            names = [f"{n} ({i + 1})" for i, n in enumerate(names)]
        named = dict(zip(names, models))
    else:
        raise TypeError(
            f"compare_gradcam takes a list or a dict of {MIN_MODELS} to {MAX_MODELS} models, got {type(models).__name__}."
        )
    if not MIN_MODELS <= len(named) <= MAX_MODELS:
        raise ValueError(f"compare_gradcam shows {MIN_MODELS} to {MAX_MODELS} models, got {len(named)}.")
    return named


def compare_gradcam(
    models,
    img,
    *,
    names=None,
    class_names=None,
    top_k: int | None = None,
    method: str = "gradcam",
    layers=None,
    preprocess=None,
    colormap: str = "jet",
    opacity: float = 0.4,
    scale_mode: str = "per_map",
) -> CompareWidget:
    """Grad-CAM of several models (a list or a dict name -> model, 2 to 4) on one image, side by side.

    Every model gets ``img`` as ``model.predict`` would (each at its own input size). The models must
    have the same classes (``class_names`` is shared). ``layers``: None (each model's default), or a
    list / dict of layer names, one per model. ``preprocess``: one function for all, or a list / dict.
    ``top_k``, ``method``, ``colormap``, ``opacity`` as in :func:`show_gradcam`. ``scale_mode``:
    "per_map", "shared" (across the models: see the module's docstring) or "signed" (before ReLU).
    """
    from .explain import explainer_for

    named = _named_models(models, names)
    scale_modes.check_mode(scale_mode)

    def per_model(value, what):
        if isinstance(value, dict):
            return [value.get(n) for n in named]
        if isinstance(value, (list, tuple)):
            if len(value) != len(named):
                raise ValueError(f"{what}= has {len(value)} entries for {len(named)} models.")
            return list(value)
        return [value] * len(named)

    layer_of, preprocess_of = per_model(layers, "layers"), per_model(preprocess, "preprocess")
    widgets = {}
    try:
        for (name, model), layer, pre in zip(named.items(), layer_of, preprocess_of):
            explainer = explainer_for(model, "compare_gradcam", layer=layer, preprocess=pre, compiled="background")
            widgets[name] = GradCAMWidget(
                explainer,
                img,
                class_names=class_names,
                top_k=top_k,
                method=method,
                layer=layer,
                colormap=colormap,
                opacity=opacity,
            )
            widgets[name].scale_mode = scale_mode
        counts = {name: len(w.class_names) for name, w in widgets.items()}
        if len(set(counts.values())) > 1:
            raise ValueError(
                "the models have different numbers of classes "
                f"({', '.join(f'{n}: {c}' for n, c in counts.items())}); compare models of the same classes."
            )
        return CompareWidget(widgets)
    except Exception:
        for w in widgets.values():
            w.close()
        raise
