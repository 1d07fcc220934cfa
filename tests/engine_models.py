"""Small Keras models for engine tests, each built to probe one structural case."""

from __future__ import annotations

import numpy as np
import keras


def gap_classifier(num_classes=5, size=32, softmax="dense", seed=0):
    """conv -> conv -> global average pooling -> dense: the head where Grad-CAM equals CAM.

    ``softmax``: "dense" (activation on the Dense), "layer" (a separate Softmax layer),
    "activation" (a separate Activation("softmax")), or None (logits).
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv_a")(x)
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv_last")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    dense_activation = "softmax" if softmax == "dense" else None
    x = keras.layers.Dense(num_classes, activation=dense_activation, name="logits")(x)
    if softmax == "layer":
        x = keras.layers.Softmax(name="probs")(x)
    elif softmax == "activation":
        x = keras.layers.Activation("softmax", name="probs")(x)
    return keras.Model(inputs, x, name=f"gap_{softmax}")


def sigmoid_classifier(size=32, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv_last")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(1, activation="sigmoid", name="out")(x)
    return keras.Model(inputs, x)


def nested_backbone(num_classes=4, size=48, seed=0):
    """A transfer-learning shape: Sequential([Input, backbone(Functional), GAP, Dense])."""
    keras.utils.set_random_seed(seed)
    b_in = keras.Input((size, size, 3))
    y = keras.layers.Conv2D(8, 3, activation="relu", name="bb_conv1")(b_in)
    y = keras.layers.MaxPooling2D(name="bb_pool")(y)
    y = keras.layers.Conv2D(16, 3, name="bb_conv2")(y)
    y = keras.layers.ReLU(name="bb_out")(y)
    backbone = keras.Model(b_in, y, name="backbone")
    model = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Rescaling(1 / 255.0),
            backbone,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(num_classes, activation="softmax", name="head"),
        ],
        name="transfer",
    )
    return model, backbone


def residual_model(size=32, seed=0):
    """A skip connection: the convs inside the block are not cuts, the add is."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inputs)
    y = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="inner_a")(x)
    y = keras.layers.Conv2D(8, 3, padding="same", name="inner_b")(y)
    x = keras.layers.Add(name="block_add")([x, y])
    x = keras.layers.ReLU(name="block_out")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(inputs, x)


def colour_model(size=16):
    """conv(1x1) -> GAP -> Dense over 4 classes (red, green, blue, grey) with set weights: scores
    follow each image's mean colour, so predictions spread over the classes (a random CNN would
    call everything one class). Self-contained: the browser tests send its source to the kernel."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(6, 1, activation="relu", name="conv_last")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="logits")(x)
    model = keras.Model(inputs, outputs)
    conv = np.zeros((1, 1, 3, 6), np.float32)
    for c in range(3):
        conv[0, 0, c, c], conv[0, 0, c, c + 3] = 1.0, -1.0
    dense = np.array(
        [[4, -2, -2, 0], [-2, 4, -2, 0], [-2, -2, 4, 0], [-1, 1, 0, 2], [1, -1, 1, 2], [0, 1, -1, 2]], np.float32
    )
    model.get_layer("conv_last").set_weights([conv, np.full(6, 0.3, np.float32)])
    model.get_layer("logits").set_weights([dense, np.array([0, 0, 0, 1.0], np.float32)])
    return model


def colour_patches(n, size=16, seed=1):
    """Noisy colour patches for :func:`colour_model` with 20 % of the labels flipped: every class is
    predicted and there are plenty of mistakes. Returns (uint8 images, labels)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    base = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200], [120, 120, 120]], np.float32)
    images = base[labels][:, None, None, :] + rng.normal(0, 70, (n, size, size, 3))
    images = np.clip(images, 0, 255).astype(np.uint8)
    flip = rng.random(n) < 0.2
    labels[flip] = rng.integers(0, 4, flip.sum())
    return images, labels


def random_image(size=32, seed=0, shape=None):
    rng = np.random.default_rng(seed)
    shape = shape or (size, size, 3)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def weights_snapshot(model):
    return [np.array(w) for w in model.get_weights()]


def model_fingerprint(model):
    """Everything a user could notice changing: weights, layer configs, activations, node counts."""
    return {
        "weights": weights_snapshot(model),
        "layers": [(l.name, type(l).__name__, repr(l.get_config())) for l in model.layers],
        "nodes": [len(getattr(l, "_inbound_nodes", [])) for l in model.layers],
        "activations": [getattr(l, "activation", None) for l in model.layers],
        "trainable": [l.trainable for l in model.layers],
    }


def assert_unchanged(before, after):
    assert len(before["weights"]) == len(after["weights"])
    for a, b in zip(before["weights"], after["weights"]):
        np.testing.assert_array_equal(a, b)
    assert before["layers"] == after["layers"]
    assert before["nodes"] == after["nodes"]
    assert before["activations"] == after["activations"]
    assert before["trainable"] == after["trainable"]
