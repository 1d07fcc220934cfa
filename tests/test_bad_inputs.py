"""The catalogue of bad inputs (issue 8): each gets a correct result or a clear error.

An error is a ValueError / TypeError / FileNotFoundError whose message names the problem and the fix,
never a raw TensorFlow trace and never a NaN map. Every case goes through the user's entry points
(``compute_cam`` and ``show_gradcam``). ``python -m pytest tests/test_bad_inputs.py -v`` lists them.
"""

from __future__ import annotations

import numpy as np
import pytest
import keras
from PIL import Image

from gradcam_widget import Explainer, compute_cam, show_gradcam
from engine_models import gap_classifier, random_image

NUM_CLASSES = 5


@pytest.fixture(scope="module")
def model():
    return gap_classifier(num_classes=NUM_CLASSES)


@pytest.fixture(scope="module")
def explainer(model):
    return Explainer(model)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    (folder / "text.png").write_text("hello, I am text")
    Image.fromarray(random_image(size=64)).save(folder / "truncated.jpg", format="JPEG")
    data = (folder / "truncated.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[:200])
    frames = [Image.fromarray(random_image(size=40, seed=s)) for s in range(3)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    Image.fromarray(random_image(size=40)).save(folder / "ok.png")
    return folder


def _assert_clear(excinfo):
    text = str(excinfo.value)
    assert "tensorflow" not in text.lower() and "Traceback" not in text and "graph disconnected" not in text.lower()
    assert len(text) > 30, text


# ---------------------------------------------------------------- images: (label, factory, outcome)
# outcome: "ok", or (exception type, regex the message must match)
IMAGES = [
    ("None", lambda f: None, (TypeError, "None")),
    ("missing path", lambda f: f / "nope.png", (FileNotFoundError, "not found")),
    ("directory", lambda f: f, (ValueError, "directory")),
    ("text file named .png", lambda f: f / "text.png", (ValueError, "not an image")),
    ("truncated JPEG", lambda f: f / "truncated.jpg", (ValueError, "truncated|corrupt")),
    ("0x0 array", lambda f: np.zeros((0, 0, 3), np.uint8), (ValueError, "empty")),
    ("raw bytes that are not an image", lambda f: b"\x89PNG....", (ValueError, "bytes are not an image")),
    ("2 channels for an RGB model", lambda f: np.zeros((8, 8, 2), np.uint8), (ValueError, "takes 3 channels.*has 2")),
    ("NaN floats", lambda f: np.full((16, 16, 3), np.nan, np.float32), (ValueError, "NaN")),
    ("Inf floats", lambda f: np.full((16, 16, 3), np.inf, np.float32), (ValueError, "infinite")),
    ("float64 beyond float32", lambda f: np.full((16, 16, 3), 1e300), (ValueError, "too large for float32")),
    ("complex array", lambda f: np.zeros((8, 8, 3), np.complex64), (TypeError, "numbers")),
    ("object array", lambda f: np.empty((8, 8, 3), object), (TypeError, "numbers")),
    ("string array", lambda f: np.array([["a", "b"]]), (TypeError, "numbers")),
    ("5-D array", lambda f: np.zeros((1, 1, 8, 8, 3), np.uint8), (ValueError, "dimensions")),
    ("channels-first array", lambda f: np.zeros((3, 32, 32), np.uint8), (ValueError, "channels-first")),
    # Arrays reach the model as model.predict gets them: channels are never converted (issue 13).
    (
        "2-D gray array for an RGB model",
        lambda f: random_image(size=40)[..., 0],
        (ValueError, "takes 3 channels.*2-D grayscale.*np.repeat"),
    ),
    (
        "HxWx1 gray array for an RGB model",
        lambda f: random_image(size=40)[..., :1],
        (ValueError, "takes 3 channels.*has 1.*np.repeat"),
    ),
    (
        "RGBA array for an RGB model",
        lambda f: np.dstack([random_image(size=40), np.full((40, 40), 128, np.uint8)]),
        (ValueError, "takes 3 channels.*has 4.*RGBA -> RGB"),
    ),
    ("1x1 image", lambda f: np.zeros((1, 1, 3), np.uint8), "ok"),
    ("negative floats (already preprocessed)", lambda f: np.full((16, 16, 3), -1.0, np.float32), "ok"),
    (
        "RGBA PIL image (alpha dropped, as load_img)",
        lambda f: Image.fromarray(np.dstack([random_image(size=40), np.full((40, 40), 128, np.uint8)])),
        "ok",
    ),
    ("gray PIL image", lambda f: Image.fromarray(random_image(size=40)[..., 0]), "ok"),
    ("PNG bytes", lambda f: (f / "ok.png").read_bytes(), "ok"),
    ("16-bit", lambda f: random_image(size=40).astype(np.uint16) * 257, "ok"),
    ("float in [0, 1]", lambda f: random_image(size=40).astype(np.float32) / 255, "ok"),
    ("CMYK PIL image", lambda f: Image.fromarray(random_image(size=40)).convert("CMYK"), "ok"),
    ("palette PIL image", lambda f: Image.fromarray(random_image(size=40)).convert("P"), "ok"),
    ("animated GIF (first frame)", lambda f: f / "animated.gif", "ok"),
    ("huge 6000x8000 photo", lambda f: np.full((6000, 8000, 3), 90, np.uint8), "ok"),
    ("tensor", lambda f: __import__("tensorflow").constant(random_image(size=40)), "ok"),
]


@pytest.mark.parametrize("label, factory, outcome", IMAGES, ids=[c[0] for c in IMAGES])
def test_image(label, factory, outcome, model, explainer, files):
    image = factory(files)
    if outcome == "ok":
        maps = compute_cam(explainer, image, 1)
        assert maps.shape == (1, 28, 28) and np.all(np.isfinite(maps))
        widget = show_gradcam(explainer, image, top_k=2)
        assert widget.status["state"] == "ready" and np.all(np.isfinite(widget.heatmap))
        assert max(widget.image_size) <= 1024
        widget.close()
        return
    error, pattern = outcome
    for call in (lambda: compute_cam(model, image, 0), lambda: show_gradcam(explainer, image)):
        with pytest.raises(error, match=pattern) as excinfo:
            call()
        _assert_clear(excinfo)


def test_list_of_differently_sized_images_is_resized(model):
    images = [random_image(shape=(20, 30, 3)), random_image(shape=(64, 48, 3)), random_image(size=32)]
    assert compute_cam(model, images).shape == (3, 28, 28)


# ---------------------------------------------------------------- models
def _no_conv():
    return keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(3)])


def _one_by_one():
    return keras.Sequential(
        [keras.Input((4, 4, 3)), keras.layers.Conv2D(4, 4), keras.layers.Flatten(), keras.layers.Dense(3)]
    )


def _segmentation():
    return keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(2, 3, padding="same")])


def _two_inputs():
    a, b = keras.Input((32, 32, 3)), keras.Input((32, 32, 3))
    x = keras.layers.Concatenate()([keras.layers.Conv2D(2, 3)(a), keras.layers.Conv2D(2, 3)(b)])
    return keras.Model([a, b], keras.layers.Dense(2)(keras.layers.Flatten()(x)))


def _two_outputs():
    a = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(a))
    return keras.Model(a, [keras.layers.Dense(2)(x), keras.layers.Dense(3)(x)])


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.conv = keras.layers.Conv2D(4, 3)
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.dense = keras.layers.Dense(3)

    def call(self, x):
        return self.dense(self.pool(self.conv(x)))


MODELS = [
    ("a string", lambda: "model.keras", (TypeError, "load_model")),
    ("a plain function", lambda: lambda x: x, (TypeError, "function")),
    ("None", lambda: None, (TypeError, "keras.Model")),
    ("no conv layer", _no_conv, (ValueError, "no convolutional layer")),
    ("1x1 spatial output only", _one_by_one, (ValueError, "no convolutional layer")),
    ("segmentation output", _segmentation, (ValueError, "does not look like an image classifier")),
    ("two inputs", _two_inputs, (ValueError, "2 inputs")),
    ("two outputs", _two_outputs, (ValueError, "2 outputs")),
    ("subclassed model", _Subclassed, (ValueError, "subclassed")),
]


@pytest.mark.parametrize("label, factory, outcome", MODELS, ids=[c[0] for c in MODELS])
def test_model(label, factory, outcome):
    model = factory()
    error, pattern = outcome
    image = random_image(size=32)
    for call in (lambda: compute_cam(model, image), lambda: show_gradcam(model, image)):
        with pytest.raises(error, match=pattern) as excinfo:
            call()
        _assert_clear(excinfo)


# ---------------------------------------------------------------- arguments
ARGUMENTS = [
    ("class index out of range", lambda m, e, i: compute_cam(e, i, NUM_CLASSES), (ValueError, "out of range")),
    ("negative class index", lambda m, e, i: compute_cam(e, i, -1), (ValueError, "out of range")),
    ("float class index", lambda m, e, i: compute_cam(e, i, 1.0), (TypeError, "int")),
    ("class name without class names", lambda m, e, i: compute_cam(e, i, "cat"), (TypeError, "names")),
    ("wrong-length class list", lambda m, e, i: compute_cam(e, [i, i], [0]), (ValueError, "one class per image")),
    ("empty list of images", lambda m, e, i: compute_cam(e, [], 0), (ValueError, "empty")),
    ("unknown method", lambda m, e, i: compute_cam(e, i, method="magic"), (ValueError, "gradcam, gradcam\\+\\+")),
    ("method not a string", lambda m, e, i: compute_cam(e, i, method=3), (TypeError, "method name")),
    (
        "unknown layer",
        lambda m, e, i: compute_cam(m, i, layer="nope"),
        (ValueError, "no layer named 'nope'.*conv_last"),
    ),
    ("unusable layer", lambda m, e, i: compute_cam(m, i, layer="gap"), (ValueError, "cannot be used")),
    ("unknown colormap", lambda m, e, i: show_gradcam(e, i, colormap="rainbow"), (ValueError, "unknown colormap")),
    ("top_k 0", lambda m, e, i: show_gradcam(e, i, top_k=0), (ValueError, "top_k")),
    ("top_k above the class count", lambda m, e, i: show_gradcam(e, i, top_k=6), (ValueError, "top_k")),
    ("opacity above 1", lambda m, e, i: show_gradcam(e, i, opacity=1.5), (ValueError, "opacity")),
    ("opacity below 0", lambda m, e, i: show_gradcam(e, i, opacity=-0.1), (ValueError, "opacity")),
    (
        "class_names of the wrong length",
        lambda m, e, i: show_gradcam(e, i, class_names=["a"]),
        (ValueError, "1 names but the model has 5 classes"),
    ),
    ("preprocess not callable", lambda m, e, i: compute_cam(m, i, preprocess="vgg16"), (TypeError, "preprocess")),
    (
        "preprocess that raises",
        lambda m, e, i: compute_cam(m, i, preprocess=lambda x: 1 / 0),
        (ValueError, "ZeroDivisionError"),
    ),
    (
        "preprocess returning the wrong shape",
        lambda m, e, i: compute_cam(m, i, preprocess=lambda x: x[:, :10]),
        (ValueError, "returned shape"),
    ),
    (
        "preprocess returning NaN",
        lambda m, e, i: compute_cam(m, i, preprocess=lambda x: x * np.nan),
        (ValueError, "NaN"),
    ),
    ("a list where the widget expects one image", lambda m, e, i: show_gradcam(e, [i, i]), (TypeError, "list")),
    ("contrast equal to the class", lambda m, e, i: compute_cam(e, i, 1, contrast=1), (ValueError, "same class")),
]


@pytest.mark.parametrize("label, call, outcome", ARGUMENTS, ids=[c[0] for c in ARGUMENTS])
def test_argument(label, call, outcome, model, explainer):
    error, pattern = outcome
    with pytest.raises(error, match=pattern) as excinfo:
        call(model, explainer, random_image(size=32))
    _assert_clear(excinfo)


def test_catalogue_has_at_least_40_cases():
    assert len(IMAGES) + len(MODELS) + len(ARGUMENTS) >= 40


# ---------------------------------------------------------------- in the widget
@pytest.mark.parametrize(
    "trait, value, pattern",
    [
        ("layer", "no_such_layer", "no layer named 'no_such_layer'"),
        ("layer", "gap", "cannot be used"),
        ("method", "magic", "unknown method 'magic'"),
    ],
)
def test_widget_shows_the_error_in_place_of_the_map_and_recovers(explainer, trait, value, pattern):
    widget = show_gradcam(explainer, random_image(size=32), top_k=2)
    good = getattr(widget, trait)
    setattr(widget, trait, value)
    assert widget.status["state"] == "error"
    assert __import__("re").search(pattern, widget.status["message"]), widget.status["message"]
    setattr(widget, trait, good)
    assert widget.status["state"] == "ready"
    outside = next(c for c in range(NUM_CLASSES) if c not in widget._top_indices)
    widget.selected_class = outside
    assert widget.status["state"] == "ready" and widget.extra_map["class_index"] == outside
    widget.close()
