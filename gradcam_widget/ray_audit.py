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

    ``model``: a function returning the Keras model (called once per actor) or a ``.keras`` path.
    Other keyword arguments go to :func:`~gradcam_widget.audit.audit` (not ``maps=``: Ray tables hold
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
        table = audit(self._explainer, images, None if labels is None else np.asarray(labels), **self._settings)
        ids = batch.get("id", batch.get("path"))
        if ids is not None:
            table["id"] = list(ids)
        return table


def audit_ray(model, images, labels=None, *, actors: int = 2, batch_size: int = 32, num_gpus: float = 0, **settings):
    """:func:`~gradcam_widget.audit.audit` on Ray: ``images`` (an array or a list of paths) are split
    into batches for ``actors`` actors, each with its own model (``model`` as in :class:`AuditBatch`).
    Uses the running Ray (``ray.init(...)`` first to choose the cluster); rows in the input's order."""
    try:
        import ray
    except ImportError:
        raise ImportError("the Ray engine needs ray: pip install 'gradcam-widget[ray]'") from None
    from .audit import require_pandas

    require_pandas()
    n = len(images)
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries but there are {n} images.")
    items = [{"id": i, "image": images[i], **({} if labels is None else {"label": int(labels[i])})} for i in range(n)]
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
