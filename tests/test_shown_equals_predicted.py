"""Shown = predicted (issue 13): whatever a user passes, the widget, the Explainer, the explorer and the
metrics compute what ``model.predict`` computes on the same array. Files and PIL images are compared
with ``keras.utils.load_img`` + ``img_to_array``.

Each convention gets a model that expects it (a Rescaling inside, as users' models have), so the
probabilities are far from saturated and a range guess (e.g. x255 for floats in [0, 1]) would change
them: ``test_a_range_guess_would_be_caught`` checks that the test can fail.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from PIL import Image

from gradcam_widget import Explainer, compute_cam, explore_misclassifications, show_gradcam
from gradcam_widget.metrics import average_drop_increase, deletion, insertion

SIZE, CLASSES, N = 16, 4, 12
TOL = 1e-5
CAFFE_MEAN = np.array([103.939, 116.779, 123.68], np.float32)


def classifier(scale: float, offset: float = 0.0, shape=(SIZE, SIZE, 3), seed: int = 0):
    """[Reshape] -> Rescaling(scale, offset) -> conv -> GAP -> Dense softmax, random weights."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape)
    x = keras.layers.Reshape(shape + (1,))(inputs) if len(shape) == 2 else inputs
    x = keras.layers.Rescaling(scale, offset)(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(x))


def pictures(n=N, seed=0, channels=3):
    """Smooth random uint8 pictures (n, SIZE, SIZE, channels)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 4, 4, channels)).astype(np.float32)
    big = np.repeat(np.repeat(small, SIZE // 4, axis=1), SIZE // 4, axis=2)
    return np.clip(big + rng.normal(0, 20, big.shape), 0, 255).astype(np.uint8)


def vgg_preprocess(x):
    return keras.applications.vgg16.preprocess_input(np.array(x, dtype=np.float32, copy=True))


# convention -> (model factory, batch -> images as the user passes them, preprocess=, shown as is?)
CONVENTIONS = {
    "uint8": (lambda: classifier(1 / 255), lambda u: u, None, True),
    "float [0, 1]": (lambda: classifier(1.0), lambda u: u.astype(np.float32) / 255, None, True),
    "float [0, 255]": (lambda: classifier(1 / 255), lambda u: u.astype(np.float32), None, True),
    "VGG caffe (negative)": (lambda: classifier(1 / 128), lambda u: vgg_preprocess(u), None, False),
    "[-1, 1]": (lambda: classifier(1.0), lambda u: u.astype(np.float32) / 127.5 - 1, None, False),
    "uint8 + preprocess=": (lambda: classifier(1 / 128), lambda u: u, vgg_preprocess, True),
    "tensor": (
        lambda: classifier(1.0),
        lambda u: __import__("tensorflow").constant(u.astype(np.float32) / 255),
        None,
        True,
    ),
    "gray 2-D, Input((H, W))": (lambda: classifier(1 / 255, shape=(SIZE, SIZE)), lambda u: u[..., 0], None, True),
    "gray 2-D, Input((H, W, 1))": (lambda: classifier(1 / 255, shape=(SIZE, SIZE, 1)), lambda u: u[..., 0], None, True),
    "gray 3-D, Input((H, W, 1))": (
        lambda: classifier(1 / 255, shape=(SIZE, SIZE, 1)),
        lambda u: u[..., :1],
        None,
        True,
    ),
}


@pytest.fixture(scope="module")
def models():
    return {name: spec[0]() for name, spec in CONVENTIONS.items()}


def as_batch(images) -> np.ndarray:
    return np.asarray(images.numpy() if hasattr(images, "numpy") else images, np.float32)


def predicted(model, batch, preprocess=None) -> np.ndarray:
    x = as_batch(batch)
    if preprocess is not None:
        x = preprocess(x)
    return np.asarray(model.predict(x, verbose=0), np.float64)


def check_one(model, image, expected, preprocess, *, shown_as_is=True, original=None):
    """Widget, Explainer and metrics on one image against model.predict's row ``expected``."""
    w = show_gradcam(model, image, top_k=CLASSES, preprocess=preprocess)
    try:
        got = {t["index"]: t["probability"] for t in w.top_classes}
        np.testing.assert_allclose([got[k] for k in range(CLASSES)], expected, atol=TOL)
        assert w.top_classes[0]["index"] == int(np.argmax(expected))
        assert (w.image_note == "") == shown_as_is, w.image_note
        if original is not None:
            np.testing.assert_array_equal(w.display_image, original)
    finally:
        w.close()
    ex = Explainer(model, preprocess=preprocess, compiled=False)
    np.testing.assert_allclose(ex.scores(image).probabilities, expected, atol=TOL)
    saliency = np.random.default_rng(1).random((4, 4))
    top = int(np.argmax(expected))
    d = deletion(ex, image, saliency, steps=2, progress=False)
    i = insertion(ex, image, saliency, steps=2, progress=False)
    assert d.class_index == i.class_index == top
    np.testing.assert_allclose([d.probabilities[0], i.probabilities[-1]], expected[top], atol=TOL)
    drop = average_drop_increase(ex, [image], [saliency], progress=False)
    np.testing.assert_allclose(drop.original, [expected[top]], atol=TOL)


@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_widget_explainer_and_metrics_give_model_predict(name, models):
    _, convert, preprocess, as_is = CONVENTIONS[name]
    model, u = models[name], pictures(2)
    images = convert(u)
    expected = predicted(model, images, preprocess)
    one = images[0]
    original = u[0] if name in ("uint8", "float [0, 1]", "float [0, 255]", "uint8 + preprocess=", "tensor") else None
    check_one(model, one, expected[0], preprocess, shown_as_is=as_is, original=original)


@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_explorer_predictions_are_model_predict_argmax(name, models):
    _, convert, preprocess, _ = CONVENTIONS[name]
    model, images = models[name], convert(pictures(N, seed=2))
    expected = predicted(model, images, preprocess)
    labels = np.arange(N) % CLASSES
    explorer = explore_misclassifications(model, images, labels, preprocess=preprocess, progress=False)
    try:
        np.testing.assert_array_equal(explorer.predictions.predicted, expected.argmax(-1))
        np.testing.assert_allclose(explorer.predictions.confidence, expected.max(-1), atol=TOL)
    finally:
        explorer.close()
    # compute_cam's "top class" (class_index=None) is model.predict's argmax too
    ex = Explainer(model, preprocess=preprocess, compiled=False)
    one_by_one = list(images[:4])
    np.testing.assert_array_equal(
        compute_cam(ex, one_by_one), compute_cam(ex, one_by_one, [int(c) for c in expected[:4].argmax(-1)])
    )


def test_a_range_guess_would_be_caught(models):
    """The old rule (floats in [0, 1] x255) gives other probabilities on these models."""
    model = models["float [0, 1]"]
    x = pictures(2).astype(np.float32) / 255
    assert np.abs(predicted(model, x) - predicted(model, x * 255)).max() > 0.05


# ---------------------------------------------------------------------------------- pictures
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pictures")
    u = pictures(2, seed=3)
    Image.fromarray(u[0]).save(folder / "rgb.png")
    Image.fromarray(u[1][..., 0]).save(folder / "gray.png")
    Image.fromarray(np.dstack([u[0], np.full((SIZE, SIZE), 90, np.uint8)])).save(folder / "rgba.png")
    return folder


def loaded(path, color_mode="rgb") -> np.ndarray:
    return keras.utils.img_to_array(keras.utils.load_img(path, color_mode=color_mode))


@pytest.mark.parametrize(
    "file, kind",
    [
        ("rgb.png", "path"),
        ("gray.png", "path"),
        ("rgba.png", "path"),
        ("rgb.png", "PIL"),
        ("rgba.png", "PIL"),
        ("rgb.png", "bytes"),
    ],
)
def test_pictures_reach_the_model_as_load_img_gives_them(file, kind, files, models):
    path = files / file
    image = {"path": path, "PIL": Image.open(path) if kind == "PIL" else None, "bytes": path.read_bytes()}[kind]
    x = loaded(path)
    for name in ("uint8", "uint8 + preprocess="):
        _, _, preprocess, _ = CONVENTIONS[name]
        expected = predicted(models[name], x[None], preprocess)[0]
        check_one(models[name], image, expected, preprocess, original=x.astype(np.uint8))


def test_a_picture_meets_a_grayscale_model_as_load_img_grayscale(files, models):
    for file in ("rgb.png", "gray.png"):
        x = loaded(files / file, "grayscale")
        for name in ("gray 2-D, Input((H, W))", "gray 3-D, Input((H, W, 1))"):
            model = models[name]
            expected = predicted(model, x[None] if len(model.inputs[0].shape) == 4 else x[None, ..., 0])[0]
            gray = np.repeat(x.astype(np.uint8), 3, axis=-1)  # shown as the model sees it: in gray
            check_one(model, files / file, expected, None, original=gray)


def test_display_image_shows_the_original_while_the_model_gets_the_preprocessed_array(models):
    model, u = models["VGG caffe (negative)"], pictures(1, seed=4)
    x = vgg_preprocess(u)
    w = show_gradcam(model, x[0], display_image=u[0], top_k=CLASSES)
    try:
        np.testing.assert_array_equal(w.display_image, u[0])
        assert w.image_note == ""
        got = {t["index"]: t["probability"] for t in w.top_classes}
        np.testing.assert_allclose([got[k] for k in range(CLASSES)], predicted(model, x)[0], atol=TOL)
    finally:
        w.close()
    w = show_gradcam(model, x[0], top_k=CLASSES)  # without it: min-max scaled, and the widget says so
    try:
        assert "min-max" in w.image_note and "display_image=" in w.image_note
        shown = w.display_image.astype(np.float64)
        assert shown.min() == 0 and shown.max() == 255
    finally:
        w.close()


def test_arrays_whose_channels_do_not_match_the_model_are_refused(models):
    with pytest.raises(ValueError, match="takes 1 channel but the array has 3.*mean"):
        Explainer(models["gray 3-D, Input((H, W, 1))"]).scores(pictures(1)[0])
    with pytest.raises(ValueError, match=r"batch of 2-D grayscale images.*images\[\.\.\., None\]"):
        Explainer(models["gray 3-D, Input((H, W, 1))"]).scores_batch(pictures(3)[..., 0])
    for call in (lambda ex: ex.scores(pictures(1)[0]), lambda ex: compute_cam(ex, pictures(1)[0])):
        with pytest.raises(ValueError, match="takes 2-D grayscale images"):  # not read as 16 images of 16x3
            call(Explainer(models["gray 2-D, Input((H, W))"]))


def test_black_baseline_is_the_value_shown_as_black(models):
    """Deletion with "black" on a preprocessed array paints removed pixels with the image's minimum
    (shown black); on a 0..255 picture with 0. Checked through the final, fully deleted point."""
    model = models["VGG caffe (negative)"]
    x = vgg_preprocess(pictures(1, seed=5))[0]
    d = deletion(model, x, np.ones((4, 4)), 0, steps=1, baseline="black", progress=False)
    np.testing.assert_allclose(d.probabilities[-1], predicted(model, np.full((1,) + x.shape, x.min()))[0, 0], atol=TOL)
    model = models["uint8"]
    d = deletion(model, pictures(1)[0], np.ones((4, 4)), 0, steps=1, baseline="black", progress=False)
    np.testing.assert_allclose(d.probabilities[-1], predicted(model, np.zeros((1, SIZE, SIZE, 3)))[0, 0], atol=TOL)
