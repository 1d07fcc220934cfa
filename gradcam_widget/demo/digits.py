"""The scikit-learn digits, blown up to small RGB images, and the shipped test split.

Training reads ``sklearn.datasets.load_digits`` (bundled with scikit-learn, no download); the test
split is shipped as a tiny .npz so notebooks and users need no scikit-learn at runtime.
"""

from __future__ import annotations

from importlib import resources
from typing import NamedTuple

import cv2
import numpy as np

DIGIT_CLASSES = tuple(str(d) for d in range(10))
DIGITS_SIZE = 32
_TEST_FILE = "digits_test.npz"


class DigitsSplit(NamedTuple):
    images: np.ndarray  # uint8 (n, S, S, 3), white ink on black
    labels: np.ndarray  # int64 (n,)


def digits_to_rgb(pixels: np.ndarray, size: int = DIGITS_SIZE) -> np.ndarray:
    """Turn (n, 8, 8) ink levels 0..16 into uint8 (n, size, size, 3) by bilinear upsampling."""
    pixels = np.asarray(pixels, dtype=np.float32).reshape(-1, 8, 8)
    out = np.empty((len(pixels), size, size, 3), np.uint8)
    for i, p in enumerate(pixels):
        big = cv2.resize(p * (255.0 / 16.0), (size, size), interpolation=cv2.INTER_LINEAR)
        out[i] = np.clip(np.rint(big), 0, 255).astype(np.uint8)[..., None]
    return out


def load_digits_test(size: int = DIGITS_SIZE) -> DigitsSplit:
    """The held-out digits the shipped ``digits`` model never saw, ready to feed to it."""
    with resources.files(__package__).joinpath("data", _TEST_FILE).open("rb") as f:
        data = np.load(f)
        pixels, labels = data["pixels"], data["labels"]
    return DigitsSplit(digits_to_rgb(pixels, size), labels.astype(np.int64))
