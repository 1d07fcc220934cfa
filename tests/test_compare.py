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


def selected_entry(p, k):
    return next(m for m in [*p["maps"], p["extra_map"]] if m and m["class_index"] == k)


def test_scale_mode_reaches_every_panel_and_shared_spans_the_models(pair):
    w = compare_gradcam(pair, random_image(40, seed=7), top_k=2, scale_mode="signed")
    assert [v.scale_mode for v in w.widgets.values()] == ["signed", "signed"] and w.scale["mode"] == "signed"
    k = w.selected_class
    for p, inner in zip(w.panels, w.widgets.values()):  # signed mode: every panel has its values before ReLU
        expected = inner.explainer.cam(inner._input, k).signed
        assert (
            np.frombuffer(selected_entry(p, k)["signed"], "<f4").reshape(expected.shape).tolist() == expected.tolist()
        )

    # Shared: every panel's map of the selected class over the largest of their maxima (the models'),
    # computed independently here from each model's own explainer.
    for k in (k, (k + 1) % 4):  # a top class, then (likely) one outside the top 2: a map on demand
        w.set_state({"scale_mode": "shared", "selected_class": k})
        assert [v.scale_mode for v in w.widgets.values()] == ["shared", "shared"]
        maxima = [float(v.explainer.cam(v._input, k).maximum) for v in w.widgets.values()]
        assert (w.scale["class_index"], w.scale["method"], w.scale["complete"]) == (k, "gradcam", True)
        assert w.scale["maxima"] == pytest.approx(maxima, rel=1e-6)
        assert w.scale["maximum"] == pytest.approx(max(maxima), rel=1e-6) and max(maxima) > 0
        assert [selected_entry(p, k)["maximum"] for p in w.panels] == pytest.approx(maxima, rel=1e-6)
    assert dict(w.scale["modes"])["shared"] == "Shared across models"

    # Back to per map: the values before ReLU stop travelling.
    w.set_state({"scale_mode": "per_map"})
    assert all("signed" not in m for p in w.panels for m in p["maps"])

    # Bad values are refused with a notice; nothing changes in any panel.
    for bad in ("bogus", 3, None):
        w.set_state({"scale_mode": bad})
        assert "scale mode" in w.notice and w.scale_mode == "per_map"
        assert [v.scale_mode for v in w.widgets.values()] == ["per_map", "per_map"]
    w.set_state({"scale": {"maximum": 1.0, "complete": True}})
    assert "computed by the kernel" in w.notice and w.scale["maximum"] == pytest.approx(max(maxima), rel=1e-6)
    with pytest.raises(ValueError, match="unknown scale mode"):
        w.scale_mode = "log"
    assert "scale_mode" in SHARED_TRAITS
    w.close()
    with pytest.raises(ValueError, match="unknown scale mode"):
        compare_gradcam(pair, random_image(32), scale_mode="linear")
