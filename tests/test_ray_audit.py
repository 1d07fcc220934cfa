"""The audit on a local 2-CPU Ray equals the local audit row for row (issue 19).

In the normal suite (the ``test`` extra installs ray): one Ray start, two actors that each import
TensorFlow and unpickle their own copy of a tiny model; Ray's start-up is most of the time.
"""

from __future__ import annotations

import numpy as np
import pytest
from engine_models import gap_classifier

from gradcam_widget.audit import audit

N = 256


def test_ray_equals_local():
    import ray  # the test extra installs it: a missing ray fails here rather than skipping

    model = gap_classifier(num_classes=5, size=16)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (N, 16, 16, 3), dtype=np.uint8)
    labels = rng.integers(0, 5, N)
    boxes = [(int(x), int(y), int(x) + 8, int(y) + 8) for x, y in rng.integers(0, 8, (N, 2))]
    local = audit(model, images, labels, boxes=boxes)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        remote = audit(model, images, labels, boxes=boxes, engine="ray", actors=2, batch_size=64)
    finally:
        ray.shutdown()
    assert list(remote.columns) == list(local.columns)
    assert len(remote) == N
    assert "pred_energy_in" in remote.columns  # the boxes reached the actors
    np.testing.assert_array_equal(remote["id"], local["id"])
    for column in local.columns:
        a, b = local[column].to_numpy(), remote[column].to_numpy()
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b.astype(float), a, atol=1e-6, equal_nan=True, err_msg=column)
        else:
            np.testing.assert_array_equal(b, a, err_msg=column)


def test_ray_engine_refuses_what_it_cannot_do():
    model = gap_classifier(num_classes=5, size=16)
    images = np.zeros((2, 16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="engine= must be 'local' or 'ray'"):
        audit(model, images, engine="spark")
    with pytest.raises(ValueError, match="maps= is not supported on Ray"):
        audit(model, images, engine="ray", maps="uint8")
    with pytest.raises(TypeError, match="options of engine='ray'"):
        audit(model, images, actors=2)
