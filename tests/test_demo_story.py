"""The shortcut story told by the shipped demo models, and the demo model loader.

On elephants moved to snow and penguins moved to grass, the model trained where the ground gave the
class away is fooled and its Grad-CAM sits on the ground; the model trained on independent grounds
is right and its Grad-CAM sits on the animal.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcam_widget.demo import MODEL_NAMES, SHORTCUT_CLASSES, load_digits_test, load_model, make_shortcut_dataset
from gradcam_widget.demo.models import model_path
from gradcam_widget.demo.story import (
    STORY_TEST_SEED,
    bounding_box,
    box_energy,
    peak_in_box,
    story_numbers,
    swapped_animals,
    upsample,
)
from gradcam_widget.demo.train import SHIPPED_SEED

THRESHOLDS = {  # (accuracy, box energy, pointing): biased at most, debiased at least
    "shortcut-biased": (0.10, 0.25, 0.20),
    "shortcut-debiased": (0.95, 0.40, 0.90),
}


# --- the metrics themselves, on maps whose answer is known -------------------------------------


def test_bounding_box_is_half_open_and_rejects_empty_masks():
    mask = np.zeros((10, 12), bool)
    mask[2:5, 3:9] = True
    mask[4, 1] = True
    assert bounding_box(mask) == (1, 2, 9, 5)
    with pytest.raises(ValueError):
        bounding_box(np.zeros((4, 4), bool))


def test_box_energy_and_pointing_on_known_maps():
    cam = np.zeros((4, 4), np.float32)
    cam[0, 0] = 1.0  # evidence in the top-left cell only
    up = upsample(cam, (32, 32))
    assert up.shape == (32, 32) and up.max() == pytest.approx(1.0)
    inside, outside = (0, 0, 16, 16), (16, 16, 32, 32)
    assert box_energy(up, inside) > 0.95 and box_energy(up, outside) == 0.0
    assert peak_in_box(up, inside) and not peak_in_box(up, outside)
    flat = np.zeros((32, 32), np.float32)
    assert box_energy(flat, inside) == 0.0 and not peak_in_box(flat, inside)


# --- digits helpers -----------------------------------------------------------------------------


def test_digits_to_rgb_scales_ink_to_full_white():
    from gradcam_widget.demo.digits import digits_to_rgb

    pixels = np.zeros((2, 8, 8), np.uint8)
    pixels[0, :, 3:5] = 16  # a full-ink vertical bar
    rgb = digits_to_rgb(pixels, 32)
    assert rgb.shape == (2, 32, 32, 3) and rgb.dtype == np.uint8
    assert rgb[0, :, 14:18].min() == 255 and rgb[0, :, :8].max() == 0 and rgb[1].max() == 0
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])


def test_shifted_moves_content_without_wrapping():
    from gradcam_widget.demo.train import shifted

    img = np.zeros((1, 10, 10, 3), np.uint8)
    img[0, 4, 4] = 200
    outs = np.concatenate([shifted(img, np.random.default_rng(k), 2) for k in range(40)])
    ys, xs = np.nonzero(outs[..., 0])[1:]
    assert len(ys) == 40 and set(ys) <= set(range(2, 7)) and set(xs) <= set(range(2, 7))
    assert len(set(zip(ys, xs))) > 10


# --- the loader ---------------------------------------------------------------------------------


def test_unknown_model_name_lists_the_valid_ones():
    with pytest.raises(ValueError) as err:
        load_model("shortcut")
    for name in MODEL_NAMES:
        assert name in str(err.value)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_shipped_models_are_small_and_carry_no_optimizer(name):
    import io
    import json
    import zipfile

    import h5py

    path = model_path(name)
    assert path.stat().st_size < 1_000_000
    with zipfile.ZipFile(str(path)) as z:
        assert not json.loads(z.read("config.json")).get("compile_config")
        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as weights:
            assert "optimizer" not in weights


@pytest.fixture(scope="module")
def models():
    return {name: load_model(name) for name in MODEL_NAMES}


def test_models_take_raw_pixels_and_output_probabilities(models):
    data = make_shortcut_dataset(6, seed=STORY_TEST_SEED + 1)
    for name in ("shortcut-biased", "shortcut-debiased"):
        p = np.asarray(models[name].predict(data.images, verbose=0))
        assert p.shape == (6, len(SHORTCUT_CLASSES))
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
        assert any(layer.__class__.__name__ == "Rescaling" for layer in models[name].layers)


def test_both_shortcut_models_are_right_on_the_usual_grounds(models):
    data = make_shortcut_dataset(150, seed=STORY_TEST_SEED + 2, background_bias=1.0)
    for name in ("shortcut-biased", "shortcut-debiased"):
        predicted = np.argmax(models[name].predict(data.images, verbose=0), axis=1)
        assert np.mean(predicted == data.labels) >= 0.95, name


def test_digits_model_reads_the_held_out_digits(models):
    test = load_digits_test()
    assert test.images.shape[1:] == (32, 32, 3) and test.images.dtype == np.uint8
    predicted = np.argmax(models["digits"].predict(test.images, verbose=0), axis=1)
    assert np.mean(predicted == test.labels) >= 0.97


# --- the story ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def swapped():
    return swapped_animals(200)


def _check_story(numbers: dict) -> None:
    (acc_b, energy_b, point_b), (acc_d, energy_d, point_d) = THRESHOLDS.values()
    biased, debiased = numbers["shortcut-biased"], numbers["shortcut-debiased"]
    assert biased.accuracy <= acc_b and debiased.accuracy >= acc_d, numbers
    assert biased.box_energy <= energy_b and debiased.box_energy >= energy_d, numbers
    assert biased.pointing <= point_b and debiased.pointing >= point_d, numbers


def test_swapped_split_holds_only_animals_on_the_other_animals_ground(swapped):
    assert set(np.unique(swapped.labels)) == {0, 1}
    assert len(swapped) > 100
    grounds = [swapped.background_names[b] for b in swapped.backgrounds]
    assert all(g == ("snow" if c == 0 else "grass") for g, c in zip(grounds, swapped.labels))


def test_biased_model_is_fooled_and_looks_at_the_ground(models, swapped, record_property):
    numbers = {name: story_numbers(models[name], swapped) for name in THRESHOLDS}
    for name, n in numbers.items():
        record_property(name, n._asdict())
    _check_story(numbers)


@pytest.mark.slow
def test_training_recipe_retells_the_story(request, swapped):
    """Retrain both shortcut models from scratch (minutes on a laptop CPU) and check the story."""
    if not request.config.getoption("--run-slow", default=False):
        pytest.skip("retrains two models; run with --run-slow")
    from gradcam_widget.demo.train import train_shortcut

    _check_story({name: story_numbers(train_shortcut(name, SHIPPED_SEED), swapped) for name in THRESHOLDS})
