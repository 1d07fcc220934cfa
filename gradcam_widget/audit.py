"""An audit of a dataset: one row per image with the prediction, how sure and how wrong it is, and
where the maps of the predicted and the true class look. A pandas table any tool can read, saved as
Parquet (:func:`to_parquet`, :func:`read_audit`) and opened again without recomputing.

The columns (``p`` = the model's probabilities of one image, ``C`` classes):

- ``id`` (the path for files, else the position), ``label``, ``pred`` (argmax), ``correct``;
- ``confidence`` = p[pred]; ``runner_up`` and ``margin`` = p[pred] - p[runner_up];
- ``entropy`` = -sum p log p (nats) and ``hardness`` = entropy / log C (0 sure .. 1 uniform);
- ``mistakenness`` = 1 - p[label]: 0 when the model is sure of the label, near 1 when it is sure of
  something else (NaN without labels). FiftyOne's classification mistakenness also grows with the
  confidence of a wrong prediction; 1 - p(label) ranks the same way and needs no threshold.
- per map (``pred_`` for the predicted class, ``true_`` for the label): ``peak_x``, ``peak_y`` (the
  hottest cell's centre as a fraction of the width/height; NaN for a map without evidence),
  ``spread`` (the map's spatial standard deviation, sqrt(var_x + var_y), as a fraction of the image
  side), ``has_evidence``; with ``masks=``/``boxes=``: ``energy_in`` (share of the map inside the
  region, :func:`gradcam_widget.metrics.energy_in_region`) and ``pointing_hit``
  (:func:`gradcam_widget.metrics.pointing_game`), the region in the pixels of the image as given;
- with ``maps="uint8"`` or ``"float16"``: ``pred_map`` / ``true_map``, the normalised maps at the
  layer's resolution (uint8: round(255 * map)).
"""

from __future__ import annotations

import itertools
import json

import numpy as np

from . import batch
from .metrics.localisation import energy_in_region, pointing_game

_MAP_DTYPES = {"uint8": np.uint8, "float16": np.float16}
_MAP_META = b"gradcam_widget.maps"


def require_pandas():
    """pandas and pyarrow, or an ImportError naming the extra that installs them."""
    try:
        import pandas as pd
        import pyarrow  # noqa: F401
    except ImportError as err:
        raise ImportError(
            f"the audit table needs pandas and pyarrow ({err.name} is missing). Install them "
            f"with: pip install 'gradcam-widget[audit]'"
        ) from None
    return pd


def _entropy(p: np.ndarray) -> float:
    q = p[p > 0].astype(np.float64)
    return float(-(q * np.log(q)).sum())


def map_stats(cam: np.ndarray) -> dict:
    """Peak position and spread of one normalised map (h, w), in fractions of the image."""
    h, w = cam.shape
    total = float(cam.sum())
    if total <= 0:
        return {"peak_x": np.nan, "peak_y": np.nan, "spread": np.nan, "has_evidence": False}
    row, col = np.unravel_index(int(np.argmax(cam)), cam.shape)
    ys, xs = (np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w
    weights = cam.astype(np.float64) / total
    mean_x, mean_y = float((weights.sum(0) * xs).sum()), float((weights.sum(1) * ys).sum())
    var = float((weights.sum(0) * (xs - mean_x) ** 2).sum() + (weights.sum(1) * (ys - mean_y) ** 2).sum())
    return {"peak_x": (col + 0.5) / w, "peak_y": (row + 0.5) / h, "spread": float(np.sqrt(var)), "has_evidence": True}


def _region_stats(cam: np.ndarray, region, image_size) -> dict:
    if isinstance(region, np.ndarray) and region.ndim == 2:
        if region.shape != tuple(image_size):
            raise ValueError(
                f"a mask has shape {region.shape} but its image is {tuple(image_size)}; masks must "
                f"be drawn on the image as given (same height and width)."
            )
        size = None
    else:
        size = image_size
    return {
        "energy_in": energy_in_region(cam, region, image_size=size),
        "pointing_hit": pointing_game(cam, region, image_size=size).hit,
    }


def _aligned(values, name):
    """An iterator over per-image values (None: none given)."""
    if values is None:
        return itertools.repeat(None)
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name}= must hold one entry per image, got a string.")
    return iter(values)


def _take(stream, n, name):
    out = list(itertools.islice(stream, n))
    if len(out) < n:
        raise ValueError(f"{name}= has fewer entries than there are images: give one per image.")
    return out


def audit(
    model,
    images,
    labels=None,
    *,
    masks=None,
    boxes=None,
    class_names=None,
    method: str = "gradcam",
    layer=None,
    maps: str | None = None,
    chunk_size: int = 16,
    preprocess=None,
    output=None,
    input_size=None,
    progress_after: float | None = None,
    engine: str = "local",
    **engine_options,
):
    """One row per image (see the module docstring for the columns), computed a chunk at a time.

    ``images``: a batch array, a list of paths or images, a generator, or a ``tf.data.Dataset``
    (whose (image, label) elements give the labels). ``labels``, ``masks`` (boolean (H, W) each) and
    ``boxes`` ((x0, y0, x1, y1) in pixels, half-open): one per image, any iterable.
    ``maps``: None, ``"uint8"`` or ``"float16"`` to keep the maps in the table.
    ``engine="ray"``: the same rows computed on Ray (:func:`gradcam_widget.ray_audit.audit_ray`; the
    ``ray`` extra), ``images`` an array or a list of paths; ``actors=``, ``batch_size=``, ``num_gpus=``
    go to it. It uses the running Ray (``ray.init(address=...)`` first for a cluster).
    """
    if engine not in ("local", "ray"):
        raise ValueError(f"engine= must be 'local' or 'ray', got {engine!r}.")
    if engine == "ray":
        from .ray_audit import audit_ray

        if maps is not None:
            raise ValueError("maps= is not supported on Ray; audit locally to keep the maps.")
        return audit_ray(
            model,
            images,
            labels,
            masks=masks,
            boxes=boxes,
            class_names=class_names,
            method=method,
            layer=layer,
            chunk_size=chunk_size,
            preprocess=preprocess,
            output=output,
            input_size=input_size,
            **engine_options,
        )
    if engine_options:
        raise TypeError(f"{sorted(engine_options)} are options of engine='ray'; the local engine has none.")
    pd = require_pandas()
    from .explain.explainer import Explainer, explainer_for

    if maps is not None and maps not in _MAP_DTYPES:
        raise ValueError(f"maps= must be None, 'uint8' or 'float16', got {maps!r}.")
    if masks is not None and boxes is not None:
        raise ValueError("give masks= or boxes=, not both.")
    if isinstance(model, Explainer):
        chunk_size = min(int(chunk_size), model.cache_size)  # the maps reuse the chunk's cached features
    explainer = explainer_for(
        model,
        "audit",
        layer=layer,
        preprocess=preprocess,
        output=output,
        input_size=input_size,
        compiled=batch.worth_compiling(images),
        cache_size=max(int(chunk_size), 1),
    )
    label_stream = _aligned(labels, "labels")
    region_stream = _aligned(masks if masks is not None else boxes, "masks" if masks is not None else "boxes")
    has_regions = masks is not None or boxes is not None
    bar = batch.Progress(batch.count(images, batch.image_rank(explainer)), progress_after, desc="audit")
    frames = []  # one small table per chunk: per-row dicts never pile up for the whole dataset
    try:
        for chunk in batch.iter_chunks(images, chunk_size, batch.image_rank(explainer)):
            given = _take(label_stream, len(chunk), "labels") if labels is not None else [i.label for i in chunk]
            regions = _take(region_stream, len(chunk), "masks/boxes") if has_regions else [None] * len(chunk)
            frames.append(pd.DataFrame(_chunk_rows(explainer, chunk, given, regions, method, layer, maps, class_names)))
            bar.update(len(chunk))
    finally:
        bar.close()
    if not frames:
        return pd.DataFrame()
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _chunk_rows(explainer, chunk, given, regions, method, layer, maps, class_names):
    prepared = explainer.prepare_batch([item.image for item in chunk])
    if explainer.multi_label:
        raise ValueError(
            "the model's head is multi-label (several sigmoid units): the audit's confidence, "
            "margin, entropy and mistakenness assume one label per image. Audit a softmax or "
            "single-sigmoid head, or pick one unit with a model of its own."
        )
    probs, top = _probabilities(explainer, prepared, layer)
    pred_maps = explainer.cams_batch(prepared, top, method, layer=layer)  # from the cached features
    has_labels = any(g is not None for g in given)
    if has_labels:
        if any(g is None for g in given):
            raise ValueError("some images have a label and some do not; give every image a label, or none.")
        labels = [explainer.check_class(int(g) if isinstance(g, (np.integer,)) else g) for g in given]
        todo = [i for i, (c, m) in enumerate(zip(labels, pred_maps)) if c != m.class_index]
        true_maps = list(pred_maps)
        if todo:
            for i, cam in zip(
                todo, explainer.cams_batch([prepared[i] for i in todo], [labels[i] for i in todo], method, layer=layer)
            ):
                true_maps[i] = cam
    n_classes = probs.shape[1]
    rows = []
    for i, item in enumerate(chunk):
        p = probs[i]
        order = np.argsort(-p, kind="stable")
        pred = int(pred_maps[i].class_index)
        runner = int(order[1]) if n_classes > 1 else -1
        entropy = _entropy(p)
        row = {"id": item.id}
        if has_labels:
            row["label"] = labels[i]
        row.update(
            pred=pred,
            confidence=float(p[pred]),
            runner_up=runner,
            margin=float(p[pred] - (p[runner] if runner >= 0 else 0.0)),
            entropy=entropy,
            hardness=entropy / np.log(n_classes) if n_classes > 1 else 0.0,
        )
        if has_labels:
            row["correct"] = pred == labels[i]
            row["mistakenness"] = float(1.0 - p[labels[i]])
        if class_names is not None:
            row["pred_name"] = class_names[pred]
            if has_labels:
                row["label_name"] = class_names[labels[i]]
        size = item.image.values.shape[:2]
        for prefix, cam in (("pred", pred_maps[i]), ("true", true_maps[i] if has_labels else None)):
            if cam is None:
                continue
            values = cam.normalized
            row.update({f"{prefix}_{k}": v for k, v in map_stats(values).items()})
            if regions[i] is not None:
                stats = _region_stats(values, np.asarray(regions[i]), size)
                row.update({f"{prefix}_{k}": v for k, v in stats.items()})
            if maps is not None:
                row[f"{prefix}_map"] = _compact(values, maps)
        rows.append(row)
    return rows


def _probabilities(explainer, prepared, layer):
    """Probabilities and top classes of a chunk from one forward pass whose features stay cached for
    the maps (the chunk fits the cache). One weight check per chunk, not one per image."""
    scores = explainer.scores_cached(prepared, layer=layer)
    return scores.probabilities, [int(i) for i in np.argmax(scores.logits, axis=1)]


def _compact(values: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "uint8":
        return np.round(np.clip(values, 0, 1) * 255).astype(np.uint8)
    return values.astype(np.float16)


def map_columns(df) -> list[str]:
    return [c for c in df.columns if c.endswith("_map")]


def to_parquet(df, path) -> None:
    """Write an audit as Parquet; the maps (numpy arrays) are kept as bytes with their shape and dtype
    in the file's metadata, so :func:`read_audit` gives the same arrays back."""
    require_pandas()
    import pyarrow as pa
    import pyarrow.parquet as pq

    plain = df.drop(columns=map_columns(df))
    table = pa.Table.from_pandas(plain, preserve_index=False)
    meta = {}
    for column in map_columns(df):
        arrays = list(df[column])
        dtypes = {str(a.dtype) for a in arrays if a is not None}
        if len(dtypes) > 1:
            raise ValueError(f"the maps in {column!r} have several dtypes {sorted(dtypes)}; use one.")
        meta[column] = dtypes.pop() if dtypes else "uint8"
        table = table.append_column(
            column, pa.array([None if a is None else np.ascontiguousarray(a).tobytes() for a in arrays], pa.binary())
        )
        table = table.append_column(
            column + "_shape", pa.array([None if a is None else list(a.shape) for a in arrays], pa.list_(pa.int32()))
        )
    layout = json.dumps({"maps": meta, "columns": [str(c) for c in df.columns]}).encode()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _MAP_META: layout})
    pq.write_table(table, path)


def read_audit(path):
    """An audit written by :func:`to_parquet`, maps as numpy arrays again."""
    pd = require_pandas()
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    layout = json.loads((table.schema.metadata or {}).get(_MAP_META, b"{}"))
    meta = layout.get("maps", {})
    df = table.drop_columns([c for name in meta for c in (name, name + "_shape")]).to_pandas()
    for column, dtype in meta.items():
        blobs, shapes = table.column(column).to_pylist(), table.column(column + "_shape").to_pylist()
        df[column] = pd.Series(
            [None if b is None else np.frombuffer(b, dtype=dtype).reshape(s) for b, s in zip(blobs, shapes)],
            dtype=object,
            index=df.index,
        )
    return df[layout["columns"]] if "columns" in layout else df
