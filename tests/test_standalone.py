"""save_html's page, read as text (the browser side is tests/browser/test_offline_pages.py)."""

from __future__ import annotations

import base64
import json
import re

import keras
import numpy as np
import pytest

from gradcam_widget import save_html
from gradcam_widget.standalone import page_html
from gradcam_widget.widget import show_gradcam

HOSTILE = ["</script><script>alert(1)</script>", "<!-- x", "fine", "also fine"]


@pytest.fixture(scope="module")
def widgets():
    keras.utils.set_random_seed(4)
    model = keras.Sequential(
        [
            keras.Input((20, 20, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    rng = np.random.default_rng(0)
    one = show_gradcam(model, rng.integers(0, 256, (20, 20, 3), dtype=np.uint8), class_names=HOSTILE, top_k=2)
    two = show_gradcam(model, rng.integers(0, 256, (20, 20, 3), dtype=np.uint8), class_names=HOSTILE, top_k=2)
    outside = next(i for i in range(4) if i not in [t["index"] for t in one.top_classes])
    one.selected_class = outside  # computed on demand: saved too
    return one, two, outside


def saved_data(text: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="gcw-saved">(.*?)</script>', text, re.S).group(1))


def test_one_page_holds_every_widget_and_every_computed_map(widgets, tmp_path):
    one, two, outside = widgets
    path = tmp_path / "page.html"
    size = save_html(path, one, two)
    text = path.read_text(encoding="utf-8")
    assert size == len(text.encode("utf-8"))
    assert text.count('<section class="gcw-saved"') == 2
    data = saved_data(text)
    assert [w["state"]["selected_class"] for w in data["widgets"]] == [outside, two.selected_class]
    keys = {(m["class_index"], m["method"], m["layer"]) for m in data["widgets"][0]["maps"]}
    assert (outside, "gradcam", "conv") in keys and len(keys) == 3
    raw = next(m for m in data["widgets"][0]["maps"] if m["class_index"] == outside)["raw"]["$bytes"]
    np.testing.assert_array_equal(
        np.frombuffer(base64.b64decode(raw), "<f4").reshape(one.heatmap.shape),
        np.asarray(one._cam_for(outside, "gradcam", "conv").raw, "<f4"),
    )
    assert data["esm"].rstrip().endswith("export default { render };")
    assert not any(name.startswith("_") for name in data["widgets"][0]["state"])  # no ipywidgets plumbing


def test_user_strings_cannot_end_the_script_and_nothing_is_fetched(widgets):
    text = page_html(widgets[:1])
    assert "</script><script>alert" not in text and "<!-- x" not in text
    assert text.count("</script>") == 2  # the data block and the module, nothing from the names
    assert saved_data(text)["widgets"][0]["state"]["class_names"] == HOSTILE
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1)
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp
    assert not re.search(r"""(src|href)=["']https?:""", text)


def test_save_html_refuses_what_it_cannot_save(tmp_path):
    with pytest.raises(ValueError, match="at least one GradCAMWidget"):
        save_html(tmp_path / "x.html")
    with pytest.raises(TypeError, match="GradCAMWidget objects, got str"):
        save_html(tmp_path / "x.html", "not a widget")
