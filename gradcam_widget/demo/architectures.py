"""The small CNNs behind the shipped demo models.

Both end in conv -> global average pooling -> Dense, so Grad-CAM on the last conv layer equals the
classic CAM. The final Dense starts at zero: random initial weights would add the same random blob
to every class's map, which training never fully removes.
"""

from __future__ import annotations


def conv_gap_classifier(
    input_size: int, filters: tuple[int, ...], num_classes: int, name: str, pools: int | None = None
):
    """Rescaling (0..255 in) -> conv3x3 relu [-> maxpool] ... conv3x3 relu -> GAP -> Dense softmax.

    ``pools``: how many of the first convs are followed by a 2x2 max-pool (default: all but the last).
    """
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    pools = len(filters) - 1 if pools is None else pools
    for k, f in enumerate(filters, start=1):
        if 1 < k <= pools + 1:
            x = layers.MaxPooling2D(2, name=f"pool{k - 1}")(x)
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{k}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, activation="softmax", kernel_initializer="zeros", name="scores")(x)
    return keras.Model(inputs, outputs, name=name)
