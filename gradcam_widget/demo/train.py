"""Train the shipped demo models: ``python -m gradcam_widget.demo.train --all [--check]``.

Seeded and deterministic (TensorFlow op determinism), CPU-only. The recipe choices are what made the
shortcut story hold on every seed we tried:

- a perfect confound for the biased model (at 95-99% the model learns the animals anyway);
- a third class, "nothing" (with two classes the debiased model learns "elephant = no penguin");
- a zero-initialised last layer (a random one adds the same blob to every class's map);
- no BatchNorm, Adam at 1e-3 decaying linearly to zero (2e-3 let a seed collapse into the two-class
  solution, and let another biased model pick up animal-on-ground contrast).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from .architectures import conv_gap_classifier
from .digits import _TEST_FILE, DIGIT_CLASSES, DIGITS_SIZE, digits_to_rgb
from .models import MODEL_NAMES
from .shortcut import SHORTCUT_CLASSES, make_shortcut_dataset

PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_SEED = 0
SHORTCUT_BIAS = {"shortcut-biased": 1.0, "shortcut-debiased": 1.0 / 3.0}  # 1/3: ground independent of class
SHORTCUT_TRAIN_SIZE = 3000


def _seed_everything(seed: int) -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _fit(model, x, y, *, epochs: int, batch_size: int, learning_rate: float, verbose: int):
    """Adam with a learning rate decaying linearly to zero over the whole run."""
    import keras

    steps = epochs * int(np.ceil(len(x) / batch_size))
    schedule = keras.optimizers.schedules.PolynomialDecay(learning_rate, steps, end_learning_rate=0.0)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=verbose)
    return model


def train_shortcut(name: str, seed: int = SHIPPED_SEED, *, verbose: int = 0):
    """``shortcut-biased`` (ground = class) or ``shortcut-debiased`` (ground independent of class).

    Both see the same scenes (same seed); only the grounds differ. 8x8 last feature map.
    """
    if name not in SHORTCUT_BIAS:
        raise ValueError(f"unknown shortcut model {name!r}; choose from {sorted(SHORTCUT_BIAS)}")
    _seed_everything(seed)
    data = make_shortcut_dataset(SHORTCUT_TRAIN_SIZE, seed=seed, background_bias=SHORTCUT_BIAS[name])
    model = conv_gap_classifier(64, (16, 32, 64, 128), len(SHORTCUT_CLASSES), name.replace("-", "_"))
    return _fit(model, data.images, data.labels, epochs=15, batch_size=32, learning_rate=1e-3, verbose=verbose)


def digits_split(seed: int = SHIPPED_SEED):
    """Stratified 70/30 split of scikit-learn's bundled 8x8 digits: (train, test) of (pixels, labels)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    xtr, xte, ytr, yte = train_test_split(
        digits.images.astype(np.uint8), digits.target, test_size=0.3, random_state=seed, stratify=digits.target
    )
    return (xtr, ytr), (xte, yte)


def shifted(images: np.ndarray, rng: np.random.Generator, max_shift: int) -> np.ndarray:
    """Each image moved by a random whole-pixel offset in [-max_shift, max_shift], black fill."""
    n, h, w, _ = images.shape
    padded = np.pad(images, ((0, 0), (max_shift,) * 2, (max_shift,) * 2, (0, 0)))
    offsets = rng.integers(0, 2 * max_shift + 1, size=(n, 2))
    return np.stack([padded[i, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offsets)])


def train_digits(seed: int = SHIPPED_SEED, *, verbose: int = 0, epochs: int = 60):
    """A small CNN on upsampled digits, 8x8 last map (one cell per original pixel).

    Each epoch sees the training digits with fresh +-3 px shifts; without them test accuracy stays
    near 95%.
    """
    _seed_everything(seed)
    (xtr, ytr), _ = digits_split(seed)
    base = digits_to_rgb(xtr, DIGITS_SIZE)
    x = np.concatenate([base] + [shifted(base, np.random.default_rng([seed, k]), 3) for k in range(epochs)])
    y = np.concatenate([ytr] * (epochs + 1))
    model = conv_gap_classifier(DIGITS_SIZE, (16, 32, 64, 128), len(DIGIT_CLASSES), "digits", pools=2)
    # one pass over the pre-shifted copies = `epochs` epochs with a decay over all of them
    return _fit(model, x, y, epochs=1, batch_size=32, learning_rate=2e-3, verbose=verbose)


def save_for_inference(model, path: Path) -> Path:
    """Save architecture and weights only.

    A model rebuilt from its config carries no optimizer state; ``clone_model`` would keep the
    compile state, and Adam's moments would triple the file.
    """
    import keras

    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    path.parent.mkdir(parents=True, exist_ok=True)
    clone.save(path)
    return path


def save_digits_test(path: Path, seed: int = SHIPPED_SEED) -> Path:
    """The held-out 8x8 digits as a tiny .npz (the package reads it without scikit-learn)."""
    _, (xte, yte) = digits_split(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, pixels=xte.astype(np.uint8), labels=yte.astype(np.uint8))
    return path


def train_named(name: str, seed: int = SHIPPED_SEED, *, verbose: int = 0):
    if name in SHORTCUT_BIAS:
        return train_shortcut(name, seed, verbose=verbose)
    if name == "digits":
        return train_digits(seed, verbose=verbose)
    raise ValueError(f"unknown demo model {name!r}; valid names: {', '.join(MODEL_NAMES)}")


def check(name: str, model, seed: int) -> str:
    """One line of numbers: the story on the swapped split, or the digits test accuracy."""
    if name == "digits":
        _, (xte, yte) = digits_split(seed)
        predicted = np.argmax(model.predict(digits_to_rgb(xte), verbose=0), axis=1)
        return f"test accuracy {np.mean(predicted == yte):.4f} ({int(np.sum(predicted != yte))} mistakes)"
    from .story import story_numbers, swapped_animals

    n = story_numbers(model, swapped_animals(200))
    return (
        f"swapped grounds: accuracy {n.accuracy:.3f}, box energy {n.box_energy:.3f}, "
        f"pointing {n.pointing:.3f} ({n.count} animals)"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"models to train ({', '.join(MODEL_NAMES)})")
    parser.add_argument("--all", action="store_true", help="train every shipped model")
    parser.add_argument("--seed", type=int, default=SHIPPED_SEED)
    parser.add_argument("--out", type=Path, default=PACKAGE_DIR / "models", help="folder for the .keras files")
    parser.add_argument("--check", action="store_true", help="print the story numbers / test accuracy")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    args = parser.parse_args(argv)
    names = list(MODEL_NAMES) if args.all else args.names
    if not names:
        parser.error("name a model or pass --all")
    for name in names:
        start = time.perf_counter()
        model = train_named(name, args.seed, verbose=min(args.verbose, 2))
        seconds = time.perf_counter() - start
        path = save_for_inference(model, args.out / f"{name}.keras")
        size_kib = path.stat().st_size / 1024
        print(f"{name}: trained in {seconds:.0f} s -> {path} ({size_kib:.0f} KiB)", flush=True)
        if name == "digits" and args.out.resolve() == (PACKAGE_DIR / "models").resolve():
            print(f"  digits test split -> {save_digits_test(PACKAGE_DIR / 'data' / _TEST_FILE, args.seed)}")
        if args.check:
            print(f"  {check(name, model, args.seed)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
