"""Checks of user arguments shared by more than one entry point (the widget, the explorers)."""

from __future__ import annotations

import numpy as np


def check_top_k(top_k, num_classes: int) -> None:
    """``top_k=``: an int from 1 to the number of classes, or a TypeError/ValueError saying so."""
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)):
        raise TypeError(f"top_k must be an int, got {top_k!r}.")
    if not 1 <= top_k <= num_classes:
        raise ValueError(f"top_k must be between 1 and the number of classes ({num_classes}), got {top_k}.")
