"""The audit on a local 2-CPU Ray equals the local audit row for row.

Opt-in (``--run-slow``, about a minute: Ray starts and each actor imports TensorFlow); needs the
``ray`` extra (``pip install 'gradcam-widget[ray]'``).
"""

from __future__ import annotations

import numpy as np
import pytest
from engine_models import gap_classifier

from gradcam_widget.audit import audit
from gradcam_widget.ray_audit import audit_ray


def small_model():
    return gap_classifier(num_classes=5, size=32)


@pytest.mark.slow
def test_ray_equals_local(tmp_path, request):
    if not request.config.getoption("--run-slow", default=False):
        pytest.skip("starts Ray with two TensorFlow actors; run with --run-slow (needs the ray extra)")
    import ray

    path = str(tmp_path / "model.keras")  # what each actor loads (its own copy of the model)
    small_model().save(path)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 5, 200)
    local = audit(small_model(), images, labels)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = audit_ray(path, images, labels, actors=2, batch_size=50)
    finally:
        ray.shutdown()
    assert list(remote.columns) == list(local.columns)
    assert len(remote) == 200
    np.testing.assert_array_equal(remote["id"], local["id"])
    for column in local.columns:
        a, b = local[column].to_numpy(), remote[column].to_numpy()
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b.astype(float), a, atol=1e-6, equal_nan=True, err_msg=column)
        else:
            np.testing.assert_array_equal(b, a, err_msg=column)
