"""The method registry is the one place a method is declared: a method registered here (and nowhere
else) is in the widget's menu, its labels, the slow set and the trust strip, and computes end to end."""

from __future__ import annotations

import numpy as np
import pytest

import keras

import gradcam_widget
from gradcam_widget import registry, trust
from gradcam_widget import widget as widget_module
from gradcam_widget.widget import show_gradcam


def _double_gradcam(activations, gradients):
    """Twice Grad-CAM, through the plain gradient path: its maps are exactly 2x Grad-CAM's."""
    import tensorflow as tf

    weights = tf.reduce_mean(gradients, axis=(1, 2))
    return 2.0 * tf.einsum("nk,nhwk->nhw", weights, activations)


@pytest.fixture
def double_cam():
    entry = registry.register(
        registry.MethodInfo("doublecam", "Double-CAM", "gradient", _double_gradcam, slow=True, in_strip=True)
    )
    yield entry
    registry.unregister("doublecam")


def _model():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def test_builtin_methods_come_from_the_registry():
    assert gradcam_widget.METHODS == registry.names()
    assert widget_module.SLOW_METHODS == {"scorecam", "occlusion"}
    assert trust.STRIP_METHODS == ("gradcam", "gradcam++", "hirescam", "layercam")
    assert trust.SLOW_STRIP_METHODS == ("scorecam",)
    assert trust.method_label("gradcam++") == "Grad-CAM++" and trust.method_label("odd") == "odd"
    assert registry.lookup("Grad_CAM++").name == "gradcam++" and registry.lookup("GradCAMpp").name == "gradcam++"
    with pytest.raises(ValueError, match="unknown method 'nocam'. Available: gradcam, "):
        registry.lookup("nocam")
    with pytest.raises(ValueError, match="kind"):
        registry.register(registry.MethodInfo("x", "X", "telepathy", _double_gradcam))


def test_a_registered_method_is_in_the_menu_and_computes_end_to_end(double_cam):
    assert "doublecam" in gradcam_widget.METHODS and "doublecam" in widget_module.SLOW_METHODS
    assert trust.SLOW_STRIP_METHODS == ("scorecam", "doublecam") and trust.method_label("doublecam") == "Double-CAM"
    image = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    w = show_gradcam(_model(), image, top_k=3)
    try:
        assert w.methods[-1] == "doublecam" and w.method_labels["doublecam"] == "Double-CAM"
        assert w.method_labels == registry.labels()
        k = int(w.selected_class)
        w.method = "doublecam"  # as the menu sets it; slow, so computed on the worker
        w.wait()
        assert w.status["state"] == "ready" and w.status["method"] == "doublecam", w.status
        maps = {(m["class_index"], m["method"]): m for m in w.computed_maps()}
        double, single = maps[(k, "doublecam")], maps[(k, "gradcam")]
        as_array = lambda m: np.frombuffer(m["raw"], "<f4").reshape(m["height"], m["width"])  # noqa: E731
        assert double["has_evidence"] and single["has_evidence"]
        # Grad-CAM on this pooled head takes the offset shortcut; the new method the plain gradient
        # path: two independent computations, 2x apart.
        np.testing.assert_allclose(as_array(double), 2.0 * as_array(single), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(w.heatmap, as_array(double) / double["maximum"], rtol=1e-5, atol=1e-6)
    finally:
        w.close()
