"""Where a token layer's patch grid is: from the model's patch size, its patch-embedding map, or the count."""

from __future__ import annotations

import keras
import pytest

from gradcam_widget import Explainer
from gradcam_widget.explain.tokens import TokenGrid, find_grid


@pytest.mark.parametrize(
    "tokens, image, patch, sizes, expected",
    [
        (197, (224, 224), (16, 16), set(), TokenGrid(14, 14, 1)),  # ViT-B/16: a class token
        (198, (224, 224), (16, 16), set(), TokenGrid(14, 14, 2)),  # DeiT: class + distillation tokens
        (196, (224, 224), (16, 16), set(), TokenGrid(14, 14, 0)),  # mean-pooled, no class token
        (50, (224, 224), (16, 16), set(), None),  # the model says 14 x 14: not these tokens
        (24, (64, 96), (16, 16), set(), TokenGrid(4, 6, 0)),  # a wide image
        (17, (32, 32), None, set(), TokenGrid(4, 4, 1)),  # nothing said: the count, square input
        (50, (224, 224), None, {(7, 7), (14, 14)}, TokenGrid(7, 7, 1)),  # the patch embedding's 7 x 7 map
        (10, (16, 16), None, {(14, 14)}, None),  # no spatial tensor holds 9 or 10 positions
        (3, (32, 32), None, set(), None),
    ],
)
def test_find_grid(tokens, image, patch, sizes, expected):
    assert find_grid(tokens, image, patch, sizes) == expected


def test_a_reshape_in_a_cnn_head_is_not_a_token_layer():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(10, 3, name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Reshape((10, 1))(x)  # 10 = 3 x 3 + 1 by count, but no 3 x 3 map exists in the model
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    assert Explainer(model, compiled=False).candidate_layers == ["conv"]
