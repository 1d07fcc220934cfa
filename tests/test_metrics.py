"""Trust metrics on tiny models whose outputs are known by hand or by construction."""

from __future__ import annotations

import numpy as np
import pytest

import keras  # noqa: E402

from engine_models import (
    assert_unchanged,
    model_fingerprint,
    nested_backbone,
    random_image,  # noqa: E402
    sigmoid_classifier,
)
from gradcam_widget import Explainer  # noqa: E402
from gradcam_widget.colormaps import bilinear_upsample  # noqa: E402
from gradcam_widget.metrics import (
    auc,
    average_drop_increase,
    deletion,
    energy_in_region,  # noqa: E402
    insertion,
    pointing_game,
    randomization_check,
    spearman,
)
from gradcam_widget.metrics.faithfulness import make_baseline, pixel_order, step_counts  # noqa: E402
from gradcam_widget.metrics.sanity import _verdict  # noqa: E402

LN3 = float(np.log(3.0))
WHITE = np.full((2, 2, 3), 255, np.uint8)


def linear_model(weights, bias, size=2, channel_scale=1 / 765):
    """p(class 1) = sigmoid(ln3 * (sum_i weights[i] * gray_i + bias)), gray_i in [0, 1] per pixel.

    A 1x1 conv averages the channels (times 1/255), Flatten + Dense weigh each pixel; class 0 has
    logit 0, so the softmax is that sigmoid. With weights and bias in units of ln 3 the probabilities
    are 0.1, 0.25, 0.5, 0.75, 0.9 for logits -2, -1, 0, 1, 2 (x ln 3).
    """
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(1, 1, use_bias=False, name="gray")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(2, activation="softmax", name="out")(x)
    model = keras.Model(inputs, x)
    model.get_layer("gray").set_weights([np.full((1, 1, 3, 1), channel_scale, np.float32)])
    kernel = np.zeros((size * size, 2), np.float32)
    kernel[:, 1] = LN3 * np.asarray(weights, np.float32)
    model.get_layer("out").set_weights([kernel, np.array([0.0, LN3 * bias], np.float32)])
    return model


@pytest.fixture(scope="module")
def hand_model():
    return linear_model([2, 1, 1, 0], -2)  # logit (x ln3) = 2*p0 + p1 + p2 - 2, row-major pixels


SALIENCY = np.array([[4.0, 3.0], [2.0, 1.0]])  # deletes pixel 0, then 1, 2, 3


# ---- deletion / insertion: exact values ---------------------------------------------------------


def test_deletion_curve_and_auc_match_the_hand_computation(hand_model):
    result = deletion(hand_model, WHITE, SALIENCY, 1, steps=4, baseline=0, progress=False)
    # logits 2, 0, -1, -2, -2 (x ln3) as pixels 0, 1, 2, 3 turn black
    np.testing.assert_allclose(result.fractions, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(result.probabilities, [0.9, 0.5, 0.25, 0.1, 0.1], atol=1e-6)
    assert result.auc == pytest.approx(0.25 * (0.45 + 0.5 + 0.25 + 0.1 + 0.05), abs=1e-6)  # 0.3375
    assert (result.kind, result.class_index, result.baseline) == ("deletion", 1, "array")
    np.testing.assert_allclose(result.logits, LN3 * np.array([2, 0, -1, -2, -2]), atol=1e-5)


def test_insertion_curve_and_auc_match_the_hand_computation(hand_model):
    result = insertion(hand_model, WHITE, SALIENCY, 1, steps=4, baseline=0, progress=False)
    np.testing.assert_allclose(result.probabilities, [0.1, 0.5, 0.75, 0.9, 0.9], atol=1e-6)
    assert result.auc == pytest.approx(0.6625, abs=1e-6)


def test_the_order_of_the_map_decides_the_curve(hand_model):
    reverse = deletion(hand_model, WHITE, -SALIENCY, 1, steps=4, baseline=0, progress=False)
    # pixel 3 (weight 0) first: logits 2, 2, 1, 0, -2
    np.testing.assert_allclose(reverse.probabilities, [0.9, 0.9, 0.75, 0.5, 0.1], atol=1e-6)
    assert reverse.auc == pytest.approx(0.6625, abs=1e-6)


def test_pixels_are_perturbed_before_preprocessing(hand_model):
    """The baseline is in pixel units: with preprocess=x/255 the same model gives the same curve."""
    unscaled = linear_model([2, 1, 1, 0], -2, channel_scale=1 / 3)
    result = deletion(unscaled, WHITE, SALIENCY, 1, steps=4, baseline=0, progress=False, preprocess=lambda x: x / 255.0)
    np.testing.assert_allclose(result.probabilities, [0.9, 0.5, 0.25, 0.1, 0.1], atol=1e-6)


def test_an_explainer_is_reused_and_gives_the_same_curve(hand_model):
    explainer = Explainer(hand_model)
    result = deletion(explainer, WHITE, SALIENCY, 1, steps=4, baseline=0, progress=False)
    np.testing.assert_allclose(result.probabilities, [0.9, 0.5, 0.25, 0.1, 0.1], atol=1e-6)
    with pytest.raises(ValueError, match="preprocess"):
        deletion(explainer, WHITE, SALIENCY, 1, preprocess=lambda x: x, progress=False)


def test_default_class_is_the_predicted_one_and_a_cammap_is_accepted(hand_model):
    explainer = Explainer(hand_model)
    cam = explainer.cam(WHITE, 1, "hirescam")  # weight x input: pixel 0 hottest, pixel 3 zero
    result = deletion(explainer, WHITE, cam, steps=4, baseline=0, progress=False)
    assert result.class_index == 1
    assert result.probabilities[1] == pytest.approx(0.5, abs=1e-6)


def test_a_single_sigmoid_output_counts_as_two_classes_as_in_the_widget():
    explainer = Explainer(sigmoid_classifier())
    image = random_image(32)
    expected = explainer.scores(image).probabilities
    for c in (0, 1):
        result = deletion(explainer, image, np.ones((4, 4)), c, steps=2, progress=False)
        assert result.probabilities[0] == pytest.approx(float(expected[c]), abs=1e-6)


def test_mean_baseline_is_the_images_mean_colour(hand_model):
    image = np.zeros((2, 2, 3), np.uint8)
    image[0, 0] = 255  # mean colour 63.75 -> every deleted pixel gray 0.25
    result = deletion(hand_model, image, SALIENCY, 1, steps=4, baseline="mean", progress=False)
    # gray per pixel: [1, 0, 0, 0], then [.25, 0, 0, 0], [.25, .25, 0, 0], [.25, .25, .25, 0], all .25
    logits = np.array([2 * 1 - 2, 2 * 0.25 - 2, 2 * 0.25 + 0.25 - 2, 2 * 0.25 + 0.5 - 2, 2 * 0.25 + 0.5 - 2])
    np.testing.assert_allclose(result.probabilities, 1 / (1 + 3.0**-logits), atol=1e-6)


def test_steps_that_do_not_divide_the_pixels_report_the_true_fractions():
    model = linear_model(np.zeros(16), 0, size=4)
    result = insertion(model, np.zeros((4, 4, 3)), np.arange(16.0).reshape(4, 4), 1, steps=3, progress=False)
    np.testing.assert_allclose(result.fractions, [0, 5 / 16, 11 / 16, 1])
    np.testing.assert_array_equal(step_counts(4, 10), [0, 1, 2, 3, 4])  # never a repeated step


def test_low_resolution_maps_are_upsampled_like_the_screen():
    order = pixel_order(np.array([[0.0, 1.0]]), 1, 4)  # upsampled: 0, 0.25, 0.75, 1
    np.testing.assert_array_equal(order, [3, 2, 1, 0])
    saliency = np.random.default_rng(1).random((3, 5))
    order = pixel_order(saliency, 12, 20)
    values = bilinear_upsample(saliency, 12, 20).ravel()[order]
    assert np.all(np.diff(values) <= 0)


def test_ties_are_broken_scattered_and_reproducibly():
    order = pixel_order(np.zeros((8, 8)), 8, 8)
    np.testing.assert_array_equal(order, pixel_order(np.zeros((8, 8)), 8, 8))
    first_half_rows = order[:32] // 8
    assert first_half_rows.min() < 4 <= first_half_rows.max()  # not the top rows first


def test_baselines():
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0, 255, (20, 30, 3)).astype(np.float32)
    np.testing.assert_allclose(make_baseline(pixels, "mean")[5, 7], pixels.mean(axis=(0, 1)), rtol=1e-5)
    blurred = make_baseline(pixels, "blur")
    assert blurred.std() < 0.5 * pixels.std()  # detail removed
    np.testing.assert_allclose(blurred.mean(axis=(0, 1)), pixels.mean(axis=(0, 1)), rtol=0.02)  # colour kept
    flat = np.full((20, 30, 1), 77.0, np.float32)
    np.testing.assert_allclose(make_baseline(flat, "blur"), flat, rtol=1e-6)  # grayscale models too
    np.testing.assert_array_equal(make_baseline(pixels, [0, 0, 255])[3, 3], [0, 0, 255])
    with pytest.raises(ValueError, match="broadcast"):
        make_baseline(pixels, np.zeros((5, 5, 3)))
    # black: the value shown as black, 0 for images in [0, 1] or [0, 255], else the image's minimum
    np.testing.assert_array_equal(make_baseline(pixels, "black"), np.zeros_like(pixels))
    np.testing.assert_array_equal(make_baseline(pixels / 255, "black"), np.zeros_like(pixels))
    caffe = pixels - np.array([103.939, 116.779, 123.68], np.float32)  # VGG-style, negative
    np.testing.assert_array_equal(make_baseline(caffe, "black"), np.full_like(pixels, caffe.min()))
    with pytest.raises(ValueError, match="'blur', 'mean', 'black'"):
        make_baseline(pixels, "white")


def test_bad_arguments_fail_before_any_forward_pass(hand_model):
    calls = []
    with pytest.raises(ValueError, match="out of range"):
        deletion(hand_model, WHITE, SALIENCY, 5, progress=lambda *a: calls.append(a))
    with pytest.raises(ValueError, match="steps"):
        deletion(hand_model, WHITE, SALIENCY, 1, steps=0, progress=lambda *a: calls.append(a))
    with pytest.raises(ValueError, match="NaN"):
        deletion(hand_model, WHITE, np.full((2, 2), np.nan), 1, progress=lambda *a: calls.append(a))
    with pytest.raises(ValueError, match="2-D"):
        insertion(hand_model, WHITE, np.zeros((2, 2, 2)), 1, progress=lambda *a: calls.append(a))
    with pytest.raises(TypeError, match="progress"):
        insertion(hand_model, WHITE, SALIENCY, 1, progress="yes")
    assert calls == []


def test_progress_reports_every_image_in_batches(hand_model):
    calls = []
    deletion(
        hand_model,
        WHITE,
        SALIENCY,
        1,
        steps=4,
        batch_size=2,
        baseline=0,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(2, 5), (4, 5), (5, 5)]


def test_auc_is_the_trapezoid_rule():
    assert auc([0, 0.5, 1], [1, 1, 0]) == pytest.approx(0.75)
    assert auc([0, 1], [0.2, 0.2]) == pytest.approx(0.2)


# ---- a model whose answer is known by construction -----------------------------------------------

REGION = (slice(4, 10), slice(8, 14))


def edge_model(scale=1.0, bias=0.0, size=16):
    """Class 1 = |Laplacian| of the image summed over REGION: only the texture there matters."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="edges")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(2, activation="softmax", name="out")(x)
    model = keras.Model(inputs, x)
    laplacian = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], np.float32) / 765
    kernel = np.stack([laplacian, -laplacian], axis=-1)[:, :, None, :].repeat(3, axis=2)
    model.get_layer("edges").set_weights([kernel, np.zeros(2, np.float32)])
    where = np.zeros((size, size, 2), np.float32)
    where[REGION] = 1.0
    dense = np.zeros((size * size * 2, 2), np.float32)
    dense[:, 1] = scale * where.ravel()
    model.get_layer("out").set_weights([dense, np.array([0.0, bias], np.float32)])
    return model


@pytest.fixture(scope="module")
def edge_case():
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    raw = Explainer(edge_model()).scores(image).logits[1]
    model = edge_model(scale=6.0 / raw, bias=-3.0)  # logit +3 on the image, -3 without texture
    perfect = np.zeros((16, 16))
    perfect[REGION] = 1.0
    return model, image, perfect


@pytest.mark.parametrize("baseline", ["blur", "mean"])
def test_the_true_map_beats_random_maps(edge_case, baseline):
    model, image, perfect = edge_case
    explainer = Explainer(model)
    rng = np.random.default_rng(1)
    randoms = [rng.random((4, 4)) for _ in range(6)]
    kw = dict(baseline=baseline, progress=False)
    true_del = deletion(explainer, image, perfect, 1, **kw).auc
    true_ins = insertion(explainer, image, perfect, 1, **kw).auc
    rand_del = np.mean([deletion(explainer, image, r, 1, **kw).auc for r in randoms])
    rand_ins = np.mean([insertion(explainer, image, r, 1, **kw).auc for r in randoms])
    assert true_del < rand_del - 0.2
    assert true_ins > rand_ins + 0.2


def test_black_deletion_draws_edges_the_model_reacts_to(edge_case):
    """Why blur is the default: black patches add edges, so the deleted evidence seems to linger."""
    model, image, perfect = edge_case
    black = deletion(model, image, perfect, 1, baseline=0, progress=False).auc
    blur = deletion(model, image, perfect, 1, baseline="blur", progress=False).auc
    assert blur < black - 0.05


# ---- Average Drop / Increase in Confidence --------------------------------------------------------


def test_average_drop_and_increase_match_the_hand_computation():
    model = linear_model([2, 1, 1, -1], -1)  # white image: logit 2 ln3, p = 0.9
    maps = [
        np.array([[2.0, 0], [0, 0]]),  # only pixel 0 kept: logit 1 -> 0.75, drop 1/6
        np.array([[1.0, 1], [1, 0]]),  # pixel 3 (negative weight) hidden: logit 3 -> 27/28
        np.zeros((2, 2)),  # no evidence: black image, logit -1 -> 0.25, drop 13/18
        np.array([[1.0, 0.5], [0, 0]]),
    ]  # pixel 1 at half: logit 1.5 -> 1 / (1 + 3**-1.5)
    result = average_drop_increase(model, [WHITE] * 4, maps, 1, progress=False)
    half = 1 / (1 + 3**-1.5)
    np.testing.assert_allclose(result.original, [0.9] * 4, atol=1e-6)
    np.testing.assert_allclose(result.explained, [0.75, 27 / 28, 0.25, half], atol=1e-6)
    np.testing.assert_allclose(result.drops, [1 / 6, 0, 13 / 18, (0.9 - half) / 0.9], atol=1e-6)
    np.testing.assert_array_equal(result.increased, [False, True, False, False])
    assert result.average_drop == pytest.approx(100 * (1 / 6 + 13 / 18 + (0.9 - half) / 0.9) / 4, abs=1e-4)
    assert result.increase_in_confidence == pytest.approx(25.0)


def test_average_drop_takes_each_images_predicted_class_by_default():
    model = linear_model([2, 1, 1, -1], -1)
    black = np.zeros((2, 2, 3), np.uint8)  # logit -1: class 0 predicted (p = 0.75)
    result = average_drop_increase(model, np.stack([WHITE, black]), np.ones((2, 2, 2)), progress=False)
    np.testing.assert_array_equal(result.class_indices, [1, 0])
    with pytest.raises(ValueError, match="one map per image"):
        average_drop_increase(model, [WHITE, black], [np.ones((2, 2))], progress=False)


# ---- pointing game and energy -------------------------------------------------------------------


def test_pointing_game_on_hand_made_maps():
    saliency = np.zeros((10, 10))
    saliency[2, 7] = 1.0
    mask = np.zeros((10, 10), bool)
    mask[1:4, 6:9] = True
    assert pointing_game(saliency, mask).hit
    assert pointing_game(saliency, mask).point == (7, 2)
    assert pointing_game(saliency, (6, 1, 9, 4), image_size=(10, 10)).hit
    assert not pointing_game(saliency, (0, 5, 5, 10), image_size=(10, 10)).hit
    miss = pointing_game(saliency, (7, 5, 8, 10), image_size=(10, 10))  # 3 px below the peak
    assert (miss.hit, miss.distance) == (False, 3.0)
    assert pointing_game(saliency, (7, 5, 8, 10), image_size=(10, 10), tolerance=3).hit


def test_pointing_game_upsamples_and_handles_flat_maps():
    coarse = np.array([[0.0, 0.0], [0.0, 1.0]])  # bottom-right cell, a 20x20 plateau at 40x40
    result = pointing_game(coarse, (20, 20, 40, 40), image_size=(40, 40))
    assert result.hit and 30 <= result.point[0] <= 39 and 30 <= result.point[1] <= 39
    assert not pointing_game(coarse, (0, 0, 20, 20), image_size=(40, 40)).hit
    flat = pointing_game(np.zeros((4, 4)), np.ones((8, 8), bool))
    assert (flat.hit, flat.point) == (False, None)  # a blank map points nowhere
    with pytest.raises(ValueError, match="image_size"):
        pointing_game(coarse, (0, 0, 5, 5))
    with pytest.raises(ValueError, match="no pixel"):
        pointing_game(coarse, (5, 5, 5, 9), image_size=(40, 40))


def test_energy_in_region_on_hand_made_maps():
    saliency = np.array([[3.0, 1.0], [0.0, -2.0]])  # negative part ignored
    assert energy_in_region(saliency, np.array([[True, False], [False, False]])) == pytest.approx(0.75)
    assert energy_in_region(saliency, (1, 0, 2, 2), image_size=(2, 2)) == pytest.approx(0.25)
    assert energy_in_region(np.ones((1, 1)), (0, 0, 5, 10), image_size=(10, 10)) == pytest.approx(0.5)
    assert energy_in_region(np.zeros((3, 3)), np.ones((3, 3), bool)) == 0.0


# ---- randomisation sanity check -------------------------------------------------------------------


def test_spearman_matches_scipy_with_ties():
    from scipy import stats  # installed with scikit-learn (test extra)

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 4, 50).astype(float), rng.random(50)
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic)
    assert spearman(a, a**3) == pytest.approx(1.0)
    assert spearman(np.zeros(5), b[:5]) == 0.0


def colour_model():
    """A 'trained' colour classifier: class 0 = red, class 1 = blue; Grad-CAM finds the coloured area."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(2, 1, activation="relu", name="colour")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(2, activation="softmax", name="out")(x)
    model = keras.Model(inputs, x)
    kernel = np.zeros((1, 1, 3, 2), np.float32)
    kernel[0, 0, :, 0], kernel[0, 0, :, 1] = [1, 0, -1], [-1, 0, 1]
    model.get_layer("colour").set_weights([kernel / 255, np.zeros(2, np.float32)])
    model.get_layer("out").set_weights([4 * np.eye(2, dtype=np.float32), np.zeros(2, np.float32)])
    return model


def colour_image():
    image = np.random.default_rng(0).integers(100, 156, (16, 16, 3)).astype(np.uint8)
    image[2:7, 2:7] = [220, 60, 40]
    image[9:14, 9:14] = [40, 60, 220]
    return image


def test_randomization_leaves_the_model_untouched_and_changes_the_map():
    model = colour_model()
    before = model_fingerprint(model)
    explainer = Explainer(model)
    first_map = explainer.cam(colour_image(), 0).raw
    result = randomization_check(explainer, colour_image(), 0, seed=1, progress=False)
    assert_unchanged(before, model_fingerprint(model))  # weights bit-identical, no new nodes
    np.testing.assert_array_equal(explainer.cam(colour_image(), 0).raw, first_map)
    assert result.layers == [["out"], ["out", "colour"]]
    assert result.correlations.shape == (2,)
    assert result.final_correlation <= 0.3 and result.passed
    assert "Passed" in result.verdict and "random weights" in result.verdict
    assert not np.allclose(result.maps[-1].raw, result.original_map.raw)


def test_randomization_reaches_into_a_nested_backbone_without_touching_it():
    model, backbone = nested_backbone()
    before, before_backbone = model_fingerprint(model), model_fingerprint(backbone)
    result = randomization_check(model, random_image(48), progress=False)
    assert result.layers[-1] == ["head", "backbone/bb_conv2", "backbone/bb_conv1"]
    assert_unchanged(before, model_fingerprint(model))
    assert_unchanged(before_backbone, model_fingerprint(backbone))


def test_randomization_layer_choices():
    model = colour_model()
    assert randomization_check(model, colour_image(), 0, layers="all", progress=False).layers == [["out", "colour"]]
    assert randomization_check(model, colour_image(), 0, layers=1, progress=False).layers == [["out"]]
    assert randomization_check(model, colour_image(), 0, layers=["colour"], progress=False).layers == [["colour"]]
    with pytest.raises(ValueError, match="no learned layer named 'nope'.*'out', 'colour'"):
        randomization_check(model, colour_image(), 0, layers=["nope"], progress=False)


def test_randomization_needs_a_map_with_evidence():
    gray = np.full((16, 16, 3), 128, np.uint8)  # no colour: neither detector fires
    with pytest.raises(ValueError, match="no positive evidence"):
        randomization_check(colour_model(), gray, 0, progress=False)


def test_verdicts_in_plain_words():
    steps = [["out"], ["out", "conv"]]
    passed, text = _verdict(np.array([0.9, 0.1]), steps, 2, "out")
    assert passed and text.startswith("Passed") and "whichever class" in text
    passed, text = _verdict(np.array([0.2, 0.45]), steps, 2, "out")
    assert not passed and text.startswith("Unclear") and "whichever class" not in text
    passed, text = _verdict(np.array([0.95]), [["out"]], 2, "out")
    assert not passed and text.startswith("Failed") and "'out'" in text
