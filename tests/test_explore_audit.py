"""The explorer opened on an audit table: no prediction is computed again; sorts and mean maps."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from PIL import Image

from gradcam_widget import explore_misclassifications
from gradcam_widget.audit import audit, read_audit, to_parquet
from gradcam_widget.explore_audit import audit_order, confusion_mean_maps


class CountingIdentity(keras.layers.Layer):
    """Counts how often the model runs (each eager call or trace passes through here)."""

    calls = 0

    def call(self, x):
        CountingIdentity.calls += 1
        return x


def counting_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = CountingIdentity()(inputs)
    x = keras.layers.Rescaling(1 / 255.0)(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv_last")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    model = counting_model()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(12) % 3
    boxes = [(0, 0, 8 + i, 16) for i in range(12)]
    table = audit(model, images, labels, boxes=boxes, maps="uint8", chunk_size=5)
    path = tmp_path_factory.mktemp("audit") / "a.parquet"
    to_parquet(table, path)
    return model, images, labels, read_audit(path)


def test_opens_without_running_the_model(case):
    model, images, _labels, table = case
    before = CountingIdentity.calls
    explorer = explore_misclassifications(table, model=model, images=images, class_names=["a", "b", "c"])
    assert CountingIdentity.calls == before  # predictions read from the table
    np.testing.assert_array_equal(explorer.predictions.predicted, table["pred"])
    np.testing.assert_array_equal(explorer.confusion.sum(), 12)
    wrong = table.index[table["pred"] != table["label"]]
    shown = explorer.view.gallery["indices"]
    expected = [i for i in audit_order(table, "mistakenness") if i in set(wrong)]
    assert shown == expected[: len(shown)] and shown  # the most mistaken first
    explorer.selected = int(shown[0])  # a click computes that image's maps: the counter works
    assert CountingIdentity.calls > before
    explorer.close()


def test_sorts_and_mean_maps(case):
    _, _, _labels, table = case
    mistaken = table["mistakenness"].to_numpy()
    np.testing.assert_array_equal(audit_order(table, "mistakenness"), np.argsort(-mistaken, kind="stable"))
    outside = 1 - table["pred_energy_in"].to_numpy()
    np.testing.assert_array_equal(audit_order(table, "energy_outside"), np.argsort(-outside, kind="stable"))
    means = confusion_mean_maps(table)
    for (true, pred), mean in means.items():
        rows = (table["label"] == true) & (table["pred"] == pred)
        expected = np.mean([m.astype(np.float32) / 255 for m in table.loc[rows, "pred_map"]], axis=0)
        np.testing.assert_allclose(mean, expected, atol=1e-6)
    assert sum(int(((table["label"] == t) & (table["pred"] == p)).sum()) for t, p in means) == len(table)
    with pytest.raises(ValueError, match="by= must be one of"):
        audit_order(table, "size")


def test_paths_in_the_table_need_no_images(case, tmp_path):
    model, images, labels, _ = case
    paths = []
    for i in range(4):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(images[i]).save(paths[-1])
    table = audit(model, paths, labels[:4])
    explorer = explore_misclassifications(table, model=model)
    assert len(explorer.predictions.labels) == 4
    explorer.close()
    with pytest.raises(ValueError, match="rows but 3 images"):
        explore_misclassifications(table, model=model, images=images[:3])
    with pytest.raises(TypeError, match="model=model"):
        explore_misclassifications(table)


def test_explorer_sorts_filters_and_shows_cell_mean_maps(case):
    model, images, _labels, table = case
    explorer = explore_misclassifications(table, model=model, images=images, class_names=["a", "b", "c"])
    view = explorer.view
    assert set(view.sorts) == {"mistakenness", "hardness", "confidence", "margin", "energy_outside"}
    assert view.sort_by == "mistakenness" and view.cell_map == {}  # no cell chosen yet

    # Energy outside the box, at least 0.5 of it, every image: exactly those rows, most outside first.
    explorer.set_filter("all", -1, -1, sort_by="energy_outside", min_score=0.5)
    outside = 1 - table["pred_energy_in"].to_numpy()
    expected = [int(i) for i in np.argsort(-outside, kind="stable") if outside[i] >= 0.5]
    assert view.gallery_indices.tolist() == expected and view.gallery["sort"] == "energy_outside"
    assert view.gallery["indices"] == expected[: view.page_size]
    explorer.set_filter(sort_by="hardness", min_score=0.0)
    assert view.gallery_indices.tolist() == np.argsort(-table["hardness"].to_numpy(), kind="stable").tolist()

    # A confusion cell: its mean map is the numpy mean of the cell's stored maps.
    counts = explorer.confusion
    t, p = map(int, np.unravel_index(np.argmax(counts), counts.shape))
    explorer.set_filter("all", t, p)
    rows = (table["label"] == t) & (table["pred"] == p)
    expected_mean = np.mean([m.astype(np.float64) / 255 for m in table.loc[rows, "pred_map"]], axis=0)
    assert view.cell_map["count"] == int(rows.sum()) == int(counts[t, p])
    np.testing.assert_allclose(view.cell_mean(), expected_mean, atol=1e-6)
    assert view.cell_map["peak"] == round(float(expected_mean.max()), 4)
    explorer.set_filter("wrong", -1, -1)
    assert view.cell_map == {} and view.cell_mean() is None
    with pytest.raises(Exception, match="sort_by must be one of"):
        view.sort_by = "size"
    with pytest.raises(Exception, match=r"min_score must be in \[0, 1\]"):
        view.min_score = 2.0
    explorer.close()


def test_cell_without_stored_maps_says_why(case):
    model, images, labels, _ = case
    table = audit(model, images, labels)  # no maps kept
    explorer = explore_misclassifications(table, model=model, images=images)
    assert "energy_outside" not in explorer.view.sorts  # no boxes: nothing to sort by there
    explorer.set_filter("all", int(labels[0]), int(table["pred"][0]))
    assert "kept no maps" in explorer.view.cell_map["message"] and explorer.view.cell_mean() is None
    explorer.close()
