"""Real photos and textures that installed packages ship (scikit-image, matplotlib): no downloads.

The files are read straight from the packages' folders rather than through ``skimage.data``'s
fetchers, because those fall back to downloading (pooch) for files a wheel does not ship; here a
missing file is an error that says so, never a network call.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
from PIL import Image

# name -> (package holding the file, file name inside its data folder, what it shows)
PHOTO_SOURCES = {
    "chelsea": ("skimage", "chelsea.png", "a tabby cat's face (Stefan van der Walt, CC0)"),
    "coffee": ("skimage", "coffee.png", "a cup of espresso on a saucer (Rachel Michetti, CC0)"),
    "rocket": ("skimage", "rocket.jpg", "Falcon 9 with DSCOVR on its launch pad (SpaceX, public domain)"),
    "motorcycle": ("skimage", "motorcycle_left.png", "a motorbike, left view of a Middlebury stereo pair"),
    "astronaut": (
        "skimage",
        "astronaut.png",
        "astronaut Eileen Collins (NASA, public domain); ImageNet has no person class",
    ),
    "grace_hopper": ("matplotlib", "grace_hopper.jpg", "Grace Hopper in uniform (US Navy, public domain)"),
}
TEXTURE_SOURCES = {"grass": "grass.png", "gravel": "gravel.png", "brick": "brick.png"}  # scikit-image, grey


def _data_file(package: str, filename: str):
    folder = {"skimage": ("skimage", "data"), "matplotlib": ("matplotlib", "mpl-data/sample_data")}[package]
    try:
        root = resources.files(folder[0])
    except ModuleNotFoundError:
        extra = "scikit-image" if package == "skimage" else package
        raise ModuleNotFoundError(
            f"the demo photos need the package {extra} (pip install {extra}, or pip install 'gradcam-widget[demo]')"
        ) from None
    path = root.joinpath(*folder[1].split("/"), filename)
    if not path.is_file():
        raise FileNotFoundError(
            f"{filename} is not shipped by the installed {package} (looked in {path}); "
            f"this version may fetch it from the internet instead, which the demo never does"
        )
    return path


def _read_rgb(package: str, filename: str) -> np.ndarray:
    with resources.as_file(_data_file(package, filename)) as local, Image.open(local) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def photos(names=None) -> dict[str, np.ndarray]:
    """The demo photos by name, full size, as uint8 RGB arrays (H, W, 3) in 0..255.

    ``names`` picks some (default: all of ``PHOTO_SOURCES``, in that order). For an ImageNet model,
    pass them through ``imagenet_crop`` first, as the model was evaluated.
    """
    chosen = list(PHOTO_SOURCES) if names is None else [names] if isinstance(names, str) else list(names)
    unknown = [n for n in chosen if n not in PHOTO_SOURCES]
    if unknown:
        raise ValueError(f"unknown photo {unknown[0]!r}; the demo photos are {', '.join(PHOTO_SOURCES)}")
    return {name: _read_rgb(*PHOTO_SOURCES[name][:2]) for name in chosen}


def textures(names=None) -> dict[str, np.ndarray]:
    """scikit-image's grey textures (grass, gravel, brick; 512x512) as uint8 RGB arrays."""
    chosen = list(TEXTURE_SOURCES) if names is None else [names] if isinstance(names, str) else list(names)
    unknown = [n for n in chosen if n not in TEXTURE_SOURCES]
    if unknown:
        raise ValueError(f"unknown texture {unknown[0]!r}; the textures are {', '.join(TEXTURE_SOURCES)}")
    return {name: _read_rgb("skimage", TEXTURE_SOURCES[name]) for name in chosen}


def imagenet_crop(photo, size: int = 224, short_side: int = 256) -> np.ndarray:
    """The usual ImageNet evaluation view: short side resized to ``short_side`` (PIL bicubic), then
    the centre ``size`` x ``size`` cropped. uint8 RGB in, uint8 RGB out (values stay 0..255).

    Stretching the whole photo to 224x224 instead (what a model-sized resize does) changes the
    answer: scikit-image's ``chelsea`` then reads "Egyptian cat" (0.77) rather than "tiger cat" (0.39).
    """
    array = np.asarray(photo)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"imagenet_crop takes a uint8 RGB photo (H, W, 3), got {array.dtype} {array.shape}")
    if not 0 < size <= short_side:
        raise ValueError(f"the crop ({size}) must be positive and no larger than the short side ({short_side})")
    img = Image.fromarray(array)
    scale = short_side / min(img.size)
    width, height = (max(short_side, round(v * scale)) for v in img.size)
    img = img.resize((width, height), Image.BICUBIC)
    left, top = (width - size) // 2, (height - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8).copy()
