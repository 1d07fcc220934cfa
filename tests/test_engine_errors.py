"""Bad input gets a clear error naming the problem and the fix, never a TensorFlow trace; the model is
never modified."""

from __future__ import annotations

import numpy as np
import pytest
import keras
from PIL import Image

from gradcam_widget import Explainer, compute_cam
from engine_models import assert_unchanged, gap_classifier, model_fingerprint, nested_backbone, random_image


@pytest.fixture(scope="module")
def model():
    return gap_classifier()


@pytest.fixture(scope="module")
def explainer(model):
    return Explainer(model)


def _no_tensorflow_trace(excinfo):
    text = str(excinfo.value)
    assert "tensorflow" not in text.lower() and "Traceback" not in text
    assert len(text) > 30  # a sentence, not a bare value


def _bad_images(tmp_path):
    text_png = tmp_path / "not_really.png"
    text_png.write_text("hello, I am text")
    truncated = tmp_path / "truncated.jpg"
    Image.fromarray(random_image(size=64)).save(truncated, format="JPEG")
    truncated.write_bytes(truncated.read_bytes()[:200])
    nan_image = np.full((32, 32, 3), np.nan, np.float32)
    return [
        ("None", None, TypeError, "None"),
        ("missing path", tmp_path / "nope.png", FileNotFoundError, "not found"),
        ("directory", tmp_path, ValueError, "directory"),
        ("text named .png", text_png, ValueError, "not an image"),
        ("truncated jpeg", truncated, ValueError, "truncated|corrupt"),
        ("empty array", np.zeros((0, 0, 3), np.uint8), ValueError, "empty"),
        ("two channels", np.zeros((8, 8, 2), np.uint8), ValueError, "channels"),
        ("NaN floats", nan_image, ValueError, "NaN"),
        ("complex", np.zeros((8, 8, 3), np.complex64), TypeError, "numbers"),
        ("object", np.empty((8, 8, 3), object), TypeError, "numbers"),
        ("strings", np.array([["a"]]), TypeError, "numbers"),
        ("5-D", np.zeros((1, 1, 8, 8, 3), np.uint8), ValueError, "dimensions"),
        ("bytes", b"\x89PNG", TypeError, "bytes"),
        ("negative floats", np.full((8, 8, 3), -1.0, np.float32), ValueError, "preprocess"),
        ("channels first", np.zeros((3, 32, 32), np.uint8), ValueError, "channels-first"),
    ]


def test_bad_images_raise_clear_errors(explainer, tmp_path):
    for label, image, error, pattern in _bad_images(tmp_path):
        with pytest.raises(error, match=pattern) as excinfo:
            explainer.cam(image, 0)
        _no_tensorflow_trace(excinfo)


def test_unusual_but_valid_images_work(explainer):
    gray = random_image(size=40)[..., 0]
    gray1 = gray[..., None]
    rgba = np.dstack([random_image(size=40), np.full((40, 40), 128, np.uint8)])
    sixteen = (random_image(size=40).astype(np.uint16) * 257)
    floats01 = random_image(size=40).astype(np.float32) / 255.0
    pil_palette = Image.fromarray(random_image(size=40)).convert("P")
    pil_cmyk = Image.fromarray(random_image(size=40)).convert("CMYK")
    one_pixel = np.zeros((1, 1, 3), np.uint8)
    for image in (gray, gray1, rgba, sixteen, floats01, pil_palette, pil_cmyk, one_pixel):
        cam = explainer.cam(image, 0)
        assert cam.raw.shape == (28, 28) and np.all(np.isfinite(cam.normalized))
    # float in [0, 1] and uint8 give the same map
    np.testing.assert_allclose(explainer.cam(floats01, 1).normalized,
                               explainer.cam(random_image(size=40), 1).normalized, atol=1e-4)


def test_bad_models_raise_clear_errors():
    image = random_image()
    no_conv = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(3)])
    segmentation = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(2, 3, padding="same")])
    a, b = keras.Input((32, 32, 3)), keras.Input((32, 32, 3))
    two_inputs = keras.Model([a, b], keras.layers.Dense(2)(keras.layers.Flatten()(
        keras.layers.Concatenate()([keras.layers.Conv2D(2, 3)(a), keras.layers.Conv2D(2, 3)(b)]))))
    cases = [
        ("a string", "model.keras", TypeError, "load_model"),
        ("a function", lambda x: x, TypeError, "function|keras.Model"),
        ("None", None, TypeError, "keras.Model"),
        ("no conv layer", no_conv, ValueError, "no convolutional layer"),
        ("segmentation output", segmentation, ValueError, "not .batch, classes."),
        ("two inputs", two_inputs, ValueError, "2 inputs"),
    ]
    for label, model, error, pattern in cases:
        with pytest.raises(error, match=pattern) as excinfo:
            compute_cam(model, image)
        _no_tensorflow_trace(excinfo)


def test_bad_arguments_raise_clear_errors(model, explainer):
    image = random_image()
    cases = [
        (lambda: explainer.cam(image, 5), ValueError, r"out of range.*5 classes"),
        (lambda: explainer.cam(image, -1), ValueError, "out of range"),
        (lambda: explainer.cam(image, 1.0), TypeError, "int"),
        (lambda: explainer.cam(image, "cat"), TypeError, "names"),
        (lambda: explainer.cam(image, 0, method="magic"), ValueError, "gradcam, gradcam\\+\\+"),
        (lambda: explainer.cam(image, 0, method=3), TypeError, "method name"),
        (lambda: explainer.cam(image, 0, layer="nope"), ValueError, "no layer named 'nope'.*conv_last"),
        (lambda: explainer.cam(image, 0, layer="gap"), ValueError, "cannot be used"),
        (lambda: compute_cam(model, [image, image], [0]), ValueError, "one class per image"),
        (lambda: compute_cam(model, [], 0), ValueError, "empty"),
        (lambda: Explainer(model, preprocess="vgg16"), TypeError, "preprocess"),
        (lambda: Explainer(model, preprocess=lambda x: 1 / 0).cam(image, 0), ValueError, "ZeroDivisionError"),
        (lambda: Explainer(model, preprocess=lambda x: x[:, :10]).cam(image, 0), ValueError, "returned shape"),
        (lambda: Explainer(model, preprocess=lambda x: x * np.nan).cam(image, 0), ValueError, "NaN"),
    ]
    for call, error, pattern in cases:
        with pytest.raises(error, match=pattern) as excinfo:
            call()
        _no_tensorflow_trace(excinfo)


def test_differently_sized_images_in_a_list_are_resized(model):
    images = [random_image(shape=(20, 30, 3)), random_image(shape=(64, 48, 3))]
    assert compute_cam(model, images).shape == (2, 28, 28)


def test_model_is_never_modified_by_any_method():
    model = gap_classifier(softmax="dense")
    nested, _ = nested_backbone()
    image = random_image()
    for m, img in ((model, image), (nested, random_image(size=48))):
        before = model_fingerprint(m)
        ex = Explainer(m)
        for method in ("gradcam", "gradcam++", "hirescam", "layercam", "xgradcam", "eigencam", "scorecam"):
            ex.cams(img, [0, 1], method)
        ex.scores(img)
        compute_cam(m, [img, img], [1, 0])
        assert_unchanged(before, model_fingerprint(m))
        # the softmax is still applied by the model itself
        out = np.asarray(m(img[None].astype(np.float32)))
        np.testing.assert_allclose(out.sum(), 1.0, rtol=1e-5)


def test_no_retracing_after_warm_up(model):
    ex = Explainer(model)
    images = [random_image(seed=s) for s in range(3)]
    ex.cams(images[0], [0, 1, 2])
    ex.cam(images[0], 3)
    warm = ex.trace_count
    for i in range(30):
        ex.cams(images[i % 3], [i % 5, (i + 1) % 5][: 1 + i % 2])
    assert ex.trace_count == warm


def test_features_are_cached_per_image(model):
    ex = Explainer(model, cache_size=2)
    calls = []
    original = ex._features_fn

    def counting(choice):
        fn = original(choice)

        def wrapped(x):
            calls.append(int(x.shape[0]))
            return fn(x)
        return wrapped

    ex._features_fn = counting
    image = random_image(seed=30)
    for c in range(5):
        ex.cam(image, c)
    assert calls == [1]
    for s in (31, 32, 30):  # cache of 2: image 30 was evicted by 31 and 32
        ex.cam(random_image(seed=s), 0)
    assert calls == [1, 1, 1, 1]


def test_maps_are_deterministic(model):
    image = random_image(seed=40)
    first = compute_cam(model, image, 2)
    for _ in range(3):
        assert np.array_equal(first, compute_cam(model, image, 2))
