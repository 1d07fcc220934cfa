"""The audit table: every column checked against numpy / model.predict / the metrics on a tiny model."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from engine_models import gap_classifier, random_image

from gradcam_widget import compute_cam
from gradcam_widget.audit import audit, read_audit, to_parquet
from gradcam_widget.metrics import energy_in_region, pointing_game
from gradcam_widget.metrics.localisation import region_mask

N = 11  # not a multiple of the chunk size


@pytest.fixture(scope="module")
def model():
    return gap_classifier(num_classes=5, size=32)


@pytest.fixture(scope="module")
def data():
    images = np.stack([random_image(seed=i) for i in range(N)])
    labels = np.arange(N) % 5
    boxes = [(i % 7, 2, 12 + i, 20) for i in range(N)]
    return images, labels, boxes


@pytest.fixture(scope="module")
def table(model, data):
    images, labels, boxes = data
    return audit(model, images, labels, boxes=boxes, maps="float16", chunk_size=4)


def test_prediction_columns_match_numpy(model, data, table):
    images, labels, _ = data
    p = model.predict(images, verbose=0).astype(np.float64)
    assert len(table) == N and list(table["id"]) == list(range(N))
    np.testing.assert_array_equal(table["pred"], p.argmax(1))
    np.testing.assert_array_equal(table["label"], labels)
    np.testing.assert_allclose(table["confidence"], p.max(1), atol=1e-5)
    top2 = np.sort(p, axis=1)[:, -2:]
    np.testing.assert_allclose(table["margin"], top2[:, 1] - top2[:, 0], atol=1e-5)
    np.testing.assert_array_equal(table["runner_up"], np.argsort(p, axis=1)[:, -2])
    entropy = -(p * np.log(p)).sum(1)
    np.testing.assert_allclose(table["entropy"], entropy, atol=1e-5)
    np.testing.assert_allclose(table["hardness"], entropy / np.log(5), atol=1e-5)
    np.testing.assert_allclose(table["mistakenness"], 1 - p[np.arange(N), labels], atol=1e-5)
    np.testing.assert_array_equal(table["correct"], p.argmax(1) == labels)


def _reference_stats(cam):
    """Peak and spread computed another way: explicit loops over the cells."""
    h, w = cam.shape
    top = cam.max()
    r, c = next((r, c) for r in range(h) for c in range(w) if cam[r, c] == top)
    mass = cam.sum()
    cx = sum(cam[r2, c2] * (c2 + 0.5) / w for r2 in range(h) for c2 in range(w)) / mass
    cy = sum(cam[r2, c2] * (r2 + 0.5) / h for r2 in range(h) for c2 in range(w)) / mass
    var = (
        sum(
            cam[r2, c2] * (((c2 + 0.5) / w - cx) ** 2 + ((r2 + 0.5) / h - cy) ** 2)
            for r2 in range(h)
            for c2 in range(w)
        )
        / mass
    )
    return (c + 0.5) / w, (r + 0.5) / h, np.sqrt(var)


def test_maps_and_their_statistics(model, data, table):
    images, labels, boxes = data
    pred_maps = compute_cam(model, images)
    true_maps = compute_cam(model, images, list(labels))
    for prefix, maps in (("pred", pred_maps), ("true", true_maps)):
        for i in range(N):
            stored = table[f"{prefix}_map"][i]
            assert stored.dtype == np.float16 and stored.shape == maps[i].shape
            np.testing.assert_allclose(stored.astype(np.float32), maps[i], atol=1e-3)
            px, py, spread = _reference_stats(maps[i].astype(np.float64))
            assert table[f"{prefix}_peak_x"][i] == pytest.approx(px)
            assert table[f"{prefix}_peak_y"][i] == pytest.approx(py)
            assert table[f"{prefix}_spread"][i] == pytest.approx(spread, abs=1e-6)
            assert table[f"{prefix}_energy_in"][i] == pytest.approx(
                energy_in_region(maps[i], boxes[i], image_size=(32, 32)), abs=1e-6
            )
            assert table[f"{prefix}_pointing_hit"][i] == pointing_game(maps[i], boxes[i], image_size=(32, 32)).hit
    assert table["pred_pointing_hit"].nunique() == 2  # the boxes differ enough for hits and misses


def test_masks_equal_their_boxes(model, data, table):
    images, labels, boxes = data
    masks = [region_mask(b, (32, 32)) for b in boxes]
    with_masks = audit(model, images, labels, masks=masks, chunk_size=5)
    for column in ("pred_energy_in", "pred_pointing_hit", "true_energy_in", "true_pointing_hit"):
        np.testing.assert_allclose(with_masks[column].astype(float), table[column].astype(float), atol=1e-6)
    with pytest.raises(ValueError, match="mask has shape"):
        audit(model, images[:1], labels[:1], masks=[np.ones((16, 16), bool)])


def test_parquet_round_trip(model, data, table, tmp_path):
    path = tmp_path / "audit.parquet"
    to_parquet(table, path)
    back = read_audit(path)
    assert list(back.columns) == list(table.columns)
    plain = [c for c in table.columns if not c.endswith("_map")]
    pd.testing.assert_frame_equal(back[plain], table[plain])
    for column in ("pred_map", "true_map"):
        for a, b in zip(back[column], table[column]):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)
    images, _labels, _ = data
    small = audit(model, images[:3], maps="uint8")
    to_parquet(small, tmp_path / "u8.parquet")
    again = read_audit(tmp_path / "u8.parquet")
    assert "label" not in again.columns and again["pred_map"][0].dtype == np.uint8
    np.testing.assert_array_equal(again["pred_map"][2], small["pred_map"][2])
    np.testing.assert_array_equal(np.round(compute_cam(model, images[2:3])[0] * 255), again["pred_map"][2])


def test_paths_and_datasets_give_the_same_rows(model, data, table, tmp_path):
    import tensorflow as tf
    from PIL import Image

    images, labels, _ = data
    paths = []
    for i in range(4):
        paths.append(str(tmp_path / f"img{i}.png"))
        Image.fromarray(images[i]).save(paths[-1])
    from_paths = audit(model, paths, labels[:4])
    assert list(from_paths["id"]) == paths
    columns = ["pred", "confidence", "mistakenness", "pred_peak_x", "true_spread"]
    np.testing.assert_allclose(from_paths[columns].to_numpy(float), table[columns][:4].to_numpy(float), atol=1e-6)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(3)
    from_dataset = audit(model, dataset, chunk_size=4)  # labels from the (image, label) elements
    np.testing.assert_array_equal(from_dataset["label"], labels)
    np.testing.assert_allclose(from_dataset[columns].to_numpy(float), table[columns].to_numpy(float), atol=1e-6)


def test_bad_inputs_say_what_to_do(model, data, monkeypatch):
    images, labels, _boxes = data
    with pytest.raises(ValueError, match="fewer entries"):
        audit(model, images, labels[:3])
    with pytest.raises(ValueError, match="maps="):
        audit(model, images, maps="png")
    with pytest.raises(ValueError, match="out of range"):
        audit(model, images[:2], [0, 9])
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"gradcam-widget\[audit\]"):
        audit(model, images[:2])


def test_multi_label_head_is_refused():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv_last")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    tags = keras.Model(inputs, keras.layers.Dense(3, activation="sigmoid")(x))
    with pytest.raises(ValueError, match="multi-label"):
        audit(tags, np.zeros((2, 16, 16, 3), np.uint8))
