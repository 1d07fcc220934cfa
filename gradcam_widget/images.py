"""Turn whatever a user calls "an image" into the model's input and, separately, into a picture to show.

The one rule (shown = predicted):

- an array or tensor reaches the model exactly as ``model.predict`` would get it: cast to float32,
  resized only when its height x width differs from the model's fixed input size; never rescaled,
  never given other channels (a mismatch is an error saying how to convert it);
- a file, a PIL image or raw bytes is decoded as ``keras.utils.load_img`` + ``img_to_array`` would:
  RGB float32 0..255 (grayscale for a 1-channel model, RGBA for a 4-channel one);
- ``preprocess=`` (in the Explainer) is applied after that.

What is *shown* is derived from the same values and never feeds back into the model: floats in
[0, 1] x255, values in [0, 255] as they are, anything else (negative, preprocessed, 16-bit) min-max
scaled, with a note saying so. No TensorFlow import here: tensors are recognised by ``.numpy()``.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Longest side kept for display. Keeps memory bounded for huge photos without changing what a
#: person sees at notebook scale.
MAX_SIDE = 1024

PICTURE, FLOAT, INTEGER = "picture", "float", "integer"


@dataclass(frozen=True)
class ImageInput:
    """One image as given: its values (float32) and what kind of thing it came from.

    ``kind``: ``"picture"`` (decoded file / PIL image / bytes: RGB (H, W, 3) 0..255), ``"float"`` or
    ``"integer"`` (an array or tensor, values and shape (H, W) or (H, W, C) as given).
    ``alpha``: a decoded picture's transparency (H, W) 0..255, or None.
    """

    values: np.ndarray
    kind: str
    alpha: np.ndarray | None = None


def _describe(x) -> str:
    return f"{type(x).__module__}.{type(x).__qualname__}"


# ------------------------------------------------------------------------------------- decoding
def _from_path(path: Path) -> ImageInput:
    from PIL import Image, UnidentifiedImageError

    if not path.exists():
        raise FileNotFoundError(
            f"image file not found: {str(path)!r}. Check the path (relative paths are resolved from {os.getcwd()!r})."
        )
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory, not an image file. Pass the path of one image.")
    try:
        with Image.open(path) as im:
            return _from_pil(im)
    except UnidentifiedImageError:
        raise ValueError(
            f"{str(path)!r} is not an image file Pillow can read (PNG, JPEG, GIF, BMP, TIFF, "
            f"WebP...). Check that the file really is an image."
        ) from None
    except OSError as err:
        raise ValueError(
            f"could not read image {str(path)!r}: {err}. The file may be truncated or "
            f"corrupt; re-save or re-download it."
        ) from None


def _from_bytes(data: bytes) -> ImageInput:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(bytes(data))) as im:
            return _from_pil(im)
    except UnidentifiedImageError:
        raise ValueError(
            f"the {len(data)} raw bytes are not an image Pillow can read (PNG, JPEG, GIF, BMP, "
            f"TIFF, WebP...). Pass the bytes of an image file, a path, or an array."
        ) from None
    except OSError as err:
        raise ValueError(f"could not decode the image bytes: {err}. They may be truncated.") from None


def _from_pil(im) -> ImageInput:
    """As ``keras.utils.load_img`` (``convert("RGB")``) + ``img_to_array``: RGB float32 0..255.

    One deliberate difference: 16-bit images are scaled to 0..255 (Pillow's conversion would clip
    them to white).
    """
    if getattr(im, "is_animated", False):
        im.seek(0)  # first frame of an animated image
    w, h = im.size
    if w < 1 or h < 1:
        raise ValueError(f"the PIL image is empty ({w}x{h}).")
    alpha = None
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"))  # its RGB is convert("RGB"), without Pillow's palette warning
        rgb, alpha = rgba[..., :3], rgba[..., 3].astype(np.float32)
    elif im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        gray = np.asarray(im, dtype=np.float64)
        scale = 65535.0 if gray.max(initial=0) > 255 else 255.0
        rgb = np.repeat(np.clip(gray * (255.0 / scale), 0, 255)[..., None], 3, axis=-1)
    else:
        rgb = np.asarray(im.convert("RGB"))
    return ImageInput(np.ascontiguousarray(rgb, dtype=np.float32), PICTURE, alpha)


def _from_array(arr: np.ndarray) -> ImageInput:
    if arr.dtype == object or arr.dtype.kind in "USVcmM":
        raise TypeError(
            f"an image array must hold numbers, got dtype {arr.dtype}. Convert it with "
            f"np.asarray(img, dtype=np.float32) (or uint8)."
        )
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"an image array must be HxW or HxWxC, got {arr.ndim} dimensions (shape "
            f"{arr.shape}). For several images pass a list, or an NxHxWxC batch to the batch "
            f"functions."
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1 or (arr.ndim == 3 and arr.shape[2] < 1):
        raise ValueError(f"the image is empty (shape {arr.shape}).")
    kind = INTEGER if arr.dtype.kind in "iu" else FLOAT
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below, in words
        values = np.ascontiguousarray(arr, dtype=np.float32)  # what model.predict does to it
    if kind == FLOAT and not np.all(np.isfinite(values)):  # integers are always finite in float32
        big = " (or values too large for float32)" if kind == FLOAT and np.all(np.isfinite(arr)) else ""
        raise ValueError(
            f"the image contains NaN or infinite values{big}. Replace them (e.g. np.nan_to_num) "
            f"before explaining the image."
        )
    return ImageInput(values, kind)


def load(image) -> ImageInput:
    """Read one image (path, PIL image, raw bytes, numpy array, tensor); see the module docstring."""
    if isinstance(image, ImageInput):
        return image
    if image is None:
        raise TypeError("image is None. Pass a file path, a PIL image or a numpy array.")
    if isinstance(image, (str, os.PathLike)):
        return _from_path(Path(image))
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _from_bytes(image)
    if hasattr(image, "convert") and hasattr(image, "mode") and hasattr(image, "size"):
        try:
            return _from_pil(image)
        except OSError as err:
            raise ValueError(f"could not decode the PIL image: {err}. It may be truncated.") from None
    if hasattr(image, "numpy") and callable(image.numpy):
        image = image.numpy()
    if isinstance(image, (list, tuple)):
        raise TypeError(
            "got a list where one image was expected. Pass one image, or use a function that takes a batch."
        )
    if isinstance(image, np.ndarray) or hasattr(image, "__array__"):
        return _from_array(np.asarray(image))
    raise TypeError(
        f"cannot read an image from {_describe(image)}. Pass a file path, a PIL image, a numpy "
        f"array (HxWxC) or a tensor."
    )


def load_batch(images, image_rank: int | None = None) -> list[ImageInput]:
    """Images from one image, a list of images, or a batch array/tensor.

    ``image_rank``: dimensions of one image as the model takes it (3 for (H, W, C), 2 for (H, W)); an
    array with one more dimension is a batch. Unknown (None): a 4-D array is a batch.
    """
    if isinstance(images, (list, tuple)):
        if len(images) == 0:
            raise ValueError("the list of images is empty. Pass at least one image.")
        return [load(im) for im in images]
    if hasattr(images, "numpy") and callable(images.numpy) and not hasattr(images, "mode"):
        images = images.numpy()
    batch_ndim = 4 if image_rank is None else image_rank + 1
    if image_rank == 2 and isinstance(images, np.ndarray) and images.ndim == 3 and images.shape[-1] in (1, 3, 4):
        return [load(images)]  # one H x W x C image (then refused or squeezed), not H images of W x C
    if isinstance(images, np.ndarray) and images.ndim == batch_ndim and images.ndim >= 3:
        if images.shape[0] == 0:
            raise ValueError("the batch of images is empty (first dimension 0).")
        return [load(im) for im in images]
    if isinstance(images, np.ndarray) and images.ndim > 4:
        raise ValueError(f"an image batch must be NxHxWxC, got {images.ndim} dimensions (shape {images.shape}).")
    return [load(images)]


# ---------------------------------------------------------------------------------- model input
def _luma(rgb: np.ndarray) -> np.ndarray:
    """Pillow's RGB -> "L" (ITU-R 601-2, integer arithmetic), as ``load_img(color_mode="grayscale")``."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    return np.floor((r * 19595 + g * 38470 + b * 7471 + 0x8000) / 65536.0).astype(np.float32)


def _picture_channels(image: ImageInput, rank: int, channels) -> np.ndarray:
    rgb = image.values
    if rank == 2 or channels == 1:
        gray = _luma(rgb)
        return gray if rank == 2 else gray[..., None]
    if channels in (3, None):
        return rgb
    if channels == 4:
        alpha = image.alpha if image.alpha is not None else np.full(rgb.shape[:2], 255.0, np.float32)
        return np.concatenate([rgb, alpha[..., None]], axis=-1)
    raise ValueError(
        f"the model takes {_channels(channels)}, but a picture (file, PIL image, bytes) "
        f"decodes to RGB. Pass the image as an array with {_channels(channels)}."
    )


def _array_channels(values: np.ndarray, rank: int, channels) -> np.ndarray:
    shape = values.shape
    if rank == 2:  # the model takes (H, W): grayscale without a channel axis
        if values.ndim == 3 and shape[2] == 1:
            return values[..., 0]
        if values.ndim == 2:
            return values
        raise ValueError(
            f"the model takes 2-D grayscale images (height, width) but the array has shape "
            f"{shape}. gradcam-widget gives the model the array as you pass it (as model.predict "
            f"would); convert it first, e.g. img.mean(axis=-1) or img[..., 0]."
        )
    if values.ndim == 2:
        if channels in (1, None):
            return values[..., None]
        raise ValueError(
            f"the model takes {_channels(channels)} but the image is a 2-D grayscale array "
            f"(shape {shape}). gradcam-widget gives the model the array as you pass it (as "
            f"model.predict would), so it does not invent channels: give it {channels}, e.g. "
            f"np.repeat(img[..., None], {channels}, axis=-1)."
        )
    if channels is None or shape[2] == channels:
        return values
    if shape[0] == channels and shape[2] != channels:
        raise ValueError(
            f"the image array has shape {shape}: it looks channels-first. Transpose it to "
            f"height x width x channels, e.g. np.transpose(img, (1, 2, 0))."
        )
    hint = {
        (4, 3): "img[..., :3] (RGBA -> RGB)",
        (1, 3): "np.repeat(img, 3, axis=-1) (gray -> RGB)",
        (3, 1): "img.mean(axis=-1, keepdims=True) (RGB -> gray)",
    }.get((shape[2], channels), f"an array with {_channels(channels)}")
    if channels == 1:
        hint += " (for a batch of 2-D grayscale images, add the channel axis: images[..., None])"
    raise ValueError(
        f"the model takes {_channels(channels)} but the array has {shape[2]} (shape {shape}). "
        f"gradcam-widget gives the model the array as you pass it (as model.predict would), so "
        f"it does not convert channels; pass {hint}."
    )


def _channels(n: int) -> str:
    return "1 channel" if n == 1 else f"{n} channels"


def to_model(image: ImageInput, input_shape) -> np.ndarray:
    """The image as the model gets it (before ``preprocess=``): float32, shaped as one model input.

    ``input_shape``: the model's input shape without the batch axis, (H, W, C) or (H, W), None where
    it accepts any size. Resized (area when shrinking, bilinear when enlarging) only when the model has
    a fixed size that differs from the image's.
    """
    shape = tuple(input_shape)
    if len(shape) not in (2, 3):
        raise ValueError(
            f"the model's input has shape {(None,) + shape}; an image classifier takes "
            f"(batch, height, width, channels) or (batch, height, width)."
        )
    channels = shape[2] if len(shape) == 3 else None
    channels = None if channels is None else int(channels)
    if image.kind == PICTURE:
        x = _picture_channels(image, len(shape), channels)
    else:
        x = _array_channels(image.values, len(shape), channels)
    return resize(x, shape[:2])


def resize(values: np.ndarray, size) -> np.ndarray:
    """``values`` (H, W[, C]) at ``size`` = (h, w); unchanged when equal or when a side is None."""
    h, w = size
    ih, iw = values.shape[:2]
    if h is None or w is None or (ih, iw) == (int(h), int(w)):
        return np.ascontiguousarray(values, dtype=np.float32)
    import cv2

    h, w = int(h), int(w)
    shrink = ih > h or iw > w
    out = cv2.resize(
        np.ascontiguousarray(values, dtype=np.float32),
        (w, h),
        interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
    )
    return np.asarray(out, dtype=np.float32).reshape((h, w) + values.shape[2:])


# -------------------------------------------------------------------------------------- display
def display_range(values: np.ndarray, kind: str = FLOAT) -> tuple[float, float]:
    """The values shown as black and as white: (0, 1) for floats in [0, 1], (0, 255) for values in
    [0, 255], else (min, max): min-max scaling."""
    lo, hi = float(np.min(values)), float(np.max(values))
    if kind == FLOAT and lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0
    if lo >= 0.0 and hi <= 255.0:
        return 0.0, 255.0
    return lo, hi


def black_level(values: np.ndarray) -> float:
    """The value a black pixel has in these units (as the display shows it): 0 for images in [0, 1]
    or [0, 255], the image's minimum for other ranges (e.g. preprocessed values)."""
    return display_range(np.asarray(values))[0]


def display(image, hint: bool = True) -> tuple[np.ndarray, str]:
    """(uint8 H x W x 3 RGB to show, a note saying how it was derived, or "").

    Never what the model gets: pictures are shown as decoded, arrays by the range rule of
    :func:`display_range` (the note says when values were min-max scaled, or channels left out;
    ``hint``: and that ``display_image=`` can show the original).
    """
    image = load(image)
    values, notes = image.values, []
    if values.ndim == 2:
        values = values[..., None]
    c = values.shape[2]
    if c == 2:
        notes.append("Shown: channel 1 of 2, as gray.")
    elif c > 4:
        notes.append(f"Shown: channels 1-3 of {c}, as RGB.")
    values = values[..., :1] if c < 3 else values[..., :3]
    if image.kind == PICTURE:
        lo, hi = 0.0, 255.0
    else:
        lo, hi = display_range(values, image.kind)
        if (lo, hi) not in ((0.0, 1.0), (0.0, 255.0)):
            notes.insert(
                0,
                f"Shown min-max scaled (values {lo:.4g} to {hi:.4g}); the model gets them "
                f"unchanged." + (" Pass display_image= to show the original picture." if hint else ""),
            )
    small = cap_size(np.ascontiguousarray(values))  # before scaling: the arithmetic is on the small copy
    if small.ndim == 2:  # cv2 drops a single channel axis
        small = small[..., None]
    scaled = (small - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(small)
    if scaled.shape[2] == 1:
        scaled = np.repeat(scaled, 3, axis=-1)
    return to_uint8(scaled), " ".join(notes)


def display_for_model(image: ImageInput, input_shape, hint: bool = True) -> tuple[np.ndarray, str]:
    """:func:`display` of what a model with ``input_shape`` gets: a picture shown to a grayscale model
    is shown in gray (its "L" conversion), so the screen matches the model's input."""
    shape = tuple(input_shape)
    if image.kind == PICTURE and (len(shape) == 2 or shape[-1] == 1):
        image = ImageInput(np.repeat(_luma(image.values)[..., None], 3, axis=-1), PICTURE)
    return display(image, hint)


def load_image(image) -> np.ndarray:
    """One image as the widget shows it: uint8 ``H x W x 3`` RGB (longest side capped at 1024)."""
    return display(image)[0]


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def cap_size(image: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """Shrink an image so its longest side is at most ``max_side`` (aspect kept)."""
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    import cv2

    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
