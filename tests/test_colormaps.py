"""The colour tables and the numpy reference of what the browser draws (gradcam_widget.colormaps)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from gradcam_widget.colormaps import (
    COLORMAPS,
    apply_colormap,
    bilinear_upsample,
    colormap_bytes,
    colormap_table,
    overlay,
)

JS_TESTS = Path(__file__).resolve().parent / "js"


# --- tables ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", COLORMAPS)
def test_table_is_256_rgb_bytes_with_matplotlib_endpoints(name):
    table = colormap_table(name)
    cmap = matplotlib.colormaps[name]
    assert table.shape == (256, 3) and table.dtype == np.uint8
    assert tuple(table[0]) == tuple(cmap(0.0, bytes=True)[:3])
    assert tuple(table[-1]) == tuple(cmap(1.0, bytes=True)[:3])


@pytest.mark.parametrize("name", COLORMAPS)
def test_table_equals_matplotlib_sampled_at_256_evenly_spaced_points(name):
    sampled = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256), bytes=True)[:, :3]
    np.testing.assert_array_equal(colormap_table(name), sampled)


def test_known_endpoints_of_viridis():
    table = colormap_table("viridis")
    assert tuple(table[0]) == (68, 1, 84)
    assert tuple(table[-1]) == (253, 231, 36)


@pytest.mark.parametrize("name", COLORMAPS)
def test_bytes_are_the_table_row_major(name):
    data = colormap_bytes(name)
    assert isinstance(data, bytes) and len(data) == 768
    assert data == colormap_table(name).tobytes()


def test_tables_differ_between_colormaps():
    assert len({colormap_bytes(name) for name in COLORMAPS}) == len(COLORMAPS)


def test_table_is_a_copy_callers_cannot_corrupt():
    table = colormap_table("jet")
    table[:] = 0
    assert colormap_table("jet").any()


@pytest.mark.parametrize("call", [colormap_table, colormap_bytes, lambda n: apply_colormap(np.zeros(2), n)])
def test_unknown_colormap_names_the_valid_ones(call):
    with pytest.raises(ValueError) as error:
        call("rainbow")
    message = str(error.value)
    assert "rainbow" in message
    assert all(name in message for name in COLORMAPS)


# --- bilinear upsampling -----------------------------------------------------------------------


def test_bilinear_of_a_constant_is_constant():
    out = bilinear_upsample(np.full((3, 5), 0.3, dtype=np.float32), 17, 11)
    assert out.shape == (17, 11) and out.dtype == np.float32
    assert np.all(out == np.float32(0.3))


def test_bilinear_of_a_ramp_matches_hand_values():
    # Output x = i samples source (i + 0.5) * 4 / 8 - 0.5, clamped to [0, 3].
    ramp = np.array([[0, 1, 2, 3]], dtype=np.float32)
    expected = [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3]
    np.testing.assert_array_equal(bilinear_upsample(ramp, 1, 8)[0], expected)
    np.testing.assert_array_equal(bilinear_upsample(ramp.T, 8, 1)[:, 0], expected)


def test_bilinear_2x2_to_4x4_matches_hand_values():
    out = bilinear_upsample(np.array([[0, 1], [2, 3]], dtype=np.float32), 4, 4)
    expected = [
        [0.0, 0.25, 0.75, 1.0],
        [0.5, 0.75, 1.25, 1.5],
        [1.5, 1.75, 2.25, 2.5],
        [2.0, 2.25, 2.75, 3.0],
    ]
    np.testing.assert_array_equal(out, expected)


def test_downsampling_by_two_averages_neighbour_pairs():
    row = np.array([[0, 2, 4, 8]], dtype=np.float32)
    np.testing.assert_array_equal(bilinear_upsample(row, 1, 2), [[1, 6]])


def test_upsampling_by_one_is_identity():
    source = np.random.default_rng(0).random((7, 9)).astype(np.float32)
    np.testing.assert_array_equal(bilinear_upsample(source, 7, 9), source)


def test_edges_clamp_to_the_border_values():
    source = np.random.default_rng(1).random((4, 6)).astype(np.float32)
    out = bilinear_upsample(source, 40, 60)
    # The first five output pixels sample source positions <= 0, which clamp to the edge.
    assert np.all(out[0, :5] == source[0, 0])
    assert np.all(out[-5:, -1] == source[-1, -1])
    assert out.min() >= source.min() and out.max() <= source.max()


def test_bilinear_rejects_bad_shapes():
    with pytest.raises(ValueError, match="2-D"):
        bilinear_upsample(np.zeros(4, dtype=np.float32), 2, 2)
    with pytest.raises(ValueError, match="at least 1x1"):
        bilinear_upsample(np.zeros((2, 2), dtype=np.float32), 0, 2)


# --- colour lookup -----------------------------------------------------------------------------


def test_index_rule_at_0_1_and_255_over_256():
    table = colormap_table("turbo")
    just_below = np.nextafter(np.float32(255 / 256), np.float32(0))
    values = np.array([0.0, 1.0, 255 / 256, just_below, 1 / 256, 0.5], dtype=np.float32)
    expected = table[[0, 255, 255, 254, 1, 128]]
    np.testing.assert_array_equal(apply_colormap(values, "turbo"), expected)


def test_values_outside_0_1_and_nan_clamp_to_the_ends():
    table = colormap_table("jet")
    values = np.array([-0.5, 1.5, np.nan, np.inf], dtype=np.float32)
    np.testing.assert_array_equal(apply_colormap(values, "jet"), table[[0, 255, 0, 255]])


def test_apply_colormap_keeps_the_shape():
    out = apply_colormap(np.zeros((3, 4), dtype=np.float32), "inferno")
    assert out.shape == (3, 4, 3) and out.dtype == np.uint8


# --- overlay -------------------------------------------------------------------------------------


def _image():
    return np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) * 3


def test_overlay_at_opacity_0_is_the_image_and_at_1_the_colours():
    image = _image()
    heat = np.array([[0.0, 0.5], [1.0, 0.25]], dtype=np.float32)
    np.testing.assert_array_equal(overlay(image, heat, "viridis", 0.0), image)
    colours = apply_colormap(bilinear_upsample(heat, 4, 6), "viridis")
    np.testing.assert_array_equal(overlay(image, heat, "viridis", 1.0), colours)


def test_overlay_blends_like_css_opacity():
    image = np.full((1, 1, 3), 100, dtype=np.uint8)
    colour = colormap_table("jet")[255].astype(float)  # value 1 -> last entry
    out = overlay(image, np.ones((1, 1), dtype=np.float32), "jet", 0.25)
    np.testing.assert_array_equal(out[0, 0], np.rint(100 * 0.75 + colour * 0.25))


def test_overlay_validates_its_inputs():
    heat = np.zeros((2, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="opacity"):
        overlay(_image(), heat, "jet", 1.5)
    with pytest.raises(ValueError, match="uint8"):
        overlay(_image().astype(np.float32), heat, "jet", 0.5)


# --- the browser test fixtures stay in step with this module ---------------------------------


def test_committed_js_fixtures_are_current():
    spec = importlib.util.spec_from_file_location("make_fixtures", JS_TESTS / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, text in module.build_fixtures().items():
        committed = (JS_TESTS / "fixtures" / name).read_text(encoding="utf-8")
        assert committed == text, f"tests/js/fixtures/{name} is stale: run python tests/js/make_fixtures.py"
