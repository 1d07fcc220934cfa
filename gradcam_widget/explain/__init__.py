"""The engine: TensorFlow lives here and nowhere else in gradcam-widget."""

from .explainer import Cancelled, Explainer, PreparedImage, compute_cam
from .methods import METHOD_NAMES
from .results import CamMap, Scores

__all__ = ["Cancelled", "Explainer", "PreparedImage", "compute_cam", "CamMap", "Scores", "METHOD_NAMES"]
