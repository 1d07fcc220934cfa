"""The engine against an independent implementation (tf-keras-vis) and real architectures."""

from __future__ import annotations

import numpy as np
import pytest
import keras

from gradcam_widget import Explainer
from engine_models import assert_unchanged, model_fingerprint

applications = keras.applications


def _tf_keras_vis(model):
    """tf-keras-vis's Gradcam on a clone of ``model`` (cloned once: cloning VGG16 costs seconds)."""
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

    return Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)


def _tf_keras_vis_gradcam(gradcam, x, class_index, layer):
    from tf_keras_vis.utils.scores import CategoricalScore

    cam = gradcam(
        CategoricalScore([class_index]),
        x[None],
        penultimate_layer=layer,
        seek_penultimate_conv_layer=False,
        normalize_cam=False,
        expand_cam=False,
    )
    return np.asarray(cam)[0]


@pytest.mark.parametrize("name, layer", [("VGG16", "block5_conv3"), ("ResNet50", "conv5_block3_out")])
def test_agrees_with_tf_keras_vis(name, layer):
    keras.utils.set_random_seed(0)
    model = getattr(applications, name)(weights=None)
    before = model_fingerprint(model)
    x = np.random.default_rng(1).uniform(0, 255, (224, 224, 3)).astype(np.float32)
    ex = Explainer(model)
    assert ex.layer_name == layer
    top = np.argsort(ex.scores(x).logits)[::-1][:3]
    compared = 0
    gradcam = _tf_keras_vis(model)
    for c in top:
        ours = ex.cam(x, int(c))
        theirs = np.maximum(_tf_keras_vis_gradcam(gradcam, x, int(c), layer), 0)
        if theirs.max() <= 0:
            assert not ours.has_evidence
            continue
        compared += 1
        np.testing.assert_allclose(ours.normalized, theirs / theirs.max(), atol=1e-4)
    assert compared >= 1
    assert_unchanged(before, model_fingerprint(model))


@pytest.mark.parametrize(
    "name, layer, shape",
    [
        ("DenseNet121", "relu", (7, 7, 1024)),
        ("Xception", "block14_sepconv2_act", (10, 10, 2048)),
        ("MobileNetV2", "out_relu", (7, 7, 1280)),
        ("EfficientNetB0", "top_activation", (7, 7, 1280)),
    ],
)
def test_default_layer_of_standard_architectures(name, layer, shape):
    model = getattr(applications, name)(weights=None)
    ex = Explainer(model)
    assert ex.layer_name == layer
    assert ex.layer_shape() == shape
    assert ex.candidate_layers[-1] in (layer, ex.candidate_layers[-1])
    assert ex.candidate_layers.index(layer) > len(ex.candidate_layers) // 2


def test_nested_keras_application_backbone():
    keras.utils.set_random_seed(0)
    base = applications.MobileNetV2(include_top=False, weights=None, input_shape=(96, 96, 3))
    model = keras.Sequential(
        [
            keras.Input((96, 96, 3)),
            base,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    before = model_fingerprint(model)
    base_nodes = len(base._inbound_nodes)
    ex = Explainer(model)
    assert ex.layer_name == "out_relu"
    image = np.random.default_rng(2).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    maps = ex.cams(image, [0, 1, 2, 3])
    assert all(np.all(np.isfinite(m.normalized)) for m in maps)
    assert any(m.has_evidence for m in maps)
    assert len(base._inbound_nodes) == base_nodes
    assert_unchanged(before, model_fingerprint(model))
