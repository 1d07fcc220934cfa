"""Keras 2 (tf_keras) models and SavedModels (issue 13): a clear error naming what the model is and the
way to load the same file in Keras 3, and that way really works (same predictions, a map)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tf_keras

from gradcam_widget import Explainer, compute_cam, show_gradcam


@pytest.fixture(scope="module")
def keras2_model():
    tf_keras.utils.set_random_seed(0)
    return tf_keras.Sequential(
        [
            tf_keras.Input((16, 16, 3)),
            tf_keras.layers.Rescaling(1 / 255.0),
            tf_keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            tf_keras.layers.GlobalAveragePooling2D(),
            tf_keras.layers.Dense(3, activation="softmax", name="scores"),
        ]
    )


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).integers(0, 256, (16, 16, 3)).astype(np.uint8)


def test_a_keras2_model_is_named_and_the_fix_is_given(keras2_model, image):
    for call in (
        lambda: compute_cam(keras2_model, image),
        lambda: show_gradcam(keras2_model, image),
        lambda: Explainer(keras2_model),
    ):
        with pytest.raises(
            TypeError,
            match=r"Keras 2 model .*tf_keras.*keras\.models\.load_model\('model\.h5'\)"
            r".*TFSMLayer.*no layers to explain",
        ):
            call()


def test_the_advice_works_the_h5_file_loads_in_keras3_and_predicts_the_same(keras2_model, image, tmp_path):
    path = str(tmp_path / "model.h5")
    keras2_model.save(path)
    model = keras.models.load_model(path, compile=False)
    expected = np.asarray(keras2_model.predict(image[None].astype(np.float32), verbose=0))[0]
    w = show_gradcam(model, image, top_k=3)
    try:
        got = {t["index"]: t["probability"] for t in w.top_classes}
        np.testing.assert_allclose([got[k] for k in range(3)], expected, atol=1e-5)
        assert w.layer == "conv" and np.all(np.isfinite(w.heatmap))
    finally:
        w.close()


def test_an_opaque_savedmodel_is_named(keras2_model, image, tmp_path):
    import tensorflow as tf

    folder = str(tmp_path / "saved")
    tf.saved_model.save(keras2_model, folder)
    loaded = tf.saved_model.load(folder)
    with pytest.raises(TypeError, match="SavedModel.*no layers to explain.*load_model"):
        compute_cam(loaded, image)
    layer = keras.layers.TFSMLayer(folder, call_endpoint="serving_default")
    with pytest.raises(TypeError, match="TFSMLayer.*no layers to explain"):
        compute_cam(layer, image)
