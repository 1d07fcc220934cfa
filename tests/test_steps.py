"""The "How was this map made?" numbers (Explainer.map_steps) against an independent GradientTape
computation, and the scale modes' drawn values (issue 17)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import keras

from gradcam_widget import Explainer
from gradcam_widget import scale_modes
from engine_models import gap_classifier, random_image

TOL = 1e-5


def close(actual, expected):
    """Equal within 1e-5, in absolute terms and relative to the largest value (tiny models give
    values ~1e-4, where an absolute 1e-5 alone would allow 10 %)."""
    expected = np.asarray(expected, np.float64)
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=min(TOL, TOL * np.abs(expected).max() + 1e-12))


def vgg_style(num_classes=4, size=32, seed=0):
    """conv -> conv -> max pool -> Flatten -> Dense(relu) -> Dense(softmax): a VGG-shaped head."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv_a")(x)
    x = keras.layers.Conv2D(12, 3, activation="relu", name="conv_last")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(16, activation="relu", name="fc1")(x)
    x = keras.layers.Dense(num_classes, activation="softmax", name="logits")(x)
    return keras.Model(inputs, x)


def oracle(model, layer, image, class_index):
    """A and dS/dA by hand: the layers up to ``layer`` called one by one, then the head with its last
    Dense applied without softmax (the pre-softmax score), under a GradientTape of our own."""
    names = [lay.name for lay in model.layers]
    cut = names.index(layer)
    x = tf.constant(image[None].astype(np.float32))
    for lay in model.layers[1 : cut + 1]:
        x = lay(x)
    a = tf.identity(x)
    with tf.GradientTape() as tape:
        tape.watch(a)
        y = a
        for lay in model.layers[cut + 1 : -1]:
            y = lay(y)
        last = model.layers[-1]
        score = (tf.matmul(y, last.kernel) + last.bias)[0, class_index]
    return a.numpy()[0].astype(np.float64), tape.gradient(score, a).numpy()[0].astype(np.float64)


@pytest.fixture(scope="module", params=["vgg", "gap"])
def case(request):
    model = vgg_style() if request.param == "vgg" else gap_classifier(num_classes=4, softmax="dense")
    return model, Explainer(model, layer="conv_last", compiled=False), random_image(32, seed=3)


def test_gradcam_steps_equal_an_independent_gradient_tape(case):
    model, explainer, image = case
    mixed = 0
    for cls in range(4):
        a, g = oracle(model, "conv_last", image, cls)
        steps = explainer.map_steps(image, cls, "gradcam")
        alpha = g.mean(axis=(0, 1))
        signed = np.einsum("k,hwk->hw", alpha, a)
        close(steps.weights, alpha)
        close(steps.signed, signed)
        close(steps.relu, np.maximum(signed, 0))
        mixed += bool(steps.signed.min() < 0 < steps.signed.max())
    assert mixed  # some class where ReLU hides negative evidence
    # The per-channel view is A^k itself, for the channels contributing most.
    contributions = alpha * a.sum(axis=(0, 1))
    assert list(steps.top) == list(np.argsort(-np.abs(contributions), kind="stable")[: len(steps.top)])
    for i, k in enumerate(steps.top):
        close(steps.channels[i], a[..., k])
    assert steps.positive == int((alpha > 0).sum()) and steps.negative == int((alpha < 0).sum())
    # The step-through ends at the very map the widget shows.
    close(steps.relu, explainer.cam(image, cls).raw)


@pytest.mark.parametrize("method", ["hirescam", "gradcam++"])
def test_other_gradient_methods_show_their_own_weighting(case, method):
    model, explainer, image = case
    a, g = oracle(model, "conv_last", image, 1)
    steps = explainer.map_steps(image, 1, method)
    if method == "hirescam":
        assert steps.weighting == "elementwise"
        expected = (g * a).sum(axis=-1)
        k = steps.top[0]
        close(steps.products[0], g[..., k] * a[..., k])
    else:
        assert steps.weighting == "channel"
        expected = np.maximum(explainer.cam(image, 1, method).raw, 0)
    close(steps.relu, np.maximum(expected, 0))
    close(steps.relu, explainer.cam(image, 1, method).raw)


def test_gradcam_steps_without_the_pooled_head_shortcut():
    """A head whose Dense is the score layer (no pooling shortcut): the weights come from the plain
    head backward, and the steps still end at the explainer's map."""
    from engine_models import residual_model

    explainer = Explainer(residual_model(), layer="block_out", compiled=False)
    image = random_image(32, seed=4)
    for cls in range(3):
        steps = explainer.map_steps(image, cls)
        close(steps.relu, explainer.cam(image, cls).raw)
        top = steps.top
        close(steps.contributions[top], steps.weights[top] * steps.channels.sum(axis=(1, 2)))


def test_eigencam_and_scorecam_steps_end_at_their_maps():
    model = gap_classifier(num_classes=3, softmax="dense")
    explainer = Explainer(model, compiled=False, scorecam_channels=8)
    image = random_image(32, seed=5)
    eigen = explainer.map_steps(image, 0, "eigencam")
    assert eigen.weighting == "component"
    np.testing.assert_allclose(np.linalg.norm(eigen.weights), 1.0, atol=1e-5)
    np.testing.assert_allclose(eigen.relu, explainer.cam(image, 0, "eigencam").raw, atol=1e-4)
    passes = explainer.masked_pass_count
    cam = explainer.cam(image, 1, "scorecam")
    score = explainer.map_steps(image, 1, "scorecam")
    assert explainer.masked_pass_count == passes + 8  # the panel reuses the map's masked passes
    assert score.weighting == "masked" and np.isfinite(score.gains).sum() == 8
    np.testing.assert_allclose(score.weights.sum(), 1.0, atol=1e-5)
    np.testing.assert_allclose(score.relu, cam.raw, atol=1e-5)


def test_a_method_without_channel_weights_is_refused_not_guessed(case, monkeypatch):
    from gradcam_widget import registry
    from gradcam_widget.registry import MethodInfo

    _, explainer, image = case
    entry = MethodInfo(
        "blur_probe", "Blur probe", "masked", "gradcam_widget.explain.methods:scorecam_combine", slow=True
    )
    monkeypatch.setitem(registry._REGISTRY, "blur_probe", entry)  # a method registered by someone else
    with pytest.raises(ValueError, match="Blur probe does not build its map from channel weights"):
        explainer.map_steps(image, 0, "blur_probe")


def test_the_panel_reuses_cached_features(case):
    """Opening the panel on a shown map: no new forward pass through the model (features cached)."""
    model, explainer, image = case
    explainer.cam(image, 0)
    calls = []
    original = explainer.backend.features  # the one call that runs the backbone for uncached images

    def counting(inputs, layer):
        calls.append(layer.name)
        return original(inputs, layer)

    explainer.backend.features = counting
    try:
        explainer.map_steps(image, 3, "gradcam")
    finally:
        del explainer.backend.features
    assert calls == []


def test_shared_scale_draws_the_weaker_map_at_its_ratio(case):
    _, explainer, image = case
    cams = explainer.cams(image, [0, 1, 2, 3])
    strong, weak = sorted((c for c in cams if c.has_evidence), key=lambda c: -c.maximum)[:2]
    common = scale_modes.shared_maximum(cams)
    assert common == strong.maximum
    drawn_strong = scale_modes.display_values(strong, "shared", common)
    drawn_weak = scale_modes.display_values(weak, "shared", common)
    np.testing.assert_allclose(drawn_weak.max() / drawn_strong.max(), weak.maximum / strong.maximum, rtol=1e-6)
    signed = scale_modes.display_values(strong, "signed", common)
    assert signed.min() >= -1 and signed.max() <= 1 and np.isclose(np.abs(signed).max(), 1.0)
    np.testing.assert_array_equal(np.sign(signed), np.sign(strong.signed))


def test_signed_picture_paints_negative_evidence_blue(case):
    _, explainer, image = case
    cam = min(explainer.cams(image, [0, 1, 2, 3]), key=lambda c: c.signed.min() / np.abs(c.signed).max())
    assert cam.signed.min() < 0 < cam.signed.max()
    shown = np.full((64, 64, 3), 128, np.uint8)
    rgb = scale_modes.overlay(shown, cam, "signed", cam.maximum, "jet", 1.0)
    up = scale_modes.upsampled(cam, "signed", cam.maximum, 64, 64)
    blue = rgb[up < up.min() / 2]
    red = rgb[up > up.max() / 2]
    assert len(blue) and len(red)
    assert (blue[:, 2] > blue[:, 0]).all() and (red[:, 0] > red[:, 2]).all()


def test_the_scrubber_computes_a_layer_once():
    """The widget moved to another layer: one forward pass to it on the first visit, none after."""
    from gradcam_widget.widget import GradCAMWidget

    model = gap_classifier(num_classes=3, softmax="dense")
    explainer = Explainer(model, compiled=False)
    widget = GradCAMWidget(explainer, random_image(32, seed=2))
    assert widget.layers == ["conv_a", "conv_last"]  # shallow to deep: the scrubber's order
    forwards = []
    run = explainer.backend.features  # the one call that runs the backbone for uncached images
    explainer.backend.features = lambda inputs, layer: (forwards.append(layer.name), run(inputs, layer))[1]
    widget.layer = "conv_a"
    assert forwards == ["conv_a"]
    widget.layer = "conv_last"
    widget.layer = "conv_a"
    assert forwards == ["conv_a"]
    assert widget.status["state"] == "ready" and widget.status["layer"] == "conv_a"
    widget.close()


def test_widget_panel_and_scale_modes_follow_the_kernel(tmp_path):
    """The widget's traits: the steps of the selection, the page's values checked, the picture and the
    exported still follow the scale mode, maps carry their signed values only in the signed mode."""
    import base64
    import io

    from PIL import Image

    from gradcam_widget.widget import GradCAMWidget

    model = vgg_style()
    widget = GradCAMWidget(Explainer(model, compiled=False), random_image(32, seed=3), top_k=4)
    assert widget.steps == {} and "signed" not in widget.maps[0]
    widget.steps_open = True
    steps = widget.steps
    assert steps["state"] == "ready" and steps["class_index"] == widget.selected_class
    assert steps["layer"] == widget.layer and len(steps["channels"]) == 6
    assert steps["positive"] + steps["negative"] <= steps["num_channels"] == 12
    widget.selected_class = widget.top_classes[1]["index"]
    assert widget.steps["class_index"] == widget.selected_class  # the panel follows the selection

    widget.set_state({"scale_mode": "<img src=x>"})
    assert widget.scale_mode == "per_map" and "unknown scale mode" in widget.notice
    per_map = np.asarray(Image.open(io.BytesIO(widget.to_png())))
    widget.set_state({"scale_mode": "signed"})
    assert widget.scale_mode == "signed" and "signed" in widget.maps[0]
    cam = widget._cam_for(widget.selected_class, widget.method, widget.layer)
    signed = np.asarray(Image.open(io.BytesIO(widget.to_png(tmp_path / "signed.png"))))
    expected = scale_modes.overlay(widget.display_image, cam, "signed", 0.0, widget.colormap, widget.opacity)
    np.testing.assert_array_equal(signed, expected)
    assert not np.array_equal(signed, per_map)
    data, _ = widget._repr_mimebundle_()
    still = np.asarray(Image.open(io.BytesIO(base64.b64decode(data["image/png"]))))
    assert still.shape[:2] == (256, 256) and "scale: Signed" in data["text/html"]
    widget.scale_mode = "shared"
    assert "signed" not in widget.maps[0]
    assert widget.scale["maximum"] == max(c.maximum for c in widget._topk_cams.values())
    widget.set_state({"steps_channel": "3"})
    assert widget.steps_channel == -1 and widget.notice
    widget.close()
