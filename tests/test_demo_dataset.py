"""The procedural elephant / penguin / nothing dataset behind the shortcut demo."""

from __future__ import annotations

import time

import numpy as np
import pytest

from gradcam_widget.demo import SHORTCUT_CLASSES, make_shortcut_dataset

ELEPHANT, PENGUIN, NOTHING = range(3)
USUAL = {ELEPHANT: "grass", PENGUIN: "snow", NOTHING: "sand"}


def ground_from_pixels(image: np.ndarray, mask: np.ndarray) -> str:
    """Name the ground from the colour of its pixels alone (independent of the generator's bookkeeping)."""
    r, g, b = image[~mask].reshape(-1, 3).astype(float).mean(axis=0)
    if g > r + 30 and g > b + 30:
        return "grass"
    if b > r and b > 180:
        return "snow"
    if r > b + 50 and g > b + 30:
        return "sand"
    return f"unknown rgb=({r:.0f}, {g:.0f}, {b:.0f})"


@pytest.fixture(scope="module")
def mixed():
    return make_shortcut_dataset(300, seed=7, background_bias=1 / 3)


def test_shapes_dtypes_and_unpacking(mixed):
    images, labels, masks = mixed
    assert images.shape == (300, 64, 64, 3) and images.dtype == np.uint8
    assert labels.shape == (300,) and np.issubdtype(labels.dtype, np.integer)
    assert masks.shape == (300, 64, 64) and masks.dtype == bool
    assert mixed.class_names == SHORTCUT_CLASSES == ("elephant", "penguin", "nothing")
    assert set(np.unique(labels)) == {0, 1, 2}
    small = make_shortcut_dataset(4, seed=1, size=32)
    assert small.images.shape == (4, 32, 32, 3) and small.masks.shape == (4, 32, 32)


def test_same_seed_same_data_other_seed_other_data():
    a, b = make_shortcut_dataset(20, seed=3), make_shortcut_dataset(20, seed=3)
    c = make_shortcut_dataset(20, seed=4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.images, c.images)


def test_sample_depends_only_on_seed_and_index():
    long = make_shortcut_dataset(25, seed=11, background_bias=0.5)
    short = make_shortcut_dataset(6, seed=11, background_bias=0.5)
    for x, y in zip(short, long):
        np.testing.assert_array_equal(x, y[:6])


def test_masks_empty_exactly_for_nothing(mixed):
    _, labels, masks = mixed
    areas = masks.sum(axis=(1, 2))
    assert (areas[labels == NOTHING] == 0).all()
    assert (areas[labels != NOTHING] > 40).all()


def test_perfect_bias_puts_every_class_on_its_usual_ground():
    data = make_shortcut_dataset(150, seed=5, background_bias=1.0)
    seen = [ground_from_pixels(img, m) for img, m in zip(data.images, data.masks)]
    assert seen == [USUAL[int(c)] for c in data.labels]
    assert [data.background_names[b] for b in data.backgrounds] == seen


def test_zero_bias_never_uses_the_usual_ground_and_uses_both_others():
    data = make_shortcut_dataset(300, seed=6, background_bias=0.0)
    seen = np.array([ground_from_pixels(img, m) for img, m in zip(data.images, data.masks)])
    for c in range(3):
        grounds = set(seen[data.labels == c])
        assert USUAL[c] not in grounds
        assert len(grounds) == 2 and not any(g.startswith("unknown") for g in grounds)


@pytest.mark.parametrize("bias", [1 / 3, 0.8])
def test_bias_is_the_share_on_the_usual_ground(bias):
    data = make_shortcut_dataset(1500, seed=8, background_bias=bias)
    usual = np.array([data.background_names[b] == USUAL[int(c)] for b, c in zip(data.backgrounds, data.labels)])
    for c in range(3):  # binomial standard error is about 0.02 per class here
        assert abs(usual[data.labels == c].mean() - bias) < 0.07


def test_swap_keeps_animals_and_exchanges_grass_and_snow():
    plain = make_shortcut_dataset(120, seed=9, background_bias=1 / 3)
    swapped = make_shortcut_dataset(120, seed=9, background_bias=1 / 3, swap_backgrounds=True)
    np.testing.assert_array_equal(plain.labels, swapped.labels)
    np.testing.assert_array_equal(plain.masks, swapped.masks)
    np.testing.assert_array_equal(plain.images[plain.masks], swapped.images[swapped.masks])
    exchange = {"grass": "snow", "snow": "grass", "sand": "sand"}
    for a, b, m in zip(plain.images, swapped.images, plain.masks):
        before, after = ground_from_pixels(a, m), ground_from_pixels(b, m)
        assert after == exchange[before]
        if before == "sand":
            np.testing.assert_array_equal(a, b)
        else:
            assert not np.array_equal(a[~m], b[~m])


def test_drawings_have_their_animals_colours():
    data = make_shortcut_dataset(90, seed=12, background_bias=1 / 3)
    for img, label, mask in zip(*data):
        if label == NOTHING:
            continue
        px = img[mask].astype(int)
        spread = px.max(axis=1) - px.min(axis=1)
        if label == ELEPHANT:  # mostly grey
            assert np.mean(spread < 30) > 0.8
        else:  # black body, white belly, orange beak and feet
            dark, white = px.max(axis=1) < 70, px.min(axis=1) > 200
            orange = (px[:, 0] > 200) & (px[:, 1] > 90) & (px[:, 1] < 190) & (px[:, 2] < 80)
            assert dark.mean() > 0.2 and white.mean() > 0.15 and orange.sum() >= 2


def test_positions_and_sizes_vary(mixed):
    _, labels, masks = mixed
    for c in (ELEPHANT, PENGUIN):
        m = masks[labels == c]
        areas = m.sum(axis=(1, 2))
        cx = np.array([np.nonzero(x)[1].mean() for x in m])
        assert areas.max() > 1.8 * areas.min()
        assert cx.max() - cx.min() > 20


@pytest.mark.parametrize("kwargs", [dict(n=-1), dict(n=3, background_bias=1.5), dict(n=3, seed=-2), dict(n=3, size=8)])
def test_bad_arguments_raise_value_error(kwargs):
    n = kwargs.pop("n")
    with pytest.raises(ValueError):
        make_shortcut_dataset(n, **kwargs)


def test_speed_is_reported(record_property, capsys):
    make_shortcut_dataset(20, seed=0)  # warm up imports and caches
    start = time.perf_counter()
    make_shortcut_dataset(500, seed=1)
    ms = (time.perf_counter() - start) / 500 * 1000
    record_property("ms_per_image", round(ms, 3))
    with capsys.disabled():
        print(f"\n[demo dataset] {ms:.2f} ms per 64x64 image")
    assert ms > 0
