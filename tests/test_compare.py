"""compare_gradcam: one selection driving every panel, each panel its own model's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from gradcam_widget import compare_gradcam, whatif
from gradcam_widget.compare import SHARED_TRAITS

from engine_models import gap_classifier, random_image


@pytest.fixture(scope="module")
def pair():
    # Different input sizes and different layers: 32 px with two convs, 24 px (its own weights).
    return {"small": gap_classifier(num_classes=4, size=24, seed=1), "large": gap_classifier(num_classes=4, size=32)}


def panel(w, name):
    return next(p for p in w.panels if p["name"] == name)


def test_each_panel_shows_its_own_models_predictions(pair):
    image = random_image(40, seed=7)  # neither model's size: each resizes as its predict would need
    w = compare_gradcam(pair, image, class_names=["a", "b", "c", "d"], top_k=3)
    assert w.names == ["small", "large"] and len(w.panels) == 2
    for name, model in pair.items():
        inner = w.widgets[name]
        x = inner.explainer.prepare(image).model_input
        predicted = model.predict(x[None], verbose=0)[0]
        for entry in panel(w, name)["top_classes"]:
            assert entry["probability"] == pytest.approx(float(predicted[entry["index"]]), abs=1e-5)
        assert [m["height"] for m in panel(w, name)["maps"]] == [inner.explainer.layer_shape()[0]] * 3
    assert panel(w, "small")["maps"][0]["height"] != panel(w, "large")["maps"][0]["height"]
    w.close()


def test_one_click_changes_every_panels_class_and_map(pair):
    w = compare_gradcam(list(pair.values()), random_image(32, seed=8), names=["one", "two"], top_k=1)
    before = {p["name"]: p["status"]["class_index"] for p in w.panels}
    assert len(set(before.values())) == 1  # one selection from the start
    k = (next(iter(before.values())) + 1) % 4  # outside both top-1 lists: a map on demand per panel
    w.set_state({"selected_class": k})
    for p, inner in zip(w.panels, w.widgets.values()):
        assert inner.selected_class == k
        assert p["status"]["class_index"] == k and p["status"]["state"] == "ready"
        assert p["extra_map"]["class_index"] == k
        expected = inner.explainer.cam(inner._input, k).raw
        assert np.frombuffer(p["extra_map"]["raw"], "<f4").reshape(expected.shape).tolist() == expected.tolist()
    w.set_state({"method": "hirescam", "colormap": "viridis", "opacity": 0.7})
    for p, inner in zip(w.panels, w.widgets.values()):
        assert (inner.method, inner.colormap, inner.opacity) == ("hirescam", "viridis", 0.7)
        assert p["status"]["method"] == "hirescam"
    w.set_state({"selected_class": 99})
    assert "out of range" in w.notice and w.selected_class == k
    assert set(SHARED_TRAITS) >= {"selected_class", "method", "colormap", "opacity"}
    w.close()


def test_every_model_sees_the_same_edit(pair):
    image = random_image(40, seed=9)
    w = compare_gradcam(pair, image)
    edit = {"strokes": [{"points": [[0.2, 0.2], [0.8, 0.7]], "radius": 0.12}], "fill": "blur", "seq": 3}
    w.set_state({"edit": edit})
    assert w.wait(60)
    expected, mask = whatif.edit_image(image.astype(np.float32), edit, limits=(0, 255), integral=True)
    assert (w.edited_image == expected).all() and (w.edit_mask == mask).all()
    for name, model in pair.items():
        inner = w.widgets[name]
        assert (inner.edited_image == expected).all()
        x = inner.explainer.prepare(expected.astype(np.uint8)).model_input
        predicted = model.predict(x[None], verbose=0)[0]
        for entry in panel(w, name)["top_classes"]:
            assert entry["probability"] == pytest.approx(float(predicted[entry["index"]]), abs=1e-5)
            assert "before" in entry
        assert panel(w, name)["edit_state"] == {**panel(w, name)["edit_state"], "seq": 3, "state": "ready"}
    w.close()


def test_bad_calls_say_what_to_do(pair):
    with pytest.raises(ValueError, match="2 to 4"):
        compare_gradcam([pair["small"]], random_image(32))
    with pytest.raises(ValueError, match="different numbers of classes"):
        compare_gradcam([pair["small"], gap_classifier(num_classes=3, size=24)], random_image(32))
    with pytest.raises(TypeError, match="list or a dict"):
        compare_gradcam(pair["small"], random_image(32))
