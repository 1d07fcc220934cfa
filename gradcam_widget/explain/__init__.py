"""The engine: TensorFlow lives here and nowhere else in gradcam-widget."""

from .explainer import Cancelled, Explainer, PreparedImage, compute_cam, explainer_for, load_keras_model
from .results import CamMap, Scores

__all__ = [
    "Cancelled",
    "Explainer",
    "PreparedImage",
    "compute_cam",
    "explainer_for",
    "load_keras_model",
    "CamMap",
    "Scores",
]
