"""The still picture a widget leaves where widgets cannot run (exported HTML, static viewers)."""

from __future__ import annotations

import base64
import html
import io
import re

import keras
import numpy as np
import pytest
from PIL import Image

from gradcam_widget import static_view
from gradcam_widget.widget import show_gradcam

HOSTILE = ['<img src=x onerror="alert(1)">', "a & b", "plain", "<script>bad()</script>", "last"]


@pytest.fixture(scope="module")
def widget():
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((24, 24, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(5, activation="softmax"),
        ]
    )
    img = np.random.default_rng(2).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    return show_gradcam(model, img, class_names=HOSTILE, top_k=3)


@pytest.mark.parametrize(
    "size, shown",
    [
        ((64, 64), (256, 256)),
        ((224, 224), (256, 256)),
        ((300, 200), (300, 200)),
        ((1024, 512), (512, 256)),
        ((10, 40), (64, 256)),
    ],
)
def test_display_size_follows_the_live_widget(size, shown):
    assert static_view.display_size(*size) == shown


def test_html_fallback_holds_the_picture_and_the_class_list_as_text(widget):
    page = widget._repr_mimebundle_()[0]["text/html"]
    assert "<script" not in page.lower() and "onerror=" not in page  # user strings stay text
    top = widget.top_classes
    for entry in top:
        assert html.escape(entry["name"]) in page
    names_in_order = re.findall(r"<li[^>]*>(?:<strong>)?(.*?) \(#(\d+)\)", page)
    assert [int(i) for _, i in names_in_order] == [t["index"] for t in top]
    selected = re.findall(r'<li data-selected="true"><strong>.*?\(#(\d+)\)', page)
    assert selected == [str(widget.selected_class)]
    src = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(src))).convert("RGB"))
    assert picture.shape == (256, 256, 3)
    np.testing.assert_array_equal(
        picture, static_view.picture(widget.display_image, widget.heatmap, widget.colormap, widget.opacity)
    )


def test_html_fallback_follows_the_selection_outside_the_top_k(widget):
    outside = next(i for i in range(5) if i not in [t["index"] for t in widget.top_classes])
    widget.selected_class = outside
    try:
        page = widget._repr_mimebundle_()[0]["text/html"]
        assert re.findall(r'<li data-selected="true"><strong>.*?\(#(\d+)\)', page) == [str(outside)]
        assert f"(#{outside}) · gradcam" in html.unescape(page)
    finally:
        widget.selected_class = widget.top_classes[0]["index"]
