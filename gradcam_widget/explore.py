"""Explore a classifier's mistakes: confusion matrix, gallery, and Grad-CAM maps of any image.

``explore_misclassifications(model, images, labels)`` predicts every image once (in batches, with a
progress bar), then shows an ipywidgets box: an anywidget view (``js/explore.js``) with the
confusion matrix and a paginated thumbnail gallery, and under it the detail of the selected image —
three ordinary :class:`~gradcam_widget.widget.GradCAMWidget` panels of one explainer (predicted
class, true class, and "why predicted rather than true": a widget with ``contrast=`` the true class),
so hover, opacity, colormap and the trust report work exactly as in ``show_gradcam``. Maps are computed on click only; see ``explore_data`` for what is kept.
"""

from __future__ import annotations

import anywidget
import ipywidgets
import numpy as np
import traitlets

from . import explore_data as data
from .labels import class_names_for
from .frontend import front_end_source
from . import colormaps, registry
from .validation import check_top_k as _check_top_k
from .widget import GradCAMWidget

#: Thumbnails per gallery page.
PAGE_SIZE = 60
#: Display settings shared by the three detail panels (a change in one is applied to all).
SHARED_TRAITS = ("colormap", "opacity", "method", "layer")

_MISSING_ESM = """
export default { render({ el }) {
  el.textContent = "gradcam-widget: the explorer front end (explore.js) is missing. Reinstall gradcam-widget.";
} };
"""


# ----------------------------------------------------------------------------- predictions
def predict(explainer, source, labels: np.ndarray, batch_size: int = 64, progress: bool = True):
    """Predict every image in batches; returns :class:`explore_data.Predictions`.

    Ctrl-C (KeyboardInterrupt) stops it with a message saying how far it got; nothing is kept.
    """
    from tqdm.auto import tqdm

    n = len(source)
    predicted = np.empty(n, np.int64)
    confidence = np.empty(n, np.float32)
    runner = np.empty(n, np.int64)
    bar = tqdm(total=n, desc="predicting", unit="img", disable=not progress, leave=False)
    done = 0
    try:
        for start in range(0, n, batch_size):
            prepared = explainer.prepare_batch(source.batch(start, start + batch_size))
            logits, probabilities = explainer.scores_batch(prepared)
            if not np.all(np.isfinite(logits)):
                bad = start + int(np.flatnonzero(~np.isfinite(logits).all(axis=1))[0])
                raise FloatingPointError(
                    f"the model produced NaN or infinite scores for image {bad}. Check the images and preprocess=."
                )
            stop = start + len(prepared)
            predicted[start:stop], confidence[start:stop], runner[start:stop] = data.top_two(probabilities)
            done = stop
            bar.update(len(prepared))
    except KeyboardInterrupt:
        raise KeyboardInterrupt(
            f"explore_misclassifications was interrupted after predicting {done} of {n} images; nothing "
            f"was kept. Run it again, or on fewer images (e.g. images[:1000], labels[:1000])."
        ) from None
    finally:
        bar.close()
    return data.Predictions(labels, predicted, confidence, runner)


# ----------------------------------------------------------------------------- the browser view
class ExplorerView(anywidget.AnyWidget):
    """Confusion matrix + filtered, paginated gallery (one PNG sprite per page).

    The kernel answers each filter/page change with ``gallery``, tagged with the request it answers
    so the browser drops stale replies. Only one page of rows and one sprite reach the browser,
    whatever the number of images.

    On an audit (``ranking``, :class:`gradcam_widget.explore_audit.AuditRanking`): ``sorts`` lists the
    orders the table allows, ``sort_by`` picks one, ``min_score`` keeps the images whose score for
    that order is at least this, and a chosen confusion cell gets its mean stored map in ``cell_map``.
    """

    _esm = front_end_source("explore.js", _MISSING_ESM)  # text, not a Path: no file watcher holding views
    _css = front_end_source("explore.css")

    # Kernel -> browser
    class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    matrix = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)
    pairs = traitlets.List(traitlets.Dict()).tag(sync=True)
    summary = traitlets.Dict().tag(sync=True)
    page_size = traitlets.Int(PAGE_SIZE).tag(sync=True)
    gallery = traitlets.Dict().tag(sync=True)
    # Both directions
    filter_status = traitlets.Unicode("wrong").tag(sync=True)
    filter_true = traitlets.Int(-1).tag(sync=True)
    filter_pred = traitlets.Int(-1).tag(sync=True)
    page = traitlets.Int(0).tag(sync=True)
    selected = traitlets.Int(None, allow_none=True).tag(sync=True)
    # On an audit
    sorts = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sort_by = traitlets.Unicode("").tag(sync=True)
    min_score = traitlets.Float(0.0).tag(sync=True)
    cell_map = traitlets.Dict().tag(sync=True)

    def __init__(self, source, predictions, class_names, *, page_size: int = PAGE_SIZE, ranking=None, sort_by=None):
        self._ready = False
        self._source = source
        self._pred = predictions
        self._ranking = ranking
        sorts = [] if ranking is None else ranking.sorts
        sort_by = (sort_by or sorts[0]) if sorts else ""
        self._order = data.gallery_order(predictions) if not sort_by else ranking.order(sort_by)
        self._ordered_by = sort_by
        self._shown_key = None
        self._current = self._order[:0]
        c = len(class_names)
        self._confusion = data.confusion_matrix(predictions.labels, predictions.predicted, c)
        super().__init__(
            class_names=list(class_names),
            matrix=self._confusion.tolist() if c <= data.MAX_MATRIX_CLASSES else [],
            pairs=data.top_confusions(self._confusion),
            summary={"total": int(len(predictions.labels)), "wrong": int(predictions.wrong.sum())},
            page_size=int(page_size),
            sorts=sorts,
            sort_by=sort_by,
        )
        self._ready = True
        self._update_gallery()
        self._update_cell_map()

    @property
    def confusion(self) -> np.ndarray:
        return self._confusion.copy()

    @property
    def gallery_indices(self) -> np.ndarray:
        """Every image the current filters keep, in gallery order (all pages)."""
        return self._current.copy()

    @traitlets.validate("filter_status")
    def _valid_status(self, proposal):
        if proposal["value"] not in data.STATUSES:
            raise traitlets.TraitError(f"filter_status must be one of {data.STATUSES}, got {proposal['value']!r}.")
        return proposal["value"]

    @traitlets.validate("filter_true", "filter_pred")
    def _valid_class(self, proposal):
        value, c = proposal["value"], len(self.class_names) or len(self._confusion)
        if not -1 <= value < c:
            raise traitlets.TraitError(
                f"{proposal['trait'].name} must be a class index 0..{c - 1}, or -1 for any class; got {value}."
            )
        return value

    @traitlets.validate("sort_by")
    def _valid_sort(self, proposal):
        if self._ready and proposal["value"] not in self.sorts:
            allowed = self.sorts or "none: only an audit table can be sorted"
            raise traitlets.TraitError(f"sort_by must be one of {allowed}, got {proposal['value']!r}.")
        return proposal["value"]

    @traitlets.validate("min_score")
    def _valid_min_score(self, proposal):
        if not 0.0 <= proposal["value"] <= 1.0:
            raise traitlets.TraitError(f"min_score must be in [0, 1], got {proposal['value']}.")
        return proposal["value"]

    @traitlets.validate("page")
    def _valid_page(self, proposal):
        if proposal["value"] < 0:
            raise traitlets.TraitError(f"page must be >= 0, got {proposal['value']}.")
        return proposal["value"]

    @traitlets.validate("selected")
    def _valid_selected(self, proposal):
        value, n = proposal["value"], len(self._pred.labels)
        if value is not None and not 0 <= value < n:
            raise traitlets.TraitError(f"selected must be an image index 0..{n - 1} or None, got {value}.")
        return value

    @traitlets.observe("filter_status", "filter_true", "filter_pred", "page", "sort_by", "min_score")
    def _on_filters(self, change):
        # The browser writes several of these in one message: the first callback sees them all
        # and answers; the others find the answer already sent.
        if self._ready:
            self._update_gallery()
            self._update_cell_map()

    def _ordered(self) -> np.ndarray:
        """The gallery order before the filters: the audit's order of ``sort_by``, thresholded."""
        if not self.sort_by:
            return self._order
        if self.sort_by != self._ordered_by:
            self._order, self._ordered_by = self._ranking.order(self.sort_by), self.sort_by
        if self.min_score <= 0:
            return self._order
        scores = self._ranking.scores(self.sort_by)
        return self._order[scores[self._order] >= self.min_score]  # NaN (no region) never passes

    def _update_cell_map(self) -> None:
        """The chosen confusion cell's mean stored map (kernel numbers; the browser colours them)."""
        t, p = self.filter_true, self.filter_pred
        if self._ranking is None or t < 0 or p < 0:
            if self.cell_map:
                self.cell_map = {}
            return
        if self.cell_map.get("true") == t and self.cell_map.get("pred") == p:
            return
        count = int(self._confusion[t, p])
        reply = {"true": t, "pred": p, "count": count}
        if not self._ranking.has_maps:
            reply["message"] = "No mean map: the audit kept no maps (audit(..., maps='uint8'))."
        elif count == 0:
            reply["message"] = "No image in this cell."
        else:
            mean = self._ranking.cell_mean(t, p)
            if mean is None:
                reply["message"] = "No mean map: this cell's maps differ in size."
            else:
                reply.update(
                    height=int(mean.shape[0]),
                    width=int(mean.shape[1]),
                    values=np.ascontiguousarray(mean, "<f4").tobytes(),
                    peak=round(float(mean.max()), 4),
                    table=colormaps.colormap_bytes("jet"),
                )
        self.cell_map = reply

    def cell_mean(self) -> np.ndarray | None:
        """The mean map shown for the chosen confusion cell (float32, layer resolution), or None."""
        m = self.cell_map
        if "values" not in m:
            return None
        return np.frombuffer(m["values"], "<f4").reshape(m["height"], m["width"]).copy()

    def _update_gallery(self) -> None:
        key = (self.filter_status, self.filter_true, self.filter_pred, self.page, self.sort_by, self.min_score)
        if key == self._shown_key:
            return
        order = data.filter_order(self._ordered(), self._pred, *key[:3])
        pages = max(1, -(-len(order) // self.page_size))
        if self.page >= pages:
            self.page = pages - 1  # the observer answers for the clamped page
            return
        chunk = order[self.page * self.page_size : (self.page + 1) * self.page_size]
        sprite = data.sprite_png([self._source[i] for i in chunk])
        self._shown_key, self._current = key, order
        self.gallery = {
            "status": key[0],
            "true": key[1],
            "pred": key[2],
            "page": key[3],
            "sort": key[4],
            "min": key[5],
            "total": int(len(order)),
            "pages": int(pages),
            "indices": chunk.tolist(),
            "labels": self._pred.labels[chunk].tolist(),
            "predicted": self._pred.predicted[chunk].tolist(),
            "confidence": [round(float(v), 4) for v in self._pred.confidence[chunk]],
            "sprite": sprite,
            "thumb": data.THUMB_SIZE,
            "columns": data.SPRITE_COLUMNS,
        }


# ----------------------------------------------------------------------------- the explorer
class MisclassificationExplorer(ipywidgets.VBox):
    """The explorer: the view on top, the selected image's three Grad-CAM panels below.

    Python side: ``confusion`` (counts, row = true class), ``mistakes`` (wrong images, most confident
    first), ``selected`` (image shown in detail, synced with the browser; None = none),
    ``set_filter(...)``, ``detail_widgets`` (the GradCAMWidgets shown), ``view`` (the matrix/gallery).
    """

    selected = traitlets.Int(None, allow_none=True)

    def __init__(
        self,
        explainer,
        source,
        predictions,
        class_names,
        *,
        page_size: int = PAGE_SIZE,
        top_k: int | None = None,
        method: str = "gradcam",
        colormap: str = "jet",
        opacity: float = 0.4,
        ranking=None,
        sort_by: str | None = None,
    ):
        self._explainer = explainer
        self._source = source
        self._pred = predictions
        self._names = list(class_names)
        self._top_k = top_k
        self._settings = {
            "method": method,
            "layer": explainer.layer_name,
            "colormap": colormap,
            "opacity": float(opacity),
        }
        self._panels: tuple = ()
        self._links: list = []
        self._view = ExplorerView(
            source, predictions, self._names, page_size=page_size, ranking=ranking, sort_by=sort_by
        )
        self._caption = ipywidgets.Label("Click an image in the gallery to see where the model looks.")
        self._row = ipywidgets.HBox(layout=ipywidgets.Layout(flex_flow="row wrap", align_items="flex-start"))
        self._row.add_class("gcx-detail")  # explore.css stacks each panel's controls under its picture
        super().__init__([self._view, self._caption, self._row])
        traitlets.link((self, "selected"), (self._view, "selected"))

    # ---- public API
    @property
    def view(self) -> ExplorerView:
        return self._view

    @property
    def explainer(self):
        return self._explainer

    @property
    def predictions(self) -> data.Predictions:
        return self._pred

    @property
    def class_names(self) -> list[str]:
        return list(self._names)

    @property
    def confusion(self) -> np.ndarray:
        """Counts (C, C): row = true class, column = predicted class."""
        return self._view.confusion

    @property
    def mistakes(self) -> np.ndarray:
        """Indices of the misclassified images, most confident mistake first (the gallery order)."""
        order = self._view._order
        return order[self._pred.wrong[order]].copy()

    @property
    def detail_widgets(self) -> tuple:
        """(predicted, true or runner-up, contrastive) GradCAMWidgets of the selection, or ()."""
        return tuple(panel for _, panel in self._panels)

    def set_filter(
        self,
        status: str | None = None,
        true: int | None = None,
        pred: int | None = None,
        page: int = 0,
        *,
        sort_by: str | None = None,
        min_score: float | None = None,
    ) -> None:
        """Filter the gallery as the browser does (None keeps a filter; -1 = any class). On an audit,
        ``sort_by`` (one of ``view.sorts``) and ``min_score`` (keep scores >= this, in [0, 1])."""
        v = self._view
        with v.hold_trait_notifications():
            if sort_by is not None:
                v.sort_by = sort_by
            if min_score is not None:
                v.min_score = float(min_score)
            if status is not None:
                v.filter_status = status
            if true is not None:
                v.filter_true = true
            if pred is not None:
                v.filter_pred = pred
            v.page = page

    # ---- detail
    @traitlets.validate("selected")
    def _valid_selected(self, proposal):
        return self._view._valid_selected(proposal)

    @traitlets.observe("selected")
    def _on_selected(self, change):
        self._show_detail(change["new"])

    def _show_detail(self, index) -> None:
        old_panels, old_boxes = self._panels, self._row.children
        if old_panels:  # keep the user's display choices for the next image
            self._settings = {name: getattr(old_panels[0][1], name) for name in SHARED_TRAITS}
        self._unlink()
        self._panels = ()
        if index is None:
            self._caption.value = "Click an image in the gallery to see where the model looks."
            self._row.children = ()
        else:
            try:
                self._panels = self._make_panels(int(index))
            except Exception as err:  # noqa: BLE001 - shown in place of the maps; the view stays usable
                self._caption.value = f"Image {index}: could not compute its maps: {err}"
                self._row.children = ()
            else:
                first = self._panels[0][1]
                self._links = [
                    traitlets.link((first, name), (panel, name))
                    for _, panel in self._panels[1:]
                    for name in SHARED_TRAITS
                ]
                self._caption.value = self._describe(int(index))
                self._row.children = tuple(
                    ipywidgets.VBox([ipywidgets.Label(title), panel], layout=ipywidgets.Layout(margin="0 16px 8px 0"))
                    for title, panel in self._panels
                )
        _close_boxes(old_boxes)  # replaced panels' comms are closed, not leaked

    def _unlink(self) -> None:
        for link in self._links:
            link.unlink()
        self._links = []

    def _make_panels(self, i: int) -> tuple:
        p, names = self._pred, self._names
        true, pred = int(p.labels[i]), int(p.predicted[i])
        other = true if pred != true else int(p.runner_up[i])
        prepared = self._explainer.prepare(self._source[i])  # once, shared by the three panels
        second = f"True class: {names[true]}" if other == true else f"Runner-up: {names[other]} (correct image)"
        specs = (
            (f"Predicted: {names[pred]}", None, pred),
            (second, None, other),
            (f"Why {names[pred]} rather than {names[other]}", other, pred),
        )
        # A widget computes its first maps in its constructor; a slow method (Score-CAM) is switched
        # to afterwards, so it runs on the widget's worker thread and the click answers at once.
        method = self._settings["method"]
        settings = dict(self._settings, method="gradcam" if registry.is_slow(method) else method)
        panels = []
        try:
            for title, contrast, k in specs:
                w = GradCAMWidget(
                    self._explainer, prepared, class_names=names, top_k=self._top_k, contrast=contrast, **settings
                )
                panels.append((title, w))
                if w.selected_class != k:
                    w.selected_class = k
                w.method = method
        except BaseException:
            for _, w in panels:
                w.close()
            raise
        return tuple(panels)

    def _describe(self, i: int) -> str:
        p, names = self._pred, self._names
        verdict = "correct" if p.labels[i] == p.predicted[i] else f"true {names[p.labels[i]]}"
        return (
            f"Image {i}: predicted {names[p.predicted[i]]} ({p.confidence[i]:.1%}), {verdict}. "
            f"Right: Grad-CAM of the difference of the two pre-softmax scores."
        )

    def close(self):
        self._unlink()
        _close_boxes(self._row.children)
        self._panels = ()
        for widget in (self._row, self._caption, self._view):
            widget.close()
        super().close()


def _close_boxes(boxes) -> None:
    """Close detail boxes and everything in them (a closed widget leaves ipywidgets' registry)."""
    for box in boxes:
        for child in box.children:
            child.close()
        box.close()


# ----------------------------------------------------------------------------- entry point
def _positive_int(value, name: str = "batch_size") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return int(value)


def _read_dataset(dataset, progress: bool):
    from tqdm.auto import tqdm

    bar = tqdm(desc="reading dataset", unit="img", disable=not progress, leave=False)
    try:
        return data.dataset_items(dataset, bar.update)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(
            f"explore_misclassifications was interrupted while reading the dataset "
            f"({bar.n} images read); nothing was kept."
        ) from None
    finally:
        bar.close()


def explore_misclassifications(
    model_or_audit,
    images=None,
    labels=None,
    *,
    model=None,
    class_names=None,
    preprocess=None,
    layer=None,
    batch_size: int = 64,
    page_size: int = PAGE_SIZE,
    progress: bool = True,
    top_k: int | None = None,
    output=None,
    sort_by: str = "mistakenness",
) -> MisclassificationExplorer:
    """Show where a classifier goes wrong: confusion matrix, gallery of mistakes, Grad-CAM on click.

    ``images``: an array (N, H, W[, C]) or a list of images or paths, with ``labels`` (one integer
    class index each); a list of ``(image, label)`` pairs; or a ``tf.data.Dataset`` of
    ``(image, label)``, batched or not. The last two carry their labels: leave ``labels`` None.
    Images are read from your array/list when needed (not copied), so do not change them meanwhile.
    Each reaches the model as ``model.predict`` would get it (see :func:`~gradcam_widget.show_gradcam`),
    so the predictions are ``model.predict``'s.
    ``model`` may also be an :class:`~gradcam_widget.Explainer` (then ``preprocess``/``layer`` are its
    own). Predictions run in batches of ``batch_size`` with a progress bar; Ctrl-C stops them cleanly.
    ``output``: the output to explain of a model with several (name or index).

    An audit table (:func:`gradcam_widget.audit.audit`, or :func:`~gradcam_widget.read_audit`) opens
    without predicting again: ``explore_misclassifications(table, model=model, images=images)``
    (``images`` may be left out when the table's ids are paths), its gallery sorted by ``sort_by``
    (:data:`gradcam_widget.explore_audit.SORTS`; the browser's menu changes it), a score threshold
    (``view.min_score``) and, for a chosen confusion cell, the mean of its stored maps.
    """
    from .explain import explainer_for
    from .explore_audit import explore_audit, is_audit

    if is_audit(model_or_audit):
        if model is None:
            raise TypeError(
                "an audit table needs the model it was made with: explore_misclassifications("
                "table, model=model, images=images)."
            )
        return explore_audit(
            model_or_audit,
            model=model,
            images=images,
            class_names=class_names,
            sort_by=sort_by,
            page_size=page_size,
            top_k=top_k,
        )
    if model is not None:
        raise TypeError(
            "model= goes with an audit table; for images pass explore_misclassifications(model, images, labels)."
        )
    model = model_or_audit
    if images is None:
        raise TypeError("explore_misclassifications(model, images, labels): images are missing.")

    batch_size = _positive_int(batch_size)
    page_size = _positive_int(page_size, "page_size")
    if data.is_tf_dataset(images):
        if labels is not None:
            raise ValueError("a tf.data.Dataset carries its own labels: pass labels=None.")
        images, labels = _read_dataset(images, progress)
    images, labels = data.split_pairs(images, labels)
    source = data.image_source(images)
    if len(source) == 0:
        raise ValueError("there are no images to explore (empty input). Pass at least one image.")
    labels = data.check_labels(labels, len(source))
    explainer = explainer_for(
        model,
        "explore_misclassifications",
        layer=layer,
        preprocess=preprocess,
        output=output,
        layer_is_fixed=True,
        batch_size=batch_size,
    )
    explainer.prepare(source[0])  # builds a never-called Sequential, so num_classes is known
    names = class_names_for(int(explainer.num_classes), class_names)
    data.check_label_range(labels, len(names))
    if top_k is not None:
        _check_top_k(top_k, len(names))
    predictions = predict(explainer, source, labels, batch_size, progress)
    return MisclassificationExplorer(explainer, source, predictions, names, page_size=page_size, top_k=top_k)
