"""The engine: TensorFlow lives here and nowhere else in gradcam-widget."""

from .explainer import Cancelled, Explainer, PreparedImage, compute_cam, explainer_for
from .results import CamMap, Scores

__all__ = ["Cancelled", "Explainer", "PreparedImage", "compute_cam", "explainer_for", "CamMap", "Scores"]
