"""Every entry point takes a Keras model or an Explainer; settings that belong to an Explainer are
refused next to one (they would be silently ignored), and the Explainer is reused as it is."""

from __future__ import annotations

import numpy as np
import pytest

from gradcam_widget import Explainer, compute_cam, explore_misclassifications, show_gradcam
from engine_models import gap_classifier, random_image


@pytest.fixture(scope="module")
def explainer():
    return Explainer(gap_classifier(num_classes=3, size=32))


@pytest.mark.parametrize("option", ["preprocess", "output", "input_size"])
def test_compute_cam_and_show_gradcam_refuse_explainer_settings(explainer, option):
    value = {"preprocess": lambda x: x, "output": 0, "input_size": (32, 32)}[option]
    img = random_image(32)
    with pytest.raises(ValueError, match=rf"{option}= belong to the Explainer passed to compute_cam"):
        compute_cam(explainer, img, **{option: value})
    with pytest.raises(ValueError, match=rf"{option}= belong to the Explainer passed to show_gradcam"):
        show_gradcam(explainer, img, **{option: value})


def test_the_explorer_also_refuses_a_layer_next_to_an_explainer(explainer):
    images = np.stack([random_image(32, seed=s) for s in range(3)])
    with pytest.raises(ValueError, match=r"layer= belong to the Explainer passed to explore_misclassifications"):
        explore_misclassifications(explainer, images, [0, 1, 2], layer=explainer.layer_name)


def test_an_explainer_passed_in_is_reused(explainer):
    img = random_image(32, seed=4)
    w = show_gradcam(explainer, img)
    try:
        assert w.explainer is explainer
    finally:
        w.close()
    np.testing.assert_allclose(compute_cam(explainer, img)[0], explainer.cam(img).normalized, atol=1e-6)
