"""Misclassification explorer, kernel side: numbers against numpy, the detail path against the CAM
oracle, filters driven as the browser drives them, bad input. No browser (see tests/browser)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import traitlets
from PIL import Image

import keras  # noqa: E402

from gradcam_widget import explore_data as data  # noqa: E402
from gradcam_widget.explore import explore_misclassifications  # noqa: E402
from engine_models import colour_model, colour_patches  # noqa: E402

NAMES = ["red", "green", "blue", "grey"]
N = 150
SIZE = 16


@pytest.fixture(scope="module")
def model():
    return colour_model(SIZE)


@pytest.fixture(scope="module")
def dataset():
    return colour_patches(N, SIZE)


@pytest.fixture(scope="module")
def explorer(model, dataset):
    images, labels = dataset
    return explore_misclassifications(
        model, images, labels, class_names=NAMES, batch_size=32, page_size=20, progress=False
    )


def model_probabilities(model, images):
    return np.asarray(model.predict(images.astype(np.float32), verbose=0), np.float64)


# ------------------------------------------------------------------------------ numbers
def test_confusion_and_mistakes_equal_numpy_from_model_predictions(explorer, model, dataset):
    images, labels = dataset
    probs = model_probabilities(model, images)
    pred = probs.argmax(axis=1)
    expected = np.zeros((len(NAMES), len(NAMES)), int)
    for t, p in zip(labels, pred):
        expected[t, p] += 1
    np.testing.assert_array_equal(explorer.confusion, expected)
    assert (np.diag(expected) > 0).all() and (expected.sum() - np.trace(expected)) > 20  # a real test
    wrong = np.flatnonzero(pred != labels)
    assert sorted(explorer.mistakes.tolist()) == wrong.tolist()
    confidence = probs[explorer.mistakes, pred[explorer.mistakes]]
    assert np.all(np.diff(confidence) <= 1e-6), "mistakes must run from the most confident down"
    explorer.confusion[0, 0] = -1  # a copy: the explorer's own matrix is not writable from outside
    assert explorer.confusion[0, 0] == expected[0, 0]


def test_gallery_order_and_filters_follow_the_browser_traits(explorer, dataset):
    _, labels = dataset
    p = explorer.predictions
    view = explorer.view
    assert view.gallery["indices"] == explorer.mistakes[:20].tolist()  # default: mistakes, page 0
    assert view.gallery["total"] == len(explorer.mistakes)
    # a confusion cell, as a click sends it (several traits in one message)
    t, q = np.unravel_index(
        np.argmax(explorer.confusion - np.diag(np.diag(explorer.confusion))), explorer.confusion.shape
    )
    with view.hold_trait_notifications():
        view.filter_status, view.filter_true, view.filter_pred, view.page = "all", int(t), int(q), 0
    cell = np.flatnonzero((labels == t) & (p.predicted == q))
    g = view.gallery
    assert (g["status"], g["true"], g["pred"], g["page"]) == ("all", t, q, 0)
    assert sorted(view.gallery_indices.tolist()) == cell.tolist()
    assert g["total"] == explorer.confusion[t, q] == len(cell)
    # the diagonal: correct images, least confident first
    explorer.set_filter("all", 2, 2)
    diag = view.gallery_indices
    assert sorted(diag.tolist()) == np.flatnonzero((labels == 2) & (p.predicted == 2)).tolist()
    assert np.all(np.diff(p.confidence[diag]) >= 0)
    # correct only, any class; then a page past the end is clamped
    explorer.set_filter("correct", -1, -1)
    assert view.gallery["total"] == int(np.trace(explorer.confusion))
    view.page = 999
    last = (view.gallery["total"] - 1) // 20
    assert view.page == last and view.gallery["page"] == last
    assert view.gallery["indices"] == view.gallery_indices[last * 20 :].tolist()
    with pytest.raises(traitlets.TraitError, match="class index"):
        view.filter_true = len(NAMES)
    with pytest.raises(traitlets.TraitError, match="filter_status"):
        view.filter_status = "maybe"
    explorer.set_filter("wrong", -1, -1)


def test_page_sprite_holds_the_page_thumbnails_in_order(explorer, dataset):
    images, _ = dataset
    g = explorer.view.gallery
    sheet = np.asarray(Image.open(io.BytesIO(g["sprite"])))
    size, columns = g["thumb"], g["columns"]
    assert sheet.shape == (2 * size, columns * size, 4)  # 20 thumbnails, 10 per row
    for position, index in enumerate(g["indices"]):
        r, c = divmod(position, columns)
        np.testing.assert_array_equal(
            sheet[r * size : (r + 1) * size, c * size : (c + 1) * size], data.thumbnail(images[index], size)
        )
    tall = data.thumbnail(np.full((30, 10, 3), 200, np.uint8), 48)
    assert tall[:, 16:32, 3].min() == 255 and tall[:, :15, 3].max() == 0  # aspect kept, letterboxed


# ------------------------------------------------------------------------------ detail
def test_detail_contrastive_map_equals_difference_of_class_weights(explorer, model, dataset):
    """Through the explorer's click path: ReLU(sum_k (w_k,pred - w_k,true) A_k), normalised."""
    images, labels = dataset
    features = keras.Model(model.inputs, model.get_layer("conv_last").output)
    w = np.asarray(model.get_layer("logits").kernel)
    checked = 0
    for i in explorer.mistakes[:3]:
        explorer.selected = int(i)
        assert explorer.view.selected == i  # synced to the browser's trait
        pred_panel, true_panel, contrast_panel = explorer.detail_widgets
        t, p = int(labels[i]), int(explorer.predictions.predicted[i])
        assert (pred_panel.selected_class, true_panel.selected_class, contrast_panel.selected_class) == (p, t, p)
        a = np.asarray(features.predict_on_batch(images[i][None].astype(np.float32)))[0]
        expected = np.maximum(a @ (w[:, p] - w[:, t]), 0)
        if expected.max() == 0:
            assert contrast_panel.heatmap.max() == 0
            continue
        np.testing.assert_allclose(contrast_panel.heatmap, expected / expected.max(), atol=1e-5)
        np.testing.assert_allclose(pred_panel.heatmap, _cam(a, w[:, p]), atol=1e-5)
        np.testing.assert_allclose(true_panel.heatmap, _cam(a, w[:, t]), atol=1e-5)
        checked += 1
    assert checked >= 2


def _cam(a, weights):
    cam = np.maximum(a @ weights, 0)
    return cam / cam.max() if cam.max() > 0 else cam


def test_detail_panels_share_display_settings_and_are_replaced_cleanly(explorer):
    first, second = (int(i) for i in explorer.mistakes[:2])
    explorer.selected = first
    old = explorer.detail_widgets
    old[1].colormap = "viridis"  # a change in any panel applies to all three
    old[0].opacity = 0.8
    assert {w.colormap for w in old} == {"viridis"} and {w.opacity for w in old} == {0.8}
    explorer.view.selected = second  # as the browser sends a thumbnail click
    assert explorer.selected == second
    new = explorer.detail_widgets
    assert all(w.comm is None for w in old), "replaced panels must be closed"
    assert [w.colormap for w in new] == ["viridis"] * 3 and new[2].opacity == 0.8
    correct = int(np.flatnonzero(~explorer.predictions.wrong)[0])
    explorer.selected = correct  # a correct image: compared with its runner-up class
    p = explorer.predictions
    assert [w.selected_class for w in explorer.detail_widgets] == [
        p.predicted[correct],
        p.runner_up[correct],
        p.predicted[correct],
    ]
    with pytest.raises(traitlets.TraitError, match="image index"):
        explorer.selected = N
    explorer.selected = None
    assert explorer.detail_widgets == () and explorer.view.selected is None


def test_slow_method_detail_runs_in_the_background_and_contrast_still_applies(model, dataset):
    images, labels = dataset
    w = explore_misclassifications(model, images[:80], labels[:80], class_names=NAMES, progress=False)
    wrong = np.flatnonzero(w.predictions.wrong)
    w.selected = int(wrong[0])
    w.detail_widgets[0].method = "scorecam"  # linked: all three panels switch
    w.selected = int(wrong[1])
    panels = w.detail_widgets
    assert [p.method for p in panels] == ["scorecam"] * 3
    for p in panels:
        assert p.wait(60)
        assert p.status["state"] == "ready", p.status
    i = int(wrong[1])
    pred, true = int(w.predictions.predicted[i]), int(labels[i])
    expected = w.explainer.cam(images[i], pred, "scorecam", contrast=true)
    np.testing.assert_allclose(panels[2].heatmap, expected.normalized, atol=1e-6)
    w.close()


def test_detail_failure_is_shown_and_the_explorer_stays_usable(model, dataset, monkeypatch):
    images, labels = dataset
    w = explore_misclassifications(model, images[:20], labels[:20], class_names=NAMES, progress=False)

    def broken(image):
        raise ValueError("cannot read this one")

    with monkeypatch.context() as patch:
        patch.setattr(w.explainer, "prepare", broken)
        w.selected = 3
    assert w.detail_widgets == () and "cannot read this one" in w._caption.value
    w.selected = 4
    assert len(w.detail_widgets) == 3 and w._caption.value.startswith("Image 4:")
    w.close()


def test_clicking_through_many_images_keeps_no_old_panels_alive(model, dataset):
    import gc
    import weakref

    images, labels = dataset
    w = explore_misclassifications(model, images[:40], labels[:40], class_names=NAMES, progress=False)
    refs = []
    for i in range(8):
        w.selected = i
        refs.extend(weakref.ref(panel) for panel in w.detail_widgets)
    current = {id(panel) for panel in w.detail_widgets}
    gc.collect()
    alive = [r for r in refs if r() is not None and id(r()) not in current]
    assert alive == [], f"{len(alive)} replaced detail panels are still alive"
    last = [weakref.ref(panel) for panel in w.detail_widgets] + [weakref.ref(w.view)]
    w.close()
    del w
    gc.collect()
    assert [r for r in last if r() is not None] == [], "a closed explorer must release its view and panels"


def test_contrast_panel_is_a_widget_of_the_same_explainer_with_a_contrast(explorer, dataset):
    """The third panel is GradCAMWidget(contrast=true class) on the explorer's own explainer: its maps
    are the explainer's ordinary contrastive maps, the contrast class against itself has no evidence,
    and its trust report completes (it used to fail: the panel held an explainer look-alike)."""
    images, labels = dataset
    i = int(explorer.mistakes[0])
    explorer.selected = i
    panel = explorer.detail_widgets[2]
    pred, true = int(explorer.predictions.predicted[i]), int(labels[i])
    assert panel.explainer is explorer.explainer and panel.contrast == true
    np.testing.assert_allclose(
        panel.heatmap, explorer.explainer.cam(images[i], pred, contrast=true).normalized, atol=1e-6
    )
    panel.selected_class = true
    assert panel.status["state"] == "ready" and panel.heatmap.max() == 0
    with pytest.raises(traitlets.TraitError, match="contrast is fixed"):
        panel.contrast = pred
    panel.selected_class = pred
    panel.open_trust_panel()
    assert panel.wait(120)
    report = panel.trust
    assert report["state"] == "ready", report["message"]
    assert report["randomization"]["verdict"] and report["faithfulness"]["verdict"]
    # the randomisation check compared contrastive maps: its first map is the panel's own
    from gradcam_widget.metrics import randomization_check

    check = randomization_check(explorer.explainer, images[i], pred, contrast=true, layers="all", progress=False)
    np.testing.assert_allclose(check.original_map.raw, panel.heatmap * check.original_map.maximum, atol=1e-5)
    np.testing.assert_allclose(report["randomization"]["correlations"][-1], check.final_correlation, atol=1e-6)


# ------------------------------------------------------------------------------ other inputs
def test_dataset_paths_and_list_inputs_give_the_same_confusion(explorer, model, dataset, tmp_path):
    import tensorflow as tf

    images, labels = dataset
    small = slice(0, 40)
    expected = data.confusion_matrix(labels[small], explorer.predictions.predicted[small], len(NAMES))
    batched = tf.data.Dataset.from_tensor_slices((images[small], labels[small])).batch(16)
    unbatched = tf.data.Dataset.from_tensor_slices((images[small], labels[small]))
    paths = []
    for i in range(40):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(images[i]).save(paths[-1])
    pairs = list(zip(paths, labels[small].tolist()))
    for imgs, labs in (
        (batched, None),
        (unbatched, None),
        (paths, labels[small].tolist()),
        (pairs, None),
        (list(images[small]), labels[small]),
    ):
        got = explore_misclassifications(model, imgs, labs, class_names=NAMES, progress=False)
        np.testing.assert_array_equal(got.confusion, expected)
        got.close()


def test_single_sigmoid_model_counts_as_two_classes():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 1, name="conv")(keras.layers.Rescaling(1 / 255.0)(inputs))
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    images = np.random.default_rng(0).integers(0, 256, (30, 8, 8, 3), dtype=np.uint8)
    labels = np.arange(30) % 2
    got = explore_misclassifications(model, images, labels, progress=False)
    positive = np.asarray(model.predict(images.astype(np.float32), verbose=0))[:, 0] > 0.5
    np.testing.assert_array_equal(got.predictions.predicted, positive.astype(int))
    assert got.confusion.sum() == 30 and got.class_names == ["class 0", "class 1"]
    got.close()


def test_interrupt_leaves_a_clear_message_and_no_widget(model, dataset):
    import ipywidgets

    images, labels = dataset
    calls = []

    def preprocess(batch):
        calls.append(len(batch))
        if len(calls) == 3:  # 1: first image (model set-up), 2: first batch, 3: second batch
            raise KeyboardInterrupt
        return batch

    before = len(ipywidgets.Widget.widgets)
    with pytest.raises(KeyboardInterrupt, match="interrupted after predicting 32 of 150 images; nothing"):
        explore_misclassifications(model, images, labels, preprocess=preprocess, batch_size=32)
    assert len(ipywidgets.Widget.widgets) == before


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "images, labels, error, match",
    [
        (np.zeros((5, SIZE, SIZE, 3), np.uint8), [0, 1, 2], ValueError, "5 images but 3 labels"),
        (np.zeros((3, SIZE, SIZE, 3), np.uint8), [0, 1, 4], ValueError, r"labels\[2\] = 4 is outside .* 0\.\.3"),
        (np.zeros((3, SIZE, SIZE, 3), np.uint8), [0, -1, 1], ValueError, r"labels\[1\] = -1"),
        (np.zeros((0, SIZE, SIZE, 3), np.uint8), [], ValueError, "no images"),
        ([], [], ValueError, "no images"),
        (np.zeros((3, SIZE, SIZE, 3), np.uint8), [0.0, 1.0, 2.0], TypeError, "astype\\(int\\)"),
        (np.zeros((3, SIZE, SIZE, 3), np.uint8), [0.5, 1, 2], TypeError, "integer class indices"),
        (np.zeros((3, SIZE, SIZE, 3), np.uint8), ["red", "blue", "red"], TypeError, "class_names.index"),
        (np.zeros((3, SIZE, SIZE, 3), np.uint8), [True, False, True], TypeError, "integer class indices"),
        (np.zeros((3, SIZE, SIZE, 3), np.uint8), np.eye(4)[[0, 1, 2]], TypeError, "one-hot"),
        (np.zeros((3, SIZE, SIZE, 3), np.uint8), None, TypeError, "labels is missing"),
        ("some/folder", [0], TypeError, "single path"),
        (np.zeros((SIZE, SIZE), np.uint8), [0], ValueError, "expected a batch"),
        ({"a": 1}, [0], TypeError, "images must be"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(model, images, labels, error, match):
    with pytest.raises(error, match=match):
        explore_misclassifications(model, images, labels, class_names=NAMES, progress=False)


def test_bad_options_are_refused(model, dataset):
    import tensorflow as tf

    images, labels = dataset
    with pytest.raises(ValueError, match="batch_size"):
        explore_misclassifications(model, images, labels, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="labels=None"):
        explore_misclassifications(model, tf.data.Dataset.from_tensor_slices((images, labels)), labels)
    with pytest.raises(ValueError, match="class_names has 2 names"):
        explore_misclassifications(model, images, labels, class_names=["a", "b"], progress=False)


def test_importing_the_explorer_does_not_import_tensorflow():
    """TensorFlow stays in explain/: the explorer reaches it only through the engine, when called."""
    import subprocess
    import sys

    code = (
        "import sys, gradcam_widget.explore, gradcam_widget.explore_data; "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_many_classes_send_the_top_confusions_instead_of_a_matrix():
    from gradcam_widget.explore import ExplorerView

    rng = np.random.default_rng(0)
    c = data.MAX_MATRIX_CLASSES + 1
    labels = rng.integers(0, c, 400)
    predicted = np.where(rng.random(400) < 0.5, labels, (labels + 1 + (labels % 3)) % c)
    pred = data.Predictions(labels, predicted, rng.random(400).astype(np.float32), predicted)
    view = ExplorerView(data.ImageSource(np.zeros((400, 4, 4, 3), np.uint8)), pred, [str(k) for k in range(c)])
    assert view.matrix == []
    counts = data.confusion_matrix(labels, predicted, c)
    expected = sorted(
        ((int(counts[t, p]), t, p) for t in range(c) for p in range(c) if t != p and counts[t, p]), key=lambda x: -x[0]
    )[:20]
    assert [(d["count"], d["true"], d["pred"]) for d in view.pairs][:5] == expected[:5]
    assert [d["count"] for d in view.pairs] == [e[0] for e in expected]
    view.close()
