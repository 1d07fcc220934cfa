"""The widget on the models of the zoo in JupyterLab: a keras_hub ViT and an any-size FCN.

The kernel side is covered by tests/test_model_zoo.py; here the browser draws their maps (a 4 x 4 patch
grid; an 18 x 26 map of a 40 x 56 image at its own size) and the kernel agrees on what was drawn.
"""

from __future__ import annotations

import textwrap

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

VIT_CELLS = [
    textwrap.dedent(
        """
    import numpy as np
    import keras
    from keras_hub import layers, models
    from gradcam_widget import show_gradcam

    keras.utils.set_random_seed(0)
    backbone = models.ViTBackbone(image_shape=(32, 32, 3), patch_size=8, num_layers=2, num_heads=2,
                                  hidden_dim=16, mlp_dim=32)
    preprocessor = models.ViTImageClassifierPreprocessor(
        layers.ViTImageConverter(image_size=(32, 32), scale=1 / 127.5, offset=-1.0))
    model = models.ViTImageClassifier(backbone=backbone, num_classes=3, preprocessor=preprocessor,
                                      activation="softmax")
    yy, xx = np.mgrid[0:96, 0:96] / 95.0
    img = (np.stack([xx, yy, 0.5 * (xx + yy)], axis=-1) * 255).astype(np.uint8)
    """
    ),
    "w = show_gradcam(model, img, class_names=['cat', 'dog', 'fox'])\nw",
]

FCN_CELLS = [
    textwrap.dedent(
        """
    import numpy as np
    import keras
    from gradcam_widget import show_gradcam

    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x))
    img = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    """
    ),
    "w = show_gradcam(model, img)\nw",
]


@pytest.mark.parametrize(
    "cells, layer, shape",
    [(VIT_CELLS, "transformer_block_1", [4, 4]), (FCN_CELLS, "conv_b", [18, 26])],
    ids=["vit", "any-size"],
)
def test_zoo_model_map_is_drawn(open_notebook, cells, layer, shape):
    nb = open_notebook(cells, "lab")
    root = nb.page.get_by_test_id("gcw-root")
    top = nb.kernel.eval("w.top_classes[0]['index']")
    expect(root).to_have_attribute("data-class", str(top), timeout=30_000)
    assert nb.kernel.eval("w.layer") == layer
    assert nb.kernel.eval("list(w.heatmap.shape)") == shape
    assert nb.kernel.eval("[w.maps[0]['height'], w.maps[0]['width']]") == shape
    assert nb.kernel.eval("bool(w.maps[0]['has_evidence'])") is True
    nb.screenshot("drawn", scroll_to="[data-testid=gcw-root]")
