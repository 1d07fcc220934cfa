"""Tiny random-weight models of the architectures users bring, for tests/test_model_zoo.py.

Every builder returns a fresh model (nothing downloaded: ``weights=None``, no keras_hub presets).
Sizes are the smallest each family accepts, so the whole zoo builds in well under a minute.
"""

from __future__ import annotations

import keras

APPLICATIONS = keras.applications

#: keras.applications: one model per family, at the smallest input size it allows.
APPLICATION_FAMILIES = {
    "VGG16": (APPLICATIONS.VGG16, 32),
    "ResNet50": (APPLICATIONS.ResNet50, 32),
    "ResNet50V2": (APPLICATIONS.ResNet50V2, 32),
    "DenseNet121": (APPLICATIONS.DenseNet121, 32),
    "Xception": (APPLICATIONS.Xception, 71),
    "InceptionV3": (APPLICATIONS.InceptionV3, 75),
    "InceptionResNetV2": (APPLICATIONS.InceptionResNetV2, 75),
    "MobileNet": (APPLICATIONS.MobileNet, 32),
    "MobileNetV2": (APPLICATIONS.MobileNetV2, 32),
    "MobileNetV3Small": (APPLICATIONS.MobileNetV3Small, 32),
    "EfficientNetB0": (APPLICATIONS.EfficientNetB0, 32),
    "EfficientNetV2B0": (APPLICATIONS.EfficientNetV2B0, 32),
    "ConvNeXtTiny": (APPLICATIONS.ConvNeXtTiny, 32),
    "NASNetMobile": (APPLICATIONS.NASNetMobile, 32),
}


def application(name: str, classes: int = 5):
    builder, size = APPLICATION_FAMILIES[name]
    keras.utils.set_random_seed(0)
    return builder(weights=None, input_shape=(size, size, 3), classes=classes), size


# ---- keras_hub image classifiers ----------------------------------------------------------------
HUB_SIZE = 32


def _hub_task(task_cls, backbone, converter_cls=None, **kwargs):
    from keras_hub import models

    preprocessor = None
    if converter_cls is not None:  # resize to HUB_SIZE and rescale to [0, 1], as the presets do
        preprocessor_cls = getattr(models, task_cls.__name__ + "Preprocessor")
        preprocessor = preprocessor_cls(converter_cls(image_size=(HUB_SIZE, HUB_SIZE), scale=1 / 255.0))
    return task_cls(backbone=backbone, num_classes=3, preprocessor=preprocessor, activation="softmax", **kwargs)


def hub_resnet():
    from keras_hub import layers, models

    backbone = models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 16],
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
    )
    return _hub_task(models.ResNetImageClassifier, backbone, layers.ResNetImageConverter)


def hub_efficientnet():
    from keras_hub import models

    backbone = models.EfficientNetBackbone(
        stackwise_kernel_sizes=[3, 3],
        stackwise_num_repeats=[1, 1],
        stackwise_input_filters=[8, 8],
        stackwise_output_filters=[8, 16],
        stackwise_expansion_ratios=[1, 2],
        stackwise_squeeze_and_excite_ratios=[0.25, 0.25],
        stackwise_strides=[1, 2],
        stackwise_block_types=["v1", "v1"],
        stackwise_force_input_filters=[0, 0],
        stackwise_nores_option=[False, False],
        stackwise_width_coefficients=[1.0, 1.0],
        stackwise_depth_coefficients=[1.0, 1.0],
        num_features=32,
        min_depth=None,
        use_depth_divisor_as_min_depth=True,
    )
    return _hub_task(models.EfficientNetImageClassifier, backbone)  # no preprocessor: arrays as given


def hub_mobilenet():
    from keras_hub import layers, models

    backbone = models.MobileNetBackbone(
        stackwise_expansion=[[16], [32]],
        stackwise_num_blocks=[1, 1],
        stackwise_num_filters=[[8], [16]],
        stackwise_kernel_size=[[3], [3]],
        stackwise_num_strides=[[2], [1]],
        stackwise_se_ratio=[[None], [0.25]],
        stackwise_activation=[["relu"], ["hard_swish"]],
        stackwise_padding=[[1], [1]],
        output_num_filters=32,
        depthwise_filters=8,
        depthwise_stride=2,
        depthwise_residual=False,
        last_layer_filter=32,
        input_num_filters=8,
        squeeze_and_excite=0.5,
    )
    preprocessor = models.MobileNetImageClassifierPreprocessor(
        layers.MobileNetImageConverter(image_size=(HUB_SIZE, HUB_SIZE), scale=1 / 255.0)
    )
    # its own head (pooling, 1x1 conv, dense) and no activation: predict() returns logits
    return models.MobileNetImageClassifier(backbone=backbone, num_classes=3, num_features=16, preprocessor=preprocessor)


def hub_densenet():
    from keras_hub import layers, models

    backbone = models.DenseNetBackbone(stackwise_num_repeats=[1, 1], growth_rate=8)
    return _hub_task(models.DenseNetImageClassifier, backbone, layers.DenseNetImageConverter)


def hub_vgg():
    from keras_hub import layers, models

    backbone = models.VGGBackbone(stackwise_num_repeats=[1, 1], stackwise_num_filters=[8, 16])
    return _hub_task(models.VGGImageClassifier, backbone, layers.VGGImageConverter)


def hub_xception():
    from keras_hub import layers, models

    # keras_hub's own example configuration (smaller widths break its residual shapes at every size)
    backbone = models.XceptionBackbone(
        stackwise_conv_filters=[[32, 64], [64, 128], [256, 256]], stackwise_pooling=[True, True, False]
    )
    return _hub_task(models.XceptionImageClassifier, backbone, layers.XceptionImageConverter)


def hub_vit(pooling: str = "token"):
    """ViT-style: 16 patches of 8x8 px + a class token; ``pooling`` "token" (class-token head) or "gap"."""
    from keras_hub import layers, models

    keras.utils.set_random_seed(0)
    backbone = models.ViTBackbone(
        image_shape=(HUB_SIZE, HUB_SIZE, 3), patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32
    )
    preprocessor = models.ViTImageClassifierPreprocessor(
        layers.ViTImageConverter(image_size=(HUB_SIZE, HUB_SIZE), scale=1 / 127.5, offset=-1.0)
    )
    return models.ViTImageClassifier(
        backbone=backbone, num_classes=3, pooling=pooling, preprocessor=preprocessor, activation="softmax"
    )


HUB_CLASSIFIERS = {
    "ResNet": hub_resnet,
    "EfficientNet": hub_efficientnet,
    "MobileNet": hub_mobilenet,
    "DenseNet": hub_densenet,
    "VGG": hub_vgg,
    "Xception": hub_xception,
    "ViT-token": lambda: hub_vit("token"),
    "ViT-gap": lambda: hub_vit("gap"),
}


# ---- hand-built models ---------------------------------------------------------------------------
def any_size_fcn():
    """Fully convolutional, Input((None, None, 3)), global pooling: any image size."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv_a")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(4, activation="softmax", name="probs")(x))


def two_heads(size: int = 24):
    """A shared trunk with a softmax class head ("kind") and a multi-label sigmoid head ("tags")."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="trunk")(x)
    a = keras.layers.Conv2D(8, 3, activation="relu", name="kind_conv")(x)
    kind = keras.layers.Dense(3, activation="softmax", name="kind")(keras.layers.GlobalAveragePooling2D()(a))
    b = keras.layers.Conv2D(8, 3, activation="relu", name="tags_conv")(x)
    tags = keras.layers.Dense(4, activation="sigmoid", name="tags")(keras.layers.GlobalAveragePooling2D()(b))
    return keras.Model(inputs, [kind, tags], name="two_heads")


def augmented(size: int = 32):
    """Augmentation layers (inactive at inference) and Rescaling inside the model."""
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.RandomFlip("horizontal"),
            keras.layers.RandomRotation(0.1),
            keras.layers.RandomZoom(0.1),
            keras.layers.Rescaling(1 / 127.5, offset=-1.0),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv_a"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv_b"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ],
        name="augmented",
    )


def functional_vit(size: int = 32, patch: int = 8, dim: int = 16):
    """A ViT from stock layers only (patches by a strided conv, no class token, mean-pooled tokens):
    the patch grid can only come from the token count."""
    keras.utils.set_random_seed(0)
    grid = size // patch
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(dim, patch, strides=patch, name="patchify")(x)
    x = keras.layers.Reshape((grid * grid, dim), name="tokens")(x)
    for i in range(2):
        h = keras.layers.LayerNormalization(name=f"block{i}_norm1")(x)
        h = keras.layers.MultiHeadAttention(2, dim // 2, name=f"block{i}_attn")(h, h)
        x = keras.layers.Add(name=f"block{i}_add1")([x, h])
        h = keras.layers.LayerNormalization(name=f"block{i}_norm2")(x)
        h = keras.layers.Dense(dim, activation="gelu", name=f"block{i}_mlp")(h)
        x = keras.layers.Add(name=f"block{i}_out")([x, h])
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="probs")(x), name="vit")
