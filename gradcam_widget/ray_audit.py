"""The audit on Ray: Ray Data feeds the images, each actor holds one Explainer (its model loaded
once), and the rows come back as one table equal to the local :func:`gradcam_widget.audit.audit`.

``AuditBatch`` is the public callable for your own ``ray.data`` pipeline::

    ds = ray.data.read_images("s3://bucket/images/", include_paths=True)   # or from_items / from_numpy
    rows = ds.map_batches(AuditBatch, fn_constructor_args=(load_my_model,), batch_size=32,
                          concurrency=8, num_gpus=1, batch_format="numpy")   # one GPU per actor
    rows.write_parquet("s3://bucket/audit/")                                # read_audit opens each file

``ray.init()`` decides where it runs: ``ray.init(num_cpus=2)`` on this machine, ``ray.init("auto")``
(or ``RAY_ADDRESS=ray://head:10001``) on a cluster.
"""

from __future__ import annotations

import numpy as np


class AuditBatch:
    """Audit rows of one Ray Data batch: ``{"image": (B, H, W, C) or paths, "label": (B,), "id": (B,)}``
    (``label`` and ``id`` optional; Ray's ``read_images`` column ``path`` is taken as the id).

    ``model``: a function returning the Keras model (called once per actor), a ``.keras`` path, or a
    Keras model (Ray pickles it; each actor gets its own copy). A batch may carry ``box`` ((B, 4)) or
    ``mask`` ((B, H, W)) columns: the regions of the audit's ``boxes=`` / ``masks=``. Other keyword arguments go to :func:`~gradcam_widget.audit.audit` (not ``maps=``: Ray tables hold
    the statistics; keep maps with the local engine).
    """

    def __init__(self, model, **settings):
        from .explain import Explainer

        if settings.get("maps") is not None:
            raise ValueError("maps= is not supported on Ray; audit locally to keep the maps.")
        if isinstance(model, str):
            from .explain import load_keras_model

            model = load_keras_model(model)
        elif callable(model) and not hasattr(model, "predict"):
            model = model()
        engine = {k: settings.pop(k) for k in ("preprocess", "output", "input_size", "layer") if k in settings}
        self._explainer = Explainer(
            model, compiled=True, cache_size=max(int(settings.get("chunk_size", 16)), 1), **engine
        )
        self._settings = {**settings, "progress_after": 3600.0}

    def __call__(self, batch: dict):
        from .audit import audit

        images = batch["image"]
        if isinstance(images, np.ndarray) and images.dtype.kind in "OUS":
            images = [str(p) for p in images]
        labels = batch.get("label")
        regions = {k + "es" if k == "box" else k + "s": batch[k] for k in ("box", "mask") if k in batch}
        table = audit(
            self._explainer, images, None if labels is None else np.asarray(labels), **regions, **self._settings
        )
        ids = batch.get("id", batch.get("path"))
        if ids is not None:
            table["id"] = list(ids)
        return table


def require_ray():
    """The ray module, or an ImportError naming the extra that installs it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ImportError(
            "the Ray engine needs ray with Ray Data: pip install 'gradcam-widget[ray]' (or pip install 'ray[data]')"
        ) from None
    return ray


def audit_ray(
    model,
    images,
    labels=None,
    *,
    masks=None,
    boxes=None,
    actors: int = 2,
    batch_size: int = 32,
    num_gpus: float = 0,
    **settings,
):
    """:func:`~gradcam_widget.audit.audit` on Ray: ``images`` (an array or a list of paths) are split
    into batches for ``actors`` actors, each with its own model (``model`` as in :class:`AuditBatch`).
    Uses the running Ray (``ray.init(...)`` first to choose the cluster; without it Ray starts a
    local one); rows in the input's order."""
    ray = require_ray()
    from .audit import require_pandas
    from .explain import Explainer

    require_pandas()
    if isinstance(model, Explainer):
        raise TypeError(
            "the Ray engine loads the model in each actor: pass the Keras model, a .keras path or a "
            "function that builds it, not an Explainer."
        )
    if masks is not None and boxes is not None:
        raise ValueError("give masks= or boxes=, not both.")
    n = len(images)
    given = {"label": labels, "box": boxes, "mask": masks}
    for name, values in given.items():
        if values is not None and len(values) != n:
            raise ValueError(f"{name}s= has {len(values)} entries but there are {n} images: give one per image.")
    columns = {name: values for name, values in given.items() if values is not None}
    items = [{"id": i, "image": images[i], **{k: _item(k, v[i]) for k, v in columns.items()}} for i in range(n)]
    rows = ray.data.from_items(items).map_batches(
        AuditBatch,
        fn_constructor_args=(model,),
        fn_constructor_kwargs=settings,
        batch_size=batch_size,
        concurrency=int(actors),
        num_gpus=num_gpus,
        batch_format="numpy",
    )
    table = rows.to_pandas().sort_values("id", kind="stable").reset_index(drop=True)
    if isinstance(images, (list, tuple)) and all(isinstance(p, str) for p in images):
        table["id"] = [images[i] for i in table["id"]]
    return table


def _item(name, value):
    if name == "label":
        return int(value)
    return np.asarray(value)  # a box or a mask, in its own dtype (as the local audit reads it)
