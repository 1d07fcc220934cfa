"""The engine never modifies the model, never retraces after warm-up, caches per image, and is
deterministic. (The catalogue of bad inputs is in test_bad_inputs.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import keras

from gradcam_widget import Explainer, compute_cam
from engine_models import assert_unchanged, gap_classifier, model_fingerprint, nested_backbone, random_image


@pytest.fixture(scope="module")
def model():
    return gap_classifier()


@pytest.fixture(scope="module")
def explainer(model):
    return Explainer(model)


def test_model_is_never_modified_by_any_method():
    model = gap_classifier(softmax="dense")
    nested, _ = nested_backbone()
    image = random_image()
    for m, img in ((model, image), (nested, random_image(size=48))):
        before = model_fingerprint(m)
        ex = Explainer(m)
        for method in ("gradcam", "gradcam++", "hirescam", "layercam", "xgradcam", "eigencam", "scorecam"):
            ex.cams(img, [0, 1], method)
        ex.scores(img)
        compute_cam(m, [img, img], [1, 0])
        assert_unchanged(before, model_fingerprint(m))
        # the softmax is still applied by the model itself
        out = np.asarray(m(img[None].astype(np.float32)))
        np.testing.assert_allclose(out.sum(), 1.0, rtol=1e-5)


def test_no_retracing_after_warm_up(model):
    ex = Explainer(model)
    images = [random_image(seed=s) for s in range(3)]
    ex.cams(images[0], [0, 1, 2])
    ex.cam(images[0], 3)
    warm = ex.trace_count
    for i in range(30):
        ex.cams(images[i % 3], [i % 5, (i + 1) % 5][: 1 + i % 2])
    assert ex.trace_count == warm


def test_features_are_cached_per_image(model):
    ex = Explainer(model, cache_size=2)
    calls = []
    original = ex.backend.features  # the one call that runs the backbone for uncached images

    def counting(inputs, layer):
        calls.append(int(inputs.shape[0]))
        return original(inputs, layer)

    ex.backend.features = counting
    image = random_image(seed=30)
    for c in range(5):
        ex.cam(image, c)
    assert calls == [1]
    for s in (31, 32, 30):  # cache of 2: image 30 was evicted by 31 and 32
        ex.cam(random_image(seed=s), 0)
    assert calls == [1, 1, 1, 1]


def test_maps_are_deterministic(model):
    image = random_image(seed=40)
    first = compute_cam(model, image, 2)
    for _ in range(3):
        assert np.array_equal(first, compute_cam(model, image, 2))


def test_layer_names_tensorflow_refuses_as_scopes_still_work():
    """Keras' own predict() fails on such names; the engine falls back to eager execution."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv with spaces <&>")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    image = random_image(size=16, seed=5)
    ex = Explainer(model)
    assert ex.layer_name == "conv with spaces <&>"
    cam = ex.cam(image, 1)
    features = keras.Model(model.inputs, model.layers[1].output)
    activations = np.asarray(features(image[None].astype(np.float32)))[0]
    expected = np.maximum(activations @ np.asarray(model.layers[-1].kernel)[:, 1], 0)
    if expected.max() > 0:
        np.testing.assert_allclose(cam.normalized, expected / expected.max(), atol=1e-5)
    else:
        assert not cam.has_evidence


def test_explainer_sees_weights_changed_after_it_was_created():
    """Training or set_weights after creating an Explainer must be reflected (no stale copy)."""
    model = gap_classifier(softmax="dense")
    image = random_image(seed=6)
    ex = Explainer(model)
    before = ex.cam(image, 2).normalized
    dense = model.get_layer("logits")
    kernel, bias = dense.get_weights()
    dense.set_weights([-3.0 * kernel[:, ::-1], bias + 1.0])
    ex.clear_cache()
    probs = np.asarray(model(image[None].astype(np.float32)))[0]
    np.testing.assert_allclose(ex.scores(image).probabilities, probs, rtol=1e-4, atol=1e-6)
    after = ex.cam(image, 2)
    np.testing.assert_allclose(after.normalized, compute_cam(model, image, 2)[0], atol=1e-6)
    assert not np.allclose(after.normalized, before, atol=1e-3)
