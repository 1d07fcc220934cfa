"""Exact checks of the engine's maps against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import keras

from gradcam_widget import Explainer, compute_cam
from engine_models import gap_classifier, nested_backbone, random_image, residual_model, sigmoid_classifier


def _cam_oracle(model, image, class_index, conv_name="conv_last", dense_name="logits"):
    """Classic CAM: ReLU(sum_k w_kc A_k), normalised; independent of the engine (Keras sub-model)."""
    features = keras.Model(model.inputs, model.get_layer(conv_name).output)
    x = np.asarray(image, np.float32)[None]
    activations = np.asarray(features(x))[0]
    weights = np.asarray(model.get_layer(dense_name).kernel)[:, class_index]
    cam = np.maximum(activations @ weights, 0.0)
    return cam / cam.max()


@pytest.mark.parametrize("softmax", ["dense", "layer", "activation", None])
def test_gradcam_equals_cam_on_global_average_pooling_head(softmax):
    model = gap_classifier(softmax=softmax)
    image = random_image(seed=1)
    for class_index in range(5):
        expected = _cam_oracle(model, image, class_index)
        got = compute_cam(model, image, class_index)[0]
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_hirescam_equals_gradcam_on_global_average_pooling_head():
    model = gap_classifier()
    image = random_image(seed=2)
    ex = Explainer(model)
    for class_index in range(5):
        g = ex.cam(image, class_index, "gradcam").normalized
        h = ex.cam(image, class_index, "hirescam").normalized
        np.testing.assert_allclose(h, g, atol=1e-5)


def test_gradient_is_taken_before_softmax():
    """With softmax, d p_c / dA mixes all classes; the engine must use the score (logit) instead."""
    model = gap_classifier(softmax="dense")
    logits_model = gap_classifier(softmax=None)
    logits_model.set_weights(model.get_weights())
    image = random_image(seed=3)
    np.testing.assert_allclose(compute_cam(model, image, 3), compute_cam(logits_model, image, 3), atol=1e-6)


def test_scores_are_pre_softmax_and_probabilities_match_model():
    model = gap_classifier(softmax="dense")
    image = random_image(seed=4)
    scores = Explainer(model).scores(image)
    probs = np.asarray(model(image[None].astype(np.float32)))[0]
    np.testing.assert_allclose(scores.probabilities, probs, rtol=1e-4, atol=1e-6)
    e = np.exp(scores.logits - scores.logits.max())
    np.testing.assert_allclose(e / e.sum(), probs, rtol=1e-4, atol=1e-6)


def test_batched_classes_equal_per_class_loop():
    model = gap_classifier()
    image = random_image(seed=5)
    for method in ("gradcam", "gradcam++", "layercam", "xgradcam", "hirescam"):
        ex = Explainer(model)
        batched = ex.cams(image, [0, 1, 2, 3, 4], method)
        loop = [Explainer(model).cam(image, c, method) for c in range(5)]
        for b, l in zip(batched, loop):
            assert b.class_index == l.class_index
            np.testing.assert_allclose(b.raw, l.raw, rtol=1e-5, atol=1e-7)


def test_per_image_classes_in_a_batch_equal_separate_calls():
    model = gap_classifier()
    images = [random_image(seed=s) for s in (10, 11, 12)]
    classes = [4, 0, 2]
    together = compute_cam(model, images, classes)
    for image, c, got in zip(images, classes, together):
        np.testing.assert_allclose(got, compute_cam(model, image, c)[0], atol=1e-6)
    # and the batch does not borrow one image's class for another's map
    assert not np.allclose(together[0], compute_cam(model, images[0], 0)[0], atol=1e-3)


def test_default_class_is_each_images_top_class():
    model = gap_classifier()
    images = np.stack([random_image(seed=s) for s in (20, 21, 22, 23)])
    tops = np.argmax(np.asarray(model(images.astype(np.float32))), axis=1)
    np.testing.assert_allclose(compute_cam(model, images), compute_cam(model, images, list(tops)), atol=1e-6)


def test_nested_backbone_gradcam_equals_cam():
    model, backbone = nested_backbone()
    image = random_image(size=48, seed=6)
    ex = Explainer(model)
    assert ex.layer_name == "bb_out"
    assert ex.candidate_layers == ["bb_conv1", "bb_pool", "bb_conv2", "bb_out"]
    features = keras.Model(backbone.inputs, backbone.get_layer("bb_out").output)
    activations = np.asarray(features(image[None].astype(np.float32) / 255.0))[0]
    weights = np.asarray(model.get_layer("head").kernel)
    checked = 0
    for c in range(4):
        expected = np.maximum(activations @ weights[:, c], 0)
        cam = ex.cam(image, c)
        if expected.max() == 0:  # no positive evidence: the engine says so instead of dividing 0/0
            assert not cam.has_evidence and cam.normalized.max() == 0
            continue
        checked += 1
        np.testing.assert_allclose(cam.normalized, expected / expected.max(), atol=1e-5)
    assert checked >= 2
    # a nested layer can also be named as outer/inner
    assert ex.cam(image, 0, layer="backbone/bb_conv2").layer == "bb_conv2"


def test_never_called_sequential_without_input_is_built_on_first_image():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.layers.Conv2D(6, 3, activation="relu", name="c1"),
            keras.layers.Conv2D(6, 3, activation="relu", name="c2"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    image = random_image(size=20, seed=7)
    maps = compute_cam(model, image, 1)
    assert maps.shape == (1, 16, 16)
    assert Explainer(model).layer_name == "c2"


def test_sequential_with_input_never_called():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((24, 24, 3)),
            keras.layers.Conv2D(6, 3, activation="relu", name="c1"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax", name="d"),
        ]
    )
    image = random_image(size=24, seed=8)
    ex = Explainer(model)
    assert ex.layer_name == "c1" and ex.num_classes == 3
    features = keras.Model(model.inputs, model.get_layer("c1").output)
    activations = np.asarray(features(image[None].astype(np.float32)))[0]
    expected = np.maximum(activations @ np.asarray(model.get_layer("d").kernel)[:, 2], 0)
    np.testing.assert_allclose(ex.cam(image, 2).normalized, expected / expected.max(), atol=1e-5)


def test_sigmoid_class_one_is_evidence_for_class_zero_against():
    model = sigmoid_classifier()
    image = random_image(seed=9)
    ex = Explainer(model)
    assert ex.num_classes == 2
    features = keras.Model(model.inputs, model.get_layer("conv_last").output)
    activations = np.asarray(features(image[None].astype(np.float32)))[0]
    w = np.asarray(model.get_layer("out").kernel)[:, 0]
    for class_index, sign in ((1, 1.0), (0, -1.0)):
        expected = np.maximum(sign * activations @ w, 0)
        cam = ex.cam(image, class_index)
        if expected.max() > 0:
            np.testing.assert_allclose(cam.normalized, expected / expected.max(), atol=1e-5)
        else:
            assert not cam.has_evidence
    p = float(np.asarray(model(image[None].astype(np.float32)))[0, 0])
    np.testing.assert_allclose(ex.scores(image).probabilities, [1 - p, p], atol=1e-5)


def test_residual_inner_convs_are_not_candidates():
    ex = Explainer(residual_model())
    assert "inner_a" not in ex.candidate_layers and "inner_b" not in ex.candidate_layers
    assert ex.candidate_layers == ["stem", "block_add", "block_out", "pool"]
    assert ex.layer_name == "block_out"
    with pytest.raises(ValueError, match="inner_a.*cannot be used.*block_out"):
        Explainer(residual_model(), layer="inner_a")


def test_mixed_precision_maps_are_float32_and_match_float32_model():
    image = random_image(seed=13)
    reference_model = gap_classifier(softmax="dense")
    reference = compute_cam(reference_model, image, 2)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = gap_classifier(softmax="dense")
    finally:
        keras.config.set_dtype_policy(previous)
    model.set_weights(reference_model.get_weights())
    assert model.get_layer("conv_last").compute_dtype == "float16"
    maps = compute_cam(model, image, 2)
    assert maps.dtype == np.float32
    assert np.all(np.isfinite(maps))
    np.testing.assert_allclose(maps, reference, atol=2e-2)


def test_zero_activation_map_is_zeros_not_nan_and_flagged():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", kernel_initializer="zeros", bias_initializer="zeros", name="dead")(
        inputs
    )
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inputs, x)
    image = random_image(size=16, seed=1)
    maps = compute_cam(model, image, 0)
    assert np.all(np.isfinite(maps)) and maps.max() == 0.0
    cam = Explainer(model).cam(image, 0)
    assert cam.has_evidence is False and cam.maximum == 0.0
    for method in ("gradcam", "gradcam++", "hirescam", "layercam", "xgradcam", "eigencam", "scorecam"):
        assert np.all(np.isfinite(compute_cam(model, image, 1, method=method)))


def test_normalize_false_returns_raw_units():
    model = gap_classifier()
    image = random_image(seed=14)
    raw = compute_cam(model, image, 1, normalize=False)[0]
    norm = compute_cam(model, image, 1)[0]
    assert raw.max() > 0 and norm.max() == pytest.approx(1.0)
    np.testing.assert_allclose(raw / raw.max(), norm, atol=1e-6)


def test_contrastive_map_equals_difference_of_class_weights():
    """Why class a rather than b: ReLU(sum_k (w_ka - w_kb) A_k), normalised, on a GAP head."""
    model = gap_classifier(softmax="dense")
    image = random_image(seed=15)
    features = keras.Model(model.inputs, model.get_layer("conv_last").output)
    activations = np.asarray(features(image[None].astype(np.float32)))[0]
    w = np.asarray(model.get_layer("logits").kernel)
    ex = Explainer(model)
    checked = 0
    for a, b in ((0, 1), (2, 4), (3, 0)):
        expected = np.maximum(activations @ (w[:, a] - w[:, b]), 0)
        for method in ("gradcam", "hirescam", "scorecam"):
            cam = ex.cam(image, a, method, contrast=b)
            assert cam.contrast == b and cam.class_index == a
            if method == "scorecam":
                assert np.all(np.isfinite(cam.normalized))
                continue
            if expected.max() == 0:
                assert not cam.has_evidence
                continue
            checked += 1
            np.testing.assert_allclose(cam.normalized, expected / expected.max(), atol=1e-5)
    assert checked >= 4
    together = compute_cam(model, [image, image], [0, 2], contrast=[1, 4])
    np.testing.assert_allclose(together[1], ex.cam(image, 2, contrast=4).normalized, atol=1e-6)
    with pytest.raises(ValueError, match="same class"):
        ex.cam(image, 1, contrast=1)


def test_scorecam_reports_progress_and_can_be_cancelled():
    from gradcam_widget.explain import Cancelled

    model = gap_classifier()
    image = random_image(seed=16)
    ex = Explainer(model, scorecam_channels=16, batch_size=4)
    seen = []
    ex.cam(image, 1, "scorecam", progress=lambda done, total: seen.append((done, total)))
    assert seen == [(4, 16), (8, 16), (12, 16), (16, 16)]
    calls = []

    def cancel_after_two():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):  # another image: its masked passes are not known yet
        ex.cam(random_image(seed=17), 2, "scorecam", cancel=cancel_after_two)
