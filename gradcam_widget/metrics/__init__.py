"""Can the map be trusted? Faithfulness, localisation and sanity metrics for saliency maps.

- :func:`deletion`, :func:`insertion` (Petsiuk et al. 2018) and :func:`average_drop_increase`
  (Chattopadhay et al. 2018): does the model's confidence depend on the pixels the map highlights?
- :func:`pointing_game` (Zhang et al. 2016) and :func:`energy_in_region`: does the map fall on the object?
- :func:`randomization_check` (Adebayo et al. 2018): does the map change when the model's weights are random?

Importing this package does not import TensorFlow; the model-based metrics do on first use.
"""

from .faithfulness import CurveResult, DropIncreaseResult, auc, average_drop_increase, deletion, insertion
from .localisation import PointingResult, energy_in_region, pointing_game
from .sanity import RandomizationResult, randomization_check, spearman

__all__ = [
    "deletion",
    "insertion",
    "average_drop_increase",
    "pointing_game",
    "energy_in_region",
    "randomization_check",
    "spearman",
    "auc",
    "CurveResult",
    "DropIncreaseResult",
    "PointingResult",
    "RandomizationResult",
]
