"""Load the small demo models shipped inside the package (trained by ``demo/train.py``)."""

from __future__ import annotations

from importlib import resources

MODEL_NAMES = ("shortcut-biased", "shortcut-debiased", "digits")


def model_path(name: str):
    """Where the shipped ``.keras`` file of ``name`` lives (a Traversable inside the package)."""
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown demo model {name!r}; valid names: {', '.join(MODEL_NAMES)}")
    return resources.files(__package__).joinpath("models", f"{name}.keras")


def load_model(name: str):
    """The trained demo model ``name`` (uncompiled, safe mode): RGB pixels 0..255 in, softmax out.

    ``shortcut-biased`` learnt from scenes where the ground gives the class away, ``shortcut-debiased``
    from scenes where it does not, ``digits`` reads the upsampled scikit-learn digits.
    """
    path = model_path(name)  # validates the name before the slow TensorFlow import
    import keras

    if not path.is_file():
        raise FileNotFoundError(f"the demo model file {path} is missing; regenerate it with "
                                f"`python -m gradcam_widget.demo.train {name}`")
    with resources.as_file(path) as local:
        return keras.saving.load_model(local, safe_mode=True, compile=False)
