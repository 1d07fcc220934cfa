"""Offline demo material: a synthetic shortcut dataset, small trained models, the digits test split.

Nothing here downloads anything; TensorFlow is imported only when a model is loaded or trained.
"""

from .digits import DIGIT_CLASSES, load_digits_test
from .models import MODEL_NAMES, load_model
from .shortcut import SHORTCUT_CLASSES, ShortcutData, make_shortcut_dataset

__all__ = ["SHORTCUT_CLASSES", "ShortcutData", "make_shortcut_dataset", "MODEL_NAMES", "load_model",
           "DIGIT_CLASSES", "load_digits_test"]
