"""Open the misclassification explorer on an audit table (:func:`gradcam_widget.audit.audit`) without
predicting anything again: the table already holds each image's prediction, so only the maps of the
image you click are computed.

Also the table-side questions a reviewer asks: which images to look at first (:func:`audit_order`:
by mistakenness, hardness, or energy outside the box = "right for the wrong reason") and what the
model looks at per confusion cell (:func:`confusion_mean_maps`, from the stored maps).
"""

from __future__ import annotations

import numpy as np

from . import explore_data as data

#: Orders of :func:`audit_order`: the column and whether high values come first.
SORTS = {
    "mistakenness": ("mistakenness", True),
    "hardness": ("hardness", True),
    "confidence": ("confidence", True),
    "margin": ("margin", False),
    "energy_outside": ("pred_energy_in", False),  # least energy inside the region first
}
_NEEDED = ("pred", "label", "confidence", "runner_up")


def is_audit(obj) -> bool:
    """A pandas DataFrame with an audit's prediction columns."""
    return hasattr(obj, "columns") and hasattr(obj, "iloc") and all(c in obj.columns for c in ("pred", "confidence"))


def audit_order(audit, by: str = "mistakenness", *, wrong_only: bool = False) -> np.ndarray:
    """Row positions of the audit, most interesting first by ``by`` (see :data:`SORTS`); ties by row.
    Rows without a value (e.g. no region) come last."""
    if by not in SORTS:
        raise ValueError(f"by= must be one of {sorted(SORTS)}, got {by!r}.")
    column, descending = SORTS[by]
    if column not in audit.columns:
        hint = " (run audit() with masks= or boxes=)" if column.endswith("energy_in") else " (run audit() with labels)"
        raise ValueError(f"the audit has no {column!r} column to sort by{hint}.")
    values = audit[column].to_numpy(dtype=np.float64)
    key = np.where(np.isnan(values), np.inf, -values if descending else values)
    order = np.argsort(key, kind="stable")
    if wrong_only:
        wrong = audit["pred"].to_numpy() != audit["label"].to_numpy()
        order = order[wrong[order]]
    return order


def _stored_maps(audit, rows, column):
    maps = [m for m in audit[column].to_numpy()[rows] if m is not None]
    if not maps or len({m.shape for m in maps}) > 1:
        return None
    scale = 255.0 if maps[0].dtype == np.uint8 else 1.0
    total = np.zeros(maps[0].shape, np.float64)
    for m in maps:  # summed one at a time: no (n, h, w) stack for a cell of 100,000 images
        total += m
    return (total / (scale * len(maps))).astype(np.float32)


def cell_mean_map(audit, true: int, pred: int, column: str = "pred_map"):
    """Mean stored map (float32 in [0, 1], layer resolution) of the images with this label and this
    prediction; None when the cell is empty or its maps differ in size (an any-size model)."""
    if column not in audit.columns:
        raise ValueError(f"the audit has no {column!r}: run audit(..., maps='uint8' or 'float16') to keep maps.")
    rows = np.flatnonzero((audit["label"].to_numpy() == true) & (audit["pred"].to_numpy() == pred))
    return _stored_maps(audit, rows, column)


def confusion_mean_maps(audit, column: str = "pred_map") -> dict:
    """:func:`cell_mean_map` of every non-empty (true class, predicted class) cell whose maps share a size."""
    if column not in audit.columns:
        raise ValueError(f"the audit has no {column!r}: run audit(..., maps='uint8' or 'float16') to keep maps.")
    out = {}
    for (true, pred), rows in audit.groupby(["label", "pred"]).indices.items():
        mean = _stored_maps(audit, rows, column)
        if mean is not None:
            out[(int(true), int(pred))] = mean
    return out


class AuditRanking:
    """What the explorer asks of an audit table: the orders it can sort by, an "interest" score per
    order for the threshold filter (high = look first, in [0, 1]), and mean maps per confusion cell.
    Reads the caller's table (no copy); keeps one score array at a time."""

    def __init__(self, audit):
        self._audit = audit
        self._scores: tuple[str, np.ndarray] | None = None

    @property
    def sorts(self) -> list[str]:
        """The orders of :data:`SORTS` this table has the column for."""
        return [name for name, (column, _) in SORTS.items() if column in self._audit.columns]

    @property
    def has_maps(self) -> bool:
        return "pred_map" in self._audit.columns

    def order(self, by: str) -> np.ndarray:
        return audit_order(self._audit, by)

    def scores(self, by: str) -> np.ndarray:
        """High = more interesting, as the order ranks them: the column itself for a descending
        order, 1 - the column for an ascending one (margin, energy inside -> energy outside)."""
        if self._scores is None or self._scores[0] != by:
            column, descending = SORTS[by]
            values = self._audit[column].to_numpy(dtype=np.float64)
            self._scores = (by, values if descending else 1.0 - values)
        return self._scores[1]

    def cell_mean(self, true: int, pred: int):
        return cell_mean_map(self._audit, true, pred) if self.has_maps else None


def predictions_of(audit, num_classes: int) -> data.Predictions:
    """The explorer's per-image numbers, read from the table."""
    missing = [c for c in _NEEDED if c not in audit.columns]
    if missing:
        raise ValueError(f"the audit lacks {missing}; the explorer needs an audit made with labels.")
    labels = audit["label"].to_numpy(np.int64)
    data.check_label_range(labels, num_classes)
    predicted = audit["pred"].to_numpy(np.int64)
    if predicted.min(initial=0) < 0 or predicted.max(initial=0) >= num_classes:
        raise ValueError(
            f"the audit's predictions are not classes of this model ({num_classes} classes): "
            f"was it made with another model?"
        )
    runner = audit["runner_up"].to_numpy(np.int64)
    return data.Predictions(
        labels, predicted, audit["confidence"].to_numpy(np.float32), np.where(runner < 0, predicted, runner)
    )


def explore_audit(
    audit,
    *,
    model,
    images=None,
    class_names=None,
    sort_by: str = "mistakenness",
    page_size: int | None = None,
    top_k: int | None = None,
):
    """The explorer of :func:`gradcam_widget.explore_misclassifications` for an audit table.

    ``images``: the audited images in the table's order; leave it out when the table's ``id`` column
    holds file paths. The gallery is sorted by ``sort_by`` (see :data:`SORTS`).
    """
    from .explain import explainer_for
    from .explore import PAGE_SIZE, MisclassificationExplorer
    from .validation import check_top_k as _check_top_k
    from .labels import class_names_for

    if images is None:
        ids = list(audit["id"]) if "id" in audit.columns else []
        if not ids or not all(isinstance(i, str) for i in ids):
            raise ValueError(
                "pass images= (the audited images, in the table's order); the table's ids are not file paths."
            )
        images = ids
    source = data.image_source(images)
    if len(source) != len(audit):
        raise ValueError(
            f"the audit has {len(audit)} rows but {len(source)} images were given: pass the "
            f"images the audit was made of, in its order."
        )
    explainer = explainer_for(model, "explore_misclassifications")
    explainer.prepare(source[0])  # builds a never-called Sequential, so num_classes is known
    names = class_names_for(int(explainer.num_classes), class_names)
    if top_k is not None:
        _check_top_k(top_k, len(names))
    predictions = predictions_of(audit, len(names))
    ranking = AuditRanking(audit)
    if sort_by not in ranking.sorts:
        audit_order(audit, sort_by)  # the error saying what is missing
    explorer = MisclassificationExplorer(
        explainer,
        source,
        predictions,
        names,
        page_size=PAGE_SIZE if page_size is None else page_size,
        top_k=top_k,
        ranking=ranking,
        sort_by=sort_by,
    )
    explorer.audit = audit
    return explorer
