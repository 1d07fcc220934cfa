"""Results follow the weights (issue 14): after model.fit / set_weights / assign the explainer
recomputes, and Score-CAM runs its masked passes once per (image, layer) for every class."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from engine_models import gap_classifier, random_image

from gradcam_widget import Explainer


def _flatten_dense(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(8, activation="relu", name="fc1")(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(x))


def _train_one_epoch(model, seed=0):
    rng = np.random.default_rng(seed)
    shape = (16,) + tuple(model.input_shape[1:])
    x = rng.uniform(0, 255, shape).astype("float32")
    y = rng.integers(0, model.output_shape[-1], 16)
    if getattr(model, "optimizer", None) is None:
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)


def _fresh(model, image, classes, method="gradcam"):
    return [m.raw for m in Explainer(model, compiled=False).cams(image, classes, method)]


@pytest.mark.parametrize("change", ["fit", "set_weights", "assign"])
@pytest.mark.parametrize("build", [_flatten_dense, gap_classifier], ids=["flatten-dense", "gap"])
def test_cached_results_follow_the_weights(change, build):
    model = build()
    image = random_image(size=int(model.input_shape[1]), seed=2)
    ex = Explainer(model, compiled=False)
    classes = [0, 1, 2]
    before = [m.raw for m in ex.cams(image, classes)]
    ex.scores(image)
    version = ex.weights_version
    if change == "fit":
        _train_one_epoch(model)
    elif change == "set_weights":
        other = build(seed=7)
        model.set_weights(other.get_weights())
    else:
        kernel = model.layers[-1].kernel
        kernel.assign(np.asarray(kernel) * -1.5)
    after = [m.raw for m in ex.cams(image, classes)]
    expected = _fresh(model, image, classes)
    for got, want, old in zip(after, expected, before):
        np.testing.assert_array_equal(got, want)
    assert any(not np.array_equal(a, b) for a, b in zip(after, before))
    np.testing.assert_array_equal(ex.scores(image).logits, Explainer(model, compiled=False).scores(image).logits)
    assert ex.weights_version == version + 1
    assert ex.weights_version == version + 1  # unchanged weights: same version


def test_clear_cache_counts_as_a_new_version():
    model = gap_classifier()
    ex = Explainer(model, compiled=False)
    version = ex.weights_version
    ex.clear_cache()
    assert ex.weights_version == version + 1


def test_scorecam_for_k_classes_runs_one_set_of_masked_passes():
    model = gap_classifier(num_classes=6)
    image = random_image(seed=4)
    ex = Explainer(model, scorecam_channels=5, batch_size=2, compiled=False)
    totals = []
    maps = ex.cams(image, [0, 3, 5, 1, 2], "scorecam", progress=lambda done, total: totals.append(total))
    assert ex.masked_pass_count == 5  # one pass per chosen channel, not per class
    assert set(totals) == {5}
    for c, cam in zip([0, 3, 5, 1, 2], maps):
        single = Explainer(model, scorecam_channels=5, batch_size=2, compiled=False).cam(image, c, "scorecam")
        np.testing.assert_array_equal(cam.raw, single.raw)
    ex.cam(image, 4, "scorecam")  # another class later: the same passes
    ex.cam(image, 2, "scorecam", contrast=4)
    assert ex.masked_pass_count == 5
    ex.cam(image, 4, "scorecam", layer=ex.layer_name)
    assert ex.masked_pass_count == 5
    _train_one_epoch(model)  # new weights: the passes are run again
    after = ex.cam(image, 4, "scorecam")
    assert ex.masked_pass_count == 10
    np.testing.assert_array_equal(
        after.raw, Explainer(model, scorecam_channels=5, batch_size=2, compiled=False).cam(image, 4, "scorecam").raw
    )


def test_one_weights_check_reads_the_fingerprint_once_for_work_that_belongs_together():
    model = _flatten_dense(seed=2)
    ex = Explainer(model, compiled=False)
    image = random_image(16, seed=5)
    ex.cam(image, 0)
    reads = []
    sample = ex.backend.weights_sample
    ex.backend.weights_sample = lambda: (reads.append(1), sample())[1]
    ex.scores(random_image(16, seed=6))
    ex.cams(random_image(16, seed=6), [0, 1])
    assert len(reads) == 2  # outside the scope (and outside a notebook): every call looks
    reads.clear()
    with ex.one_weights_check():
        ex.scores(random_image(16, seed=7))
        ex.cams(random_image(16, seed=7), [0, 1])
        with ex.one_weights_check():  # nested: still the outer one look
            ex.cam(random_image(16, seed=7), 2)
    assert len(reads) == 1
    version = ex.weights_version  # (reading it is a look too)
    reads.clear()
    model.get_layer("out").kernel.assign(model.get_layer("out").kernel * 2.0)
    ex.cam(image, 0)  # after the scope, the next call looks again and sees the change
    assert len(reads) == 1 and ex.weights_version == version + 1


def test_a_what_if_stroke_looks_at_the_weights_once():
    from gradcam_widget.widget import GradCAMWidget

    model = _flatten_dense(seed=3)
    ex = Explainer(model, compiled=False)
    w = GradCAMWidget(ex, random_image(16, seed=8), top_k=2)
    reads = []
    sample = ex.backend.weights_sample
    ex.backend.weights_sample = lambda: (reads.append(1), sample())[1]
    w.edit = {"strokes": [{"points": [[0.2, 0.2], [0.8, 0.8]], "radius": 0.2}], "fill": "grey", "seq": 1}
    assert w.wait(60)
    assert w.edit_state["state"] == "ready" and w.edit_mask.any()
    assert len(reads) == 1
    np.testing.assert_allclose(
        [c["probability"] for c in w.top_classes],
        model.predict(w.edited_image[None], verbose=0)[0][[c["index"] for c in w.top_classes]],
        atol=1e-5,
    )
    w.close()
