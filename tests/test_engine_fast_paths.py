"""The engine's fast paths give the maps of the plain computation.

Grad-CAM through an offset after pooling (global pooling heads, and [pooling ->] Flatten -> Dense
heads via fc1's summed kernel), the top-k jacobian, the fused first map of a new image, and
background compilation: each is compared with an independent GradientTape over a Keras sub-model.
"""

from __future__ import annotations

import numpy as np
import pytest
import keras
import tensorflow as tf

from gradcam_widget import Explainer, show_gradcam
from gradcam_widget.map_key import MapKey
from engine_models import assert_unchanged, gap_classifier, model_fingerprint, random_image


def flatten_dense_classifier(num_classes=6, size=32, pool=True, seed=0):
    """conv -> [max pool] -> flatten -> dense(relu) -> dense(softmax): VGG16's head in small."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv_a")(x)
    x = keras.layers.Conv2D(12, 3, activation="relu", name="conv_last")(x)
    if pool:
        x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(20, activation="relu", name="fc1")(x)
    x = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x)


def _gradcam_oracle(model, image, class_index, conv_name="conv_last", against=None):
    """Grad-CAM by the book: d(logit)/dA averaged over space, weighted sum of A, ReLU, normalised."""
    conv = model.get_layer(conv_name)
    last = model.layers[-1]
    x = tf.constant(np.asarray(image, np.float32)[None])
    with tf.GradientTape() as tape:
        # recompute the head from A so the tape sees it (sub-model from A to the last layer's input)
        a = keras.Model(model.inputs, conv.output)(x)
        tape.watch(a)
        head_in = keras.Input(a.shape[1:])
        y = head_in
        started = False
        for layer in model.layers:
            if started and layer is not last:
                y = layer(y)
            if layer is conv:
                started = True
        h = keras.Model(head_in, y)(a)
        logits = tf.matmul(h, last.kernel) + last.bias
        target = logits[:, class_index] - (0 if against is None else logits[:, against])
    grads = tape.gradient(target, a)[0].numpy()
    weights = grads.mean(axis=(0, 1))
    cam = np.maximum((a[0].numpy() * weights).sum(-1), 0)
    return cam / cam.max() if cam.max() > 0 else cam


@pytest.mark.parametrize("pool", [True, False])
def test_flatten_dense_head_gradcam_matches_the_plain_gradient(pool):
    model = flatten_dense_classifier(pool=pool)
    image = random_image(seed=11)
    ex = Explainer(model)
    for c in range(6):
        np.testing.assert_allclose(ex.cam(image, c).normalized, _gradcam_oracle(model, image, c), atol=2e-5)
    np.testing.assert_allclose(
        ex.cam(image, 2, contrast=4).normalized, _gradcam_oracle(model, image, 2, against=4), atol=2e-5
    )


def test_topk_jacobian_equals_one_class_at_a_time():
    for model in (flatten_dense_classifier(), gap_classifier()):
        image = random_image(seed=12)
        batched = Explainer(model).cams(image, [0, 1, 2, 3, 4], "gradcam")
        for cam in batched:
            one = Explainer(model).cam(image, cam.class_index, "gradcam")
            np.testing.assert_allclose(cam.raw, one.raw, rtol=1e-4, atol=1e-7)


def test_first_map_of_a_new_image_is_its_top_class_map():
    model = flatten_dense_classifier()
    image = random_image(seed=13)
    first = Explainer(model).cam(image)  # fused path: features, scores and map in one call
    top = int(np.argmax(model(image[None].astype(np.float32))[0]))
    assert first.class_index == top
    np.testing.assert_allclose(first.normalized, _gradcam_oracle(model, image, top), atol=2e-5)


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "hirescam", "layercam"])
def test_background_compilation_gives_the_same_maps_and_traces_once(method):
    model = flatten_dense_classifier()
    before = model_fingerprint(model)
    image = random_image(seed=14)
    reference = Explainer(model, compiled=False).cams(image, [0, 1, 2], method)
    ex = Explainer(model, compiled="background")
    eager = ex.cams(image, [0, 1, 2], method)  # answered before compilation finished
    assert ex.wait_compiled(timeout=120)
    traced = ex.trace_count
    assert traced > 0  # the worker really traced
    compiled = ex.cams(image, [0, 1, 2], method)
    for _ in range(3):
        ex.cams(image, [3, 4, 5], method)
    assert ex.trace_count == traced  # no retracing after compilation
    for r, e, c in zip(reference, eager, compiled):
        np.testing.assert_allclose(e.raw, r.raw, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(c.raw, r.raw, rtol=1e-4, atol=1e-6)
    assert_unchanged(before, model_fingerprint(model))


def test_widget_clicks_during_background_compilation_are_answered():
    model = gap_classifier(num_classes=10)
    w = show_gradcam(model, random_image(seed=15), top_k=2)
    outside = [k for k in range(10) if k not in w._top_indices]
    for k in outside:  # likely before the worker finished tracing: answered eagerly
        w.selected_class = k
        assert w.status["state"] == "ready" and w.extra_map["class_index"] == k
    assert w.explainer.wait_compiled(timeout=120)
    expected = Explainer(model).cam(w.explainer.prepare(random_image(seed=15)), outside[0])
    np.testing.assert_allclose(
        w._cache.get_fresh(MapKey(outside[0], "gradcam", w.layer)).raw, expected.raw, rtol=1e-4, atol=1e-6
    )


def test_clear_cache_after_training_gives_the_new_weights_maps():
    model = flatten_dense_classifier()
    image = random_image(seed=16)
    ex = Explainer(model)
    before = ex.cam(image, 1).raw
    fc1 = model.get_layer("fc1")
    rng = np.random.default_rng(0)
    fc1.kernel.assign(rng.normal(0, 0.05, fc1.kernel.shape).astype("float32"))  # "training"
    traces = ex.trace_count
    ex.clear_cache()
    after = ex.cam(image, 1)
    np.testing.assert_allclose(after.normalized, _gradcam_oracle(model, image, 1), atol=2e-5)
    assert not np.allclose(after.raw, before)
    assert ex.trace_count == traces  # the summed kernel is a variable: updated, not retraced


def test_threads_sharing_an_explainer_get_correct_maps():
    """The widget's workers (Score-CAM, trust panel) and the comm thread share one Explainer: with a
    cache smaller than the images in use, entries are evicted while other threads read."""
    import threading

    model = gap_classifier(num_classes=5)
    images = [random_image(seed=40 + i) for i in range(4)]
    reference = [Explainer(model).cam(x, 2).raw for x in images]
    ex = Explainer(model, cache_size=2)
    errors, mismatches = [], []

    def work(offset):
        try:
            for r in range(40):
                i = (r + offset) % len(images)
                if not np.allclose(ex.cam(images[i], 2).raw, reference[i], rtol=1e-4, atol=1e-6):
                    mismatches.append(i)
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(err))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [] and mismatches == []
