"""keras_hub tasks: the preprocessing their ``predict()`` applies, so a map explains what it computes.

A ``keras_hub.models.ImageClassifier`` runs ``task.preprocessor`` (an image converter: resize, rescale,
offset) on every batch inside ``predict()``, outside its layer graph. The explainer applies the same
function, the task's own ``preprocess_samples``, to the images it explains (read only; the task is never
changed).
"""

from __future__ import annotations

import numpy as np


def task_preprocessor(model):
    """The function ``model.predict`` applies to each batch before the layers, or None (not a task, or
    a task without a preprocessor)."""
    if getattr(model, "preprocessor", None) is None or not callable(getattr(model, "preprocess_samples", None)):
        return None
    import keras

    def preprocess(batch: np.ndarray) -> np.ndarray:
        x, _, _ = keras.utils.unpack_x_y_sample_weight(model.preprocess_samples(batch))
        x = np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float32)
        if not np.all(np.isfinite(x)):
            raise ValueError("the model's preprocessor (task.preprocessor) returned NaN or infinite values.")
        return x

    return preprocess


def _converter(model):
    return getattr(getattr(model, "preprocessor", None), "image_converter", None)


def resizes(model) -> bool:
    """True when the task's preprocessor resizes images itself (so the explainer must not)."""
    converter = _converter(model)
    return converter is not None and getattr(converter, "image_size", None) is not None


def visible_box(model, height: int, width: int):
    """(top, left, h, w) of the part of an image the task's converter keeps when it crops to its aspect
    ratio before resizing (the same arithmetic as ``keras.ops.image.resize``), or None: the whole image."""
    converter = _converter(model)
    size = getattr(converter, "image_size", None)
    if size is None or not getattr(converter, "crop_to_aspect_ratio", False):
        return None
    th, tw = size
    crop_h = max(min(height, int(np.float32(width * th) / np.float32(tw))), 1)
    crop_w = max(min(width, int(np.float32(height * tw) / np.float32(th))), 1)
    if (crop_h, crop_w) == (height, width):
        return None
    return int((height - crop_h) / 2), int((width - crop_w) / 2), crop_h, crop_w
