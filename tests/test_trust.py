"""The trust panel's kernel half: the report's numbers and sentences, and the widget's ``trust`` trait."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from gradcam_widget import Explainer, show_gradcam, trust
from gradcam_widget.demo import SHORTCUT_CLASSES, load_model, make_shortcut_dataset
from gradcam_widget.metrics import deletion, insertion
from gradcam_widget.widget import GradCAMWidget
from engine_models import assert_unchanged, model_fingerprint
from test_engine_fast_paths import flatten_dense_classifier
from engine_models import random_image

NAMES = list(SHORTCUT_CLASSES)


@pytest.fixture(scope="module")
def scene():
    return make_shortcut_dataset(3, seed=10000).images[0]  # an elephant on grass


@pytest.fixture(scope="module")
def debiased():
    return load_model("shortcut-debiased")


# ----------------------------------------------------------------------------- sentences
@pytest.mark.parametrize(
    "d, rd, i, ri, start",
    [
        (0.1, 0.5, 0.9, 0.5, "Faithful"),
        (0.1, 0.5, 0.5, 0.5, "Partly faithful: for penguin, only removing"),
        (0.5, 0.5, 0.9, 0.5, "Partly faithful: for penguin, only restoring"),
        (0.5, 0.5, 0.5, 0.5, "Not better than random"),
        (0.52, 0.5, 0.48, 0.5, "Not better than random"),  # within the margin is not better
    ],
)
def test_faithfulness_verdict_compares_with_random_maps(d, rd, i, ri, start):
    text = trust.faithfulness_verdict("penguin", d, rd, i, ri, flat=False, has_evidence=True)
    assert text.startswith(start)
    assert f"deletion area {d:.2f} vs {rd:.2f}" in text and f"insertion {i:.2f} vs {ri:.2f}" in text
    assert "penguin" in text


def test_flat_curves_are_inconclusive_and_no_evidence_is_said():
    assert trust.faithfulness_verdict("x", 1, 1, 1, 1, flat=True, has_evidence=True).startswith("Inconclusive")
    assert "no positive evidence" in trust.faithfulness_verdict("x", 0.5, 0.5, 0.5, 0.5, flat=False, has_evidence=False)


def test_difference_is_gradcam_minus_hirescam_each_normalised():
    model = flatten_dense_classifier()  # a Flatten -> Dense head: the two methods differ
    ex = Explainer(model)
    image = random_image(seed=21)
    g, h = ex.cam(image, 1, "gradcam"), ex.cam(image, 1, "hirescam")
    diff = trust.difference(g, h)
    np.testing.assert_allclose(diff.values, g.normalized - h.normalized, atol=1e-7)
    assert diff.max_abs == pytest.approx(float(np.abs(g.normalized - h.normalized).max()))
    assert diff.max_abs > trust.SAME_MAP and "differ by up to" in diff.text


def test_difference_on_a_pooling_head_says_they_agree(debiased, scene):
    ex = Explainer(debiased)
    diff = trust.difference(ex.cam(scene, 0, "gradcam"), ex.cam(scene, 0, "hirescam"))
    assert diff.max_abs <= trust.SAME_MAP and diff.text.startswith("Grad-CAM and HiResCAM agree")


# ----------------------------------------------------------------------------- the report
def test_report_sections_on_the_debiased_model(debiased, scene):
    before = model_fingerprint(debiased)
    ex = Explainer(debiased)
    k = int(np.argmax(ex.scores(scene).logits))
    sections = list(trust.trust_sections(ex, scene, k, "gradcam", ex.layer_name, class_name=NAMES[k]))
    names = [name for name, _ in sections]
    assert names == ["strip"] * 4 + ["difference", "randomization", "faithfulness"]
    assert [value[0] for name, value in sections if name == "strip"] == list(trust.STRIP_METHODS)
    f = dict(sections)["faithfulness"]
    # the panel's curves are the metrics' curves (same class, baseline, steps)
    cam = ex.cam(scene, k)
    np.testing.assert_allclose(
        f.deletion, deletion(ex, scene, cam, k, steps=trust.PANEL_STEPS, progress=False).probabilities, atol=1e-6
    )
    np.testing.assert_allclose(
        f.insertion, insertion(ex, scene, cam, k, steps=trust.PANEL_STEPS, progress=False).probabilities, atol=1e-6
    )
    assert len(f.fractions) == trust.PANEL_STEPS + 1 and f.baseline == "blur"
    assert f.deletion_auc < f.random_deletion_auc - trust.AUC_MARGIN
    assert f.insertion_auc > f.random_insertion_auc + trust.AUC_MARGIN
    assert f.verdict.startswith("Faithful")
    r = dict(sections)["randomization"]
    assert r.passed and r.final <= 0.3 and r.verdict.startswith("Passed")
    assert r.steps[0].startswith("the output layer") and r.steps[-1].startswith("all ")
    assert_unchanged(before, model_fingerprint(debiased))


def test_biased_model_falls_back_to_black_and_says_why(scene):
    ex = Explainer(load_model("shortcut-biased"))
    k = int(np.argmax(ex.scores(scene).logits))
    f = trust.faithfulness(ex, scene, ex.cam(scene, k), class_name=NAMES[k])
    blurred = deletion(ex, scene, ex.cam(scene, k), k, steps=trust.PANEL_STEPS, progress=False)
    assert np.ptp(blurred.probabilities) < trust.FLAT_RANGE  # the reason for the fallback
    assert f.baseline == "black" and "With blurred pixels every curve stayed flat" in f.verdict


def test_report_can_be_cancelled_between_batches(debiased, scene):
    from gradcam_widget.explain import Cancelled

    ex = Explainer(debiased)
    seen = []
    stop = threading.Event()

    def progress(section, done, total):
        seen.append(section)
        stop.set()

    with pytest.raises(Cancelled):
        for _ in trust.trust_sections(
            ex, scene, 0, "gradcam", ex.layer_name, class_name="e", progress=progress, cancel=stop.is_set
        ):
            pass
    assert seen == ["randomization"]  # stopped at the first step after the cancel


# ----------------------------------------------------------------------------- widget
def _ready(w: GradCAMWidget, timeout=180):
    assert w.wait(timeout), "the trust report did not finish"
    return w.trust


def test_widget_report_follows_the_selection(debiased, scene):
    w = show_gradcam(debiased, scene, class_names=NAMES)
    assert w.trust == {} and w.diverging_table and len(w.diverging_table) == 768
    w.open_trust_panel()
    t = _ready(w)
    assert (t["state"], t["class_index"], t["method"], t["layer"]) == ("ready", w.selected_class, "gradcam", w.layer)
    assert [s["label"] for s in t["strip"]] == ["Grad-CAM", "Grad-CAM++", "HiResCAM", "Layer-CAM"]
    assert t["strip_pending"] == []
    for s in t["strip"]:
        assert len(s["raw"]) == 4 * s["height"] * s["width"] and s["class_index"] == w.selected_class
    d = t["difference"]
    assert len(d["raw"]) == 4 * d["height"] * d["width"]
    f = t["faithfulness"]
    assert len(f["deletion"]) == len(f["fractions"]) == f["steps"] + 1
    assert f["deletion_auc"] < f["random_deletion_auc"] and f["insertion_auc"] > f["random_insertion_auc"]
    assert t["randomization"]["passed"]
    # another class: a new report for it; the last request wins
    other = next(c for c in range(len(NAMES)) if c != w.selected_class)
    w.selected_class = other
    assert w.trust["class_index"] == other and w.trust["state"] == "computing"
    t = _ready(w)
    assert t["class_index"] == other and t["state"] == "ready"
    # back to the first class: its report comes from the cache, at once
    w.selected_class = 1 - other if other in (0, 1) else 0
    w.method = "hirescam"
    t = _ready(w)
    assert t["method"] == "hirescam" and t["state"] == "ready"


def test_superseded_report_is_never_published(debiased, scene):
    w = show_gradcam(debiased, scene, class_names=NAMES)
    published = []
    w.observe(lambda change: published.append(change["new"]), "trust")
    w.open_trust_panel()
    for k in (0, 1, 2, 0, 1):  # clicks while the report runs
        w.selected_class = k
    _ready(w)
    assert w.trust["class_index"] == 1 and w.trust["state"] == "ready"
    # once the last click was made, only reports for it were published
    last_click = max(i for i, t in enumerate(published) if t.get("class_index") != 1)
    assert all(t["class_index"] == 1 for t in published[last_click + 1 :])


def test_closing_the_panel_stops_its_work(debiased, scene):
    w = show_gradcam(debiased, scene, class_names=NAMES)
    w.open_trust_panel()
    after_close = []
    w.trust_open = False
    w.observe(lambda change: after_close.append(change["new"]), "trust")
    assert w.wait(60) and not w.busy
    assert after_close == []  # the worker stopped without publishing anything more
    assert w.trust["state"] == "computing" and w.trust["faithfulness"] == {}


def test_scorecam_joins_the_strip_on_request(debiased, scene):
    w = show_gradcam(debiased, scene, class_names=NAMES)
    w.open_trust_panel()
    _ready(w)
    w.trust_scorecam = True
    t = _ready(w)
    assert [s["method"] for s in t["strip"]][-1] == "scorecam" and t["strip_pending"] == []
    expected = Explainer(debiased).cam(scene, w.selected_class, "scorecam")
    got = np.frombuffer(t["strip"][-1]["raw"], "<f4").reshape(expected.raw.shape)
    np.testing.assert_allclose(got, expected.raw, rtol=1e-4, atol=1e-6)


def test_a_failing_section_shows_an_error_and_the_panel_recovers(debiased, scene, monkeypatch):
    w = show_gradcam(debiased, scene, class_names=NAMES)
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise ValueError("the randomised copy could not be built: a test says so")

    monkeypatch.setattr(trust, "randomization", broken)
    w.open_trust_panel()
    t = _ready(w)
    assert t["state"] == "error" and "a test says so" in t["message"]
    assert t["difference"] != {} and len(t["strip"]) == 4  # what was computed before the failure stays
    monkeypatch.undo()
    w.selected_class = next(c for c in range(len(NAMES)) if c != w.selected_class)
    assert _ready(w)["state"] == "ready"
