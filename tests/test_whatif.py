"""The what-if brush: strokes -> mask -> filled image (pure numpy), and the widget that rescores it."""

from __future__ import annotations

import numpy as np
import pytest

from gradcam_widget import whatif
from gradcam_widget.widget import GradCAMWidget
from gradcam_widget.explain import Explainer

from engine_models import gap_classifier, random_image


def pixel_strokes(mask):
    """One single-point stroke per masked pixel, a disc that covers only that pixel's centre."""
    height, width = mask.shape
    ys, xs = np.nonzero(mask)
    return [{"points": [[(x + 0.5) / width, (y + 0.5) / height]], "radius": 0.7 / width} for y, x in zip(ys, xs)]


# ---------------------------------------------------------------- pure functions
def test_stroke_mask_is_the_capsule_around_the_path():
    mask = whatif.strokes_mask([{"points": [[0.25, 0.5], [0.75, 0.5]], "radius": 0.1}], 20, 40)
    ys, xs = np.mgrid[0:20, 0:40]
    px, py = xs + 0.5, ys + 0.5
    t = np.clip((px - 10) / 20, 0, 1)
    expected = (px - (10 + 20 * t)) ** 2 + (py - 10) ** 2 <= 4.0**2
    assert (mask == expected).all() and mask.sum() > 0


@pytest.mark.parametrize("fill", whatif.FILLS)
def test_edited_image_is_the_image_with_the_mask_filled(fill):
    image = random_image(24, seed=3)
    mask = np.zeros((24, 24), bool)
    mask[5:15, 8:20] = True
    edited = whatif.apply_fill(image, mask, fill)
    assert edited.dtype == image.dtype and edited.shape == image.shape
    assert (edited[~mask] == image[~mask]).all()
    expected = {
        "grey": np.full(image.shape, 128.0),  # rint(127.5) = 128
        "mean": np.broadcast_to(image.reshape(-1, 3).mean(0), image.shape),
        "noise": np.random.default_rng(whatif.NOISE_SEED).uniform(0, 255, image.shape),
        "blur": whatif.blur(image.astype(np.float64)),
    }[fill]
    assert (edited[mask] == np.clip(np.rint(expected), 0, 255).astype(np.uint8)[mask]).all()
    assert (whatif.apply_fill(image, mask, fill) == edited).all()  # noise is seeded: reproducible


def test_blur_is_a_repeated_box_mean():
    values = np.random.default_rng(0).random((9, 7))
    once = whatif._box(values, 2, 0)
    padded = np.pad(values, ((2, 2), (0, 0)), mode="edge")
    assert np.allclose(once, [[padded[i : i + 5, j].mean() for j in range(7)] for i in range(9)])


def test_bad_edits_are_refused_in_words():
    with pytest.raises(ValueError, match="unknown fill"):
        whatif.check_edit({"strokes": [], "fill": "paint"})
    with pytest.raises(ValueError, match="finite"):
        whatif.check_edit({"strokes": [{"points": [[float("nan"), 0]], "radius": 0.1}]})
    with pytest.raises(TypeError, match="points"):
        whatif.check_edit({"strokes": [{"points": "here", "radius": 0.1}]})
    with pytest.raises(TypeError):
        whatif.check_edit(["not", "a", "dict"])


def test_far_outside_empty_and_everything():
    far = whatif.strokes_mask([{"points": [[1e6, -1e6], [2e6, 3e6]], "radius": 0.2}], 16, 16)
    assert not far.any()
    image = random_image(16)
    assert (whatif.apply_fill(image, far, "noise") == image).all()
    everything = whatif.strokes_mask([{"points": [[0.5, 0.5]], "radius": 5.0}], 16, 16)
    assert everything.all()
    assert (whatif.apply_fill(image, everything, "grey") == 128).all()


# ---------------------------------------------------------------- the widget
@pytest.fixture(scope="module")
def tiny():
    model = gap_classifier(num_classes=4, size=32)
    return model, Explainer(model)


def test_widget_edit_rescores_exactly_what_predict_says(tiny):
    model, explainer = tiny
    image = random_image(32, seed=5)
    w = GradCAMWidget(explainer, image)
    before = {t["index"]: t["probability"] for t in w.top_classes}
    first_map = w.maps[0]["raw"]
    mask = np.zeros((32, 32), bool)
    mask[4:20, 6:26] = True
    w.set_state({"edit": {"strokes": pixel_strokes(mask), "fill": "noise", "seq": 1}})
    assert w.wait(60)
    assert (w.edit_mask == mask).all()
    expected = whatif.apply_fill(image, mask, "noise")
    assert (w.edited_image == expected).all()  # pixel exact
    predicted = model.predict(expected[None], verbose=0)[0]
    for entry in w.top_classes:
        assert entry["before"] == pytest.approx(before[entry["index"]], abs=1e-7)
        assert entry["probability"] == pytest.approx(float(predicted[entry["index"]]), abs=1e-5)
    assert w.maps[0]["raw"] != first_map  # the maps were recomputed for the edited image
    assert w.edit_state["state"] == "ready" and w.edit_state["seq"] == 1
    # Clear: the original image, maps and probabilities are back, without "before".
    w.set_state({"edit": {"strokes": [], "fill": "noise", "seq": 2}})
    assert w.wait(60)
    assert not w.edit_mask.any() and (w.edited_image == image).all()
    assert "before" not in w.top_classes[0] and w.maps[0]["raw"] == first_map
    w.close()


def test_widget_survives_bad_and_rapid_edits(tiny):
    _, explainer = tiny
    image = random_image(32, seed=6)
    w = GradCAMWidget(explainer, image)
    w.set_state({"edit": {"strokes": [{"points": [[0, 0]], "radius": -1}], "fill": "grey"}})
    assert "radius" in w.notice and w.edit == {}  # refused whole, in words
    for i in range(1000):  # a thousand edits at once: the last one wins
        w.set_state({"edit": {"strokes": [{"points": [[i / 1000, 0.5]], "radius": 0.05}], "fill": "grey", "seq": i}})
    assert w.wait(120)
    assert w.edit_state["seq"] == 999 and w.edit_state["state"] == "ready"
    last = whatif.strokes_mask([{"points": [[0.999, 0.5]], "radius": 0.05}], 32, 32)
    assert (w.edit_mask == last).all()
    w.set_state({"edit": {"strokes": [{"points": [[0.5, 0.5]], "radius": 3.0}], "fill": "mean", "seq": 1000}})
    assert w.wait(60) and w.edit_mask.all() and w.edit_state["state"] == "ready"
    w.close()


def test_debiased_shortcut_model_needs_the_animal_not_the_ground():
    from gradcam_widget.demo import load_model
    from gradcam_widget.demo.shortcut import make_shortcut_dataset
    from gradcam_widget.demo.story import STORY_TEST_SEED, animals_only

    model = load_model("shortcut-debiased")
    data = animals_only(make_shortcut_dataset(8, seed=STORY_TEST_SEED, background_bias=1 / 3))
    image, label, animal = data.images[0], int(data.labels[0]), data.masks[0]
    w = GradCAMWidget(Explainer(model), image, class_names=list(data.class_names))
    before = next(t["probability"] for t in w.top_classes if t["index"] == label)
    # The same number of ground pixels, away from the animal, painted the same way.
    rows, cols = np.nonzero(~animal)
    far = np.hypot(*(np.array([rows, cols]) - np.argwhere(animal).mean(0)[:, None])).argsort()[::-1]
    ground = np.zeros_like(animal)
    ground[rows[far[: animal.sum()]], cols[far[: animal.sum()]]] = True
    after = {}
    for name, region in (("animal", animal), ("ground", ground)):
        w.edit = {"strokes": pixel_strokes(region), "fill": "grey", "seq": name}
        assert w.wait(60) and (w.edit_mask == region).all()
        after[name] = next(t["probability"] for t in w.top_classes if t["index"] == label)
        assert after[name] == pytest.approx(float(model.predict(w.edited_image[None], verbose=0)[0, label]), abs=1e-5)
    assert before > 0.9
    assert after["animal"] < before - 0.5, after
    assert abs(after["ground"] - before) < 0.1, after
    w.close()
