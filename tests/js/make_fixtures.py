"""Write the reference values the node tests compare js/gradcam.js against.

The values come from gradcam_widget.colormaps, the Python reference of what the browser draws.
Run `python tests/js/make_fixtures.py` after changing that module; tests/test_colormaps.py fails
while the committed fixtures are out of date.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from gradcam_widget.colormaps import COLORMAPS, apply_colormap, bilinear_upsample, colormap_table, overlay

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures"


def _deterministic_map(height: int, width: int, seed: int) -> np.ndarray:
    """Pseudo-random values in [0, 1) from integer arithmetic only (identical on every machine)."""
    cells = np.arange(height * width, dtype=np.int64)
    return (((cells * 7919 + seed * 104729) % 1000) / 1000.0).astype(np.float32).reshape(height, width)


def _floats(array: np.ndarray) -> list[float]:
    # float32 -> Python float is exact, and JSON keeps every digit of a float64.
    return [float(v) for v in np.asarray(array, dtype=np.float32).ravel()]


def _bilinear_case(name: str, source: np.ndarray, out_h: int, out_w: int) -> dict:
    return {
        "name": name,
        "height": int(source.shape[0]),
        "width": int(source.shape[1]),
        "map": _floats(source),
        "out_height": out_h,
        "out_width": out_w,
        "expected": _floats(bilinear_upsample(source, out_h, out_w)),
    }


def bilinear_fixture() -> dict:
    ramp = np.array([[0, 1, 2, 3]], dtype=np.float32) * np.ones((3, 1), dtype=np.float32)
    return {
        "cases": [
            _bilinear_case("ramp 3x4 -> 3x8", ramp, 3, 8),
            _bilinear_case("2x2 -> 4x4", np.array([[0, 1], [2, 3]], dtype=np.float32), 4, 4),
            _bilinear_case("14x14 -> 45x61", _deterministic_map(14, 14, 1), 45, 61),
            _bilinear_case("5x3 -> 11x16", _deterministic_map(5, 3, 2), 11, 16),
            _bilinear_case("7x7 -> 7x7 identity", _deterministic_map(7, 7, 3), 7, 7),
            _bilinear_case("6x8 -> 3x4 downsample", _deterministic_map(6, 8, 4), 3, 4),
            _bilinear_case("1x1 -> 3x5", np.array([[0.625]], dtype=np.float32), 3, 5),
        ]
    }


def _probe_values() -> np.ndarray:
    below_one = np.nextafter(np.float32(1), np.float32(0))
    edges = [0, 1, 255 / 256, 1 / 256, 0.5, -0.25, 1.5, below_one, np.nextafter(np.float32(0.5), np.float32(0))]
    ramp = np.arange(0, 1001) / 1000.0
    return np.concatenate([np.array(edges, dtype=np.float32), ramp.astype(np.float32)])


def colormap_fixture() -> dict:
    values = _probe_values()
    raw = _deterministic_map(5, 5, 5) * np.float32(0.03)
    maximum = np.float32(raw.max())
    normalised = raw / maximum
    black = np.zeros((9, 13, 3), dtype=np.uint8)
    return {
        "tables": {name: colormap_table(name).ravel().tolist() for name in COLORMAPS},
        "values": _floats(values),
        "expected": {name: apply_colormap(values, name).ravel().tolist() for name in COLORMAPS},
        "pipeline": {
            "height": 5,
            "width": 5,
            "raw": _floats(raw),
            "maximum": float(maximum),
            "out_height": 9,
            "out_width": 13,
            "colormap": "turbo",
            # Opacity 1 over black is exactly the colour the overlay canvas holds.
            "expected_rgb": overlay(black, normalised, "turbo", 1.0).ravel().tolist(),
        },
    }


def float32_fixture() -> dict:
    values = [1.5, -2.25, 0.1, 3.4028234663852886e38, 1.401298464324817e-45, 0.0, 1234.5678]
    packed = struct.pack(f"<{len(values)}f", *values)
    raw = [0.0, 0.5, 2.0, 1.25]
    return {
        "little_endian_hex": packed.hex(),
        "values": [struct.unpack("<f", packed[i : i + 4])[0] for i in range(0, len(packed), 4)],
        "normalise": {
            "raw": raw,
            "maximum": 2.0,
            "expected": _floats(np.asarray(raw, dtype=np.float32) / np.float32(2.0)),
        },
    }


def build_fixtures() -> dict[str, str]:
    """File name -> exact file text."""
    fixtures = {
        "bilinear.json": bilinear_fixture(),
        "colormap.json": colormap_fixture(),
        "float32.json": float32_fixture(),
    }
    return {name: json.dumps(data, separators=(",", ":")) + "\n" for name, data in fixtures.items()}


def main() -> None:
    FIXTURE_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in build_fixtures().items():
        (FIXTURE_DIR / name).write_text(text, encoding="utf-8")
        print(f"wrote {FIXTURE_DIR / name} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
