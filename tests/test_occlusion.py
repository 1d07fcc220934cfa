"""Occlusion sensitivity: the registry's model-agnostic method, checked against a plain loop."""

from __future__ import annotations

import numpy as np
import pytest

from gradcam_widget import registry
from gradcam_widget.explain import Cancelled, Explainer
from gradcam_widget.explain.occlusion import occlusion_method, patch_settings, positions
from gradcam_widget.widget import GradCAMWidget

from engine_models import gap_classifier, random_image


@pytest.fixture(scope="module")
def tiny():
    model = gap_classifier(num_classes=4, size=20, softmax="layer")  # a separate Softmax: logits inside
    logits = __import__("keras").Model(model.inputs, model.get_layer("logits").output)
    return model, logits, Explainer(model)


def plain_loop(logits_model, image, k, patch, stride, against=None):
    """One forward pass per patch position; each pixel averages the drops of the patches covering it."""
    x = image.astype(np.float32)
    height, width = x.shape[:2]

    def score(inp):
        out = np.asarray(logits_model(inp[None], training=False))[0].astype(np.float64)  # one pass
        return out[k] - (out[against] if against is not None else 0.0)

    base, fill = score(x), x.mean(axis=(0, 1))
    total, count = np.zeros((height, width)), np.zeros((height, width))
    tops = sorted(set(range(0, height - patch + 1, stride)) | {height - patch})
    lefts = sorted(set(range(0, width - patch + 1, stride)) | {width - patch})
    for top in tops:
        for left in lefts:
            covered = x.copy()
            covered[top : top + patch, left : left + patch] = fill
            total[top : top + patch, left : left + patch] += base - score(covered)
            count[top : top + patch, left : left + patch] += 1
    return np.maximum(total / count, 0.0)


def test_positions_cover_every_pixel():
    assert positions(20, 6, 4) == [0, 4, 8, 12, 14]
    assert positions(8, 8, 3) == [0]
    assert patch_settings(64, 48) == (6, 3)
    with pytest.raises(ValueError, match="larger"):
        patch_settings(10, 10, patch=11)
    with pytest.raises(ValueError, match="stride"):
        patch_settings(10, 10, stride=0)


def test_occlusion_equals_a_plain_loop_over_patch_positions(tiny):
    model, logits, explainer = tiny
    image = random_image(20, seed=2)
    custom = occlusion_method(patch=6, stride=4, name="occlusion-6-4")
    registry.register(custom)
    try:
        cams = explainer.cams(image, [0, 3], method="occlusion-6-4")
        for cam, k in zip(cams, [0, 3]):
            expected = plain_loop(logits, image, k, 6, 4)
            assert cam.raw.shape == (20, 20)
            np.testing.assert_allclose(cam.raw, expected * (expected.max() > 1e-6 * np.abs(expected).max()), atol=1e-5)
        contrastive = explainer.cam(image, 1, method="occlusion-6-4", contrast=2)
        np.testing.assert_allclose(contrastive.raw, plain_loop(logits, image, 1, 6, 4, against=2), atol=1e-5)
        default = explainer.cam(image, 0, method="occlusion")  # registry default: 1/8 and 1/16 of the side
        np.testing.assert_allclose(default.raw, plain_loop(logits, image, 0, *patch_settings(20, 20)), atol=1e-5)
    finally:
        registry.unregister("occlusion-6-4")


def test_occlusion_reports_progress_and_can_be_cancelled(tiny):
    _, _, explainer = tiny
    image = random_image(20, seed=4)
    seen = []
    explainer.cam(image, 0, method="occlusion", progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1] == len(positions(20, 2, 1)) ** 2
    with pytest.raises(Cancelled):
        explainer.cam(random_image(20, seed=5), 0, method="occlusion", cancel=lambda: True)


def test_occlusion_in_the_widget_is_slow_and_shows_the_same_map(tiny):
    model, logits, explainer = tiny
    image = random_image(20, seed=6)
    w = GradCAMWidget(explainer, image)
    assert "occlusion" in w.methods and w.method_labels["occlusion"] == "Occlusion"
    w.method = "occlusion"
    assert w.wait(60) and w.status["state"] == "ready" and w.status["method"] == "occlusion"
    k = w.selected_class
    np.testing.assert_allclose(w.heatmap, explainer.cam(image, k, method="occlusion").normalized, atol=1e-6)
    assert w.maps[0]["height"] == 20 and w.maps[0]["method"] == "occlusion"
    w.close()
