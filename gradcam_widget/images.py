"""Turn whatever a user calls "an image" into one well-defined array.

Every entry point (engine, widget, metrics) goes through :func:`load_image`, so the rules for paths,
PIL images, arrays and tensors live in one place and every bad input gets the same clear message.
No TensorFlow import here: tensors are recognised by duck typing (``.numpy()``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: Longest side kept for display and for models that accept any input size. Keeps memory bounded
#: for huge photos without changing what a person sees at notebook scale.
MAX_SIDE = 1024


def _describe(x) -> str:
    return f"{type(x).__module__}.{type(x).__qualname__}"


def _from_path(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if not path.exists():
        raise FileNotFoundError(f"image file not found: {str(path)!r}. Check the path (relative paths are "
                                f"resolved from {os.getcwd()!r}).")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory, not an image file. Pass the path of one image.")
    try:
        with Image.open(path) as im:
            im.seek(0)  # first frame of an animated image
            return _from_pil(im)
    except UnidentifiedImageError:
        raise ValueError(f"{str(path)!r} is not an image file Pillow can read (PNG, JPEG, GIF, BMP, TIFF, "
                         f"WebP...). Check that the file really is an image.") from None
    except OSError as err:
        raise ValueError(f"could not read image {str(path)!r}: {err}. The file may be truncated or "
                         f"corrupt; re-save or re-download it.") from None


def _from_pil(im) -> np.ndarray:
    if getattr(im, "is_animated", False):
        im.seek(0)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        return _from_array(np.asarray(im).astype(np.int64))
    if im.mode == "F":
        return _from_array(np.asarray(im, dtype=np.float32))
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        return _from_array(np.asarray(im))
    return np.asarray(im.convert("RGB"), dtype=np.float32)


def _float_to_pixels(arr: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(arr)):
        raise ValueError("the image contains NaN or infinite values. Replace them (e.g. np.nan_to_num) "
                         "before explaining the image.")
    lo, hi = float(arr.min(initial=0.0)), float(arr.max(initial=0.0))
    if lo >= 0.0 and hi <= 1.0:
        arr = arr * 255.0  # float images in [0, 1]
    elif lo < 0.0:
        raise ValueError(f"the float image has negative values (min {lo:.3g}): it looks already "
                         f"preprocessed. Pass the original image (uint8, or float in [0, 1] or [0, 255]) "
                         f"and give the model's input function as preprocess=.")
    return np.clip(arr, 0, 255).astype(np.float32)


def _from_array(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == object or arr.dtype.kind in "USVc":
        raise TypeError(f"an image array must hold numbers, got dtype {arr.dtype}. Convert it with "
                        f"np.asarray(img, dtype=np.uint8) (or float32 in [0, 1]).")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 3 and arr.shape[-1] not in (1, 2, 3, 4) and arr.shape[0] in (1, 3, 4):
        raise ValueError(f"the image array has shape {arr.shape}: it looks channels-first. Transpose it to "
                         f"height x width x channels, e.g. np.transpose(img, (1, 2, 0)).")
    if arr.ndim not in (2, 3):
        raise ValueError(f"an image array must be HxW or HxWxC, got {arr.ndim} dimensions (shape "
                         f"{arr.shape}). For several images pass a list, or an NxHxWxC batch to the batch "
                         f"functions.")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"the image is empty (shape {arr.shape}).")
    if arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4):
        raise ValueError(f"an image must have 1, 3 or 4 channels, got {arr.shape[-1]} (shape {arr.shape}). "
                         f"Select the channels to show, e.g. img[..., :3].")
    if arr.dtype == np.uint8:
        px = arr.astype(np.float32)
    elif arr.dtype.kind in "iu":
        hi = int(arr.max(initial=0))
        lo = int(arr.min(initial=0))
        if lo < 0:
            raise ValueError(f"the integer image has negative values (min {lo}). Pass pixel values "
                             f"in 0..255 (or 0..65535 for 16-bit images).")
        scale = 65535.0 if hi > 255 else 255.0
        px = (arr.astype(np.float64) * (255.0 / scale)).astype(np.float32)
    else:
        px = _float_to_pixels(arr.astype(np.float64))
    if px.ndim == 2:
        px = px[:, :, None]
    if px.shape[-1] == 1:
        px = np.repeat(px, 3, axis=-1)
    elif px.shape[-1] == 4:
        # Composite transparency over white, as a viewer shows it.
        alpha = px[..., 3:4] / 255.0
        px = px[..., :3] * alpha + 255.0 * (1.0 - alpha)
    return np.ascontiguousarray(px, dtype=np.float32)


def load_image(image) -> np.ndarray:
    """Return one image as a uint8 ``H x W x 3`` RGB array (original size), for display."""
    return to_uint8(load_pixels(image))


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def load_pixels(image) -> np.ndarray:
    """Return one image as float32 ``H x W x 3`` RGB values in 0..255, unquantised (model input).

    Accepts a path (str or ``pathlib.Path``), a ``PIL.Image``, a numpy array (HxW, HxWx1/3/4, uint8,
    16-bit or float; float in [0, 1] is scaled to 0..255), or a tensor with ``.numpy()``.
    """
    if image is None:
        raise TypeError("image is None. Pass a file path, a PIL image or a numpy array.")
    if isinstance(image, (str, os.PathLike)):
        return _from_path(Path(image))
    if isinstance(image, (bytes, bytearray)):
        raise TypeError("got raw bytes. Pass a file path or a PIL image (PIL.Image.open(io.BytesIO(data))).")
    if hasattr(image, "convert") and hasattr(image, "mode") and hasattr(image, "size"):
        w, h = image.size
        if w < 1 or h < 1:
            raise ValueError(f"the PIL image is empty ({w}x{h}).")
        try:
            return _from_pil(image)
        except OSError as err:
            raise ValueError(f"could not decode the PIL image: {err}. It may be truncated.") from None
    if hasattr(image, "numpy") and callable(image.numpy):
        image = image.numpy()
    if isinstance(image, (list, tuple)):
        raise TypeError("got a list where one image was expected. Pass one image, or use a function that "
                        "takes a batch.")
    if isinstance(image, np.ndarray) or hasattr(image, "__array__"):
        return _from_array(np.asarray(image))
    raise TypeError(f"cannot read an image from {_describe(image)}. Pass a file path, a PIL image, a numpy "
                    f"array (HxWxC) or a tensor.")


def load_pixels_batch(images) -> list[np.ndarray]:
    """Return a list of float32 RGB images from one image, a list of images, or an NxHxWxC batch."""
    if isinstance(images, (list, tuple)):
        if len(images) == 0:
            raise ValueError("the list of images is empty. Pass at least one image.")
        return [load_pixels(im) for im in images]
    if hasattr(images, "numpy") and callable(images.numpy) and not hasattr(images, "mode"):
        images = images.numpy()
    if isinstance(images, np.ndarray) and images.ndim == 4:
        if images.shape[0] == 0:
            raise ValueError("the batch of images is empty (first dimension 0).")
        return [load_pixels(im) for im in images]
    if isinstance(images, np.ndarray) and images.ndim > 4:
        raise ValueError(f"an image batch must be NxHxWxC, got {images.ndim} dimensions (shape "
                         f"{images.shape}).")
    return [load_pixels(images)]


def cap_size(image: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """Shrink an image so its longest side is at most ``max_side`` (aspect kept)."""
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    import cv2

    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def resize_for_model(image: np.ndarray, size: tuple[int, int] | None, channels: int) -> np.ndarray:
    """Resize a float32 RGB image (0..255) to the model's (H, W) (None: keep its size) and channel count."""
    import cv2

    if size is None:  # an any-size model: the image at its own size, as model.predict would get it
        out = image
    else:
        h, w = size
        ih, iw = image.shape[:2]
        if (ih, iw) == (h, w):
            out = image
        else:
            shrink = ih > h or iw > w
            out = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    out = np.asarray(out, dtype=np.float32)
    if channels == 3:
        return out
    if channels == 1:
        gray = out @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return gray[:, :, None]
    if channels == 4:
        return np.concatenate([out, np.full(out.shape[:2] + (1,), 255.0, np.float32)], axis=-1)
    raise ValueError(f"the model expects {channels} input channels; gradcam-widget handles images for "
                     f"models with 1, 3 or 4 channels.")
