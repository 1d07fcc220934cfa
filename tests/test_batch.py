"""Many images in chunks: the same maps as one image at a time, memory bounded on a long stream, and a
progress bar for long runs only."""

from __future__ import annotations

import gc

import keras
import numpy as np
import psutil
import pytest
from engine_models import gap_classifier, random_image
from PIL import Image

from gradcam_widget import Explainer, compute_cam, iter_cams


@pytest.fixture(scope="module")
def model():
    return gap_classifier(num_classes=5, size=32)


def any_size_model():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv_last")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x))


def test_chunked_maps_equal_one_at_a_time(model):
    images = np.stack([random_image(seed=i) for i in range(13)])
    classes = [i % 5 for i in range(13)]
    alone = [compute_cam(model, images[i : i + 1], classes[i])[0] for i in range(13)]
    streamed = list(iter_cams(model, images, classes, chunk_size=4))
    np.testing.assert_allclose(np.stack(streamed), np.stack(alone), atol=1e-5)
    explainer = Explainer(model)
    from gradcam_widget.batch import cam_maps

    chunked = cam_maps(explainer, images, classes, chunk_size=5)  # the path compute_cam takes for many
    np.testing.assert_allclose(np.stack([m.normalized for m in chunked]), np.stack(alone), atol=1e-5)
    top = list(iter_cams(model, iter(list(images)), chunk_size=3))  # a generator (traced), top classes
    np.testing.assert_allclose(np.stack(top), compute_cam(model, images), atol=1e-5)
    many = np.concatenate([images] * 3)  # enough images for compute_cam to trace its functions
    np.testing.assert_allclose(compute_cam(model, many, classes * 3), np.stack(alone * 3), atol=1e-5)


def test_mixed_sizes_paths_and_arrays(tmp_path):
    model = any_size_model()
    sizes = [(20, 28), (32, 32), (20, 28), (24, 40), (32, 32)]
    pictures = [random_image(shape=(h, w, 3), seed=i) for i, (h, w) in enumerate(sizes)]
    inputs = []
    for i, picture in enumerate(pictures):
        if i % 2:
            inputs.append(str(tmp_path / f"{i}.png"))
            Image.fromarray(picture).save(inputs[-1])
        else:
            inputs.append(picture)
    alone = [compute_cam(model, [x])[0] for x in inputs]
    streamed = list(iter_cams(model, inputs, chunk_size=2))
    assert [m.shape for m in streamed] == [m.shape for m in alone]
    assert len({m.shape for m in streamed}) == 3
    for a, b in zip(streamed, alone):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_tf_data_dataset_batches_and_elements(model):
    import tensorflow as tf

    images = np.stack([random_image(seed=i) for i in range(7)])
    expected = compute_cam(model, images)
    for dataset in (tf.data.Dataset.from_tensor_slices(images).batch(3), tf.data.Dataset.from_tensor_slices(images)):
        np.testing.assert_allclose(np.stack(list(iter_cams(model, dataset, chunk_size=4))), expected, atol=1e-5)


def test_memory_bounded_on_a_long_generator():
    model = gap_classifier(num_classes=3, size=64)
    n = 1200  # 1200 x 64 x 64 x 3 float32 = 59 MB of model inputs, were they kept

    def images():
        rng = np.random.default_rng(0)
        for _ in range(n):
            yield rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)

    process = psutil.Process()
    stream = iter_cams(model, images(), chunk_size=16)
    for _ in range(100):  # warm up: functions traced, allocator pools filled
        next(stream)
    gc.collect()
    start = process.memory_info().rss
    total = 100 + sum(1 for _ in stream)
    gc.collect()
    growth = (process.memory_info().rss - start) / 2**20
    assert total == n
    assert growth < 25, f"RSS grew by {growth:.1f} MB over {n - 100} streamed images"


def test_progress_bar_only_for_long_runs(model, capsys):
    images = np.stack([random_image(seed=i) for i in range(6)])
    list(iter_cams(model, images, chunk_size=2, progress_after=3600))  # shorter than the delay: no bar
    assert "img" not in capsys.readouterr().err
    list(iter_cams(model, images, chunk_size=2, progress_after=0))  # as if the run were long
    err = capsys.readouterr().err
    assert "/6 [" in err and "maps:" in err  # the bar, its total known


def test_class_lists_must_match(model):
    images = np.stack([random_image(seed=i) for i in range(5)])
    with pytest.raises(ValueError, match="fewer entries"):
        list(iter_cams(model, images, [0, 1], chunk_size=2))
    from gradcam_widget.batch import cam_maps

    with pytest.raises(ValueError, match="3 entries but there are 5 images"):
        cam_maps(Explainer(model), images, [0, 1, 2], chunk_size=2)
