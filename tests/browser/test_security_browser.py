"""Untrusted strings (layer names, error text) reach the page as text and run nothing (issue 8)."""

from __future__ import annotations

import textwrap

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PAYLOAD_LAYER = '<img src=x onerror="window.__pwned=3">'
PAYLOAD_ERROR = '<svg onload="window.__pwned=4"><b id="injected">x</b>'

CELLS = [
    textwrap.dedent(
        f"""
        import numpy as np
        import keras
        from gradcam_widget import show_gradcam

        keras.utils.set_random_seed(0)
        inputs = keras.Input((32, 32, 3))
        x = keras.layers.Conv2D(4, 3, activation="relu", name={PAYLOAD_LAYER!r})(inputs)
        x = keras.layers.Conv2D(6, 3, activation="relu", name="last_conv")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x))
        img = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
        """
    ),
    "w = show_gradcam(model, img, top_k=2)\nw",
]


def _no_injection(nb):
    root = nb.page.get_by_test_id("gcw-root")
    assert nb.page.evaluate("() => typeof window.__pwned") == "undefined"
    found = root.evaluate(
        """(r) => ({img: r.querySelectorAll('img:not([data-testid=gcw-image])').length,
                    svg: r.querySelectorAll('svg').length,
                    injected: document.getElementById('injected') !== null})"""
    )
    assert found == {"img": 0, "svg": 0, "injected": False}, found


def test_layer_names_and_error_text_are_text(open_notebook):
    nb = open_notebook(CELLS, "lab")
    layer_menu = nb.page.get_by_test_id("gcw-layer")
    # the hostile layer name is offered as a plain option
    options = layer_menu.evaluate("(s) => Array.from(s.options).map((o) => o.textContent)")
    assert PAYLOAD_LAYER in options
    layer_menu.select_option(PAYLOAD_LAYER)
    nb.kernel.wait_for("(w.layer, w.status['state'])", [PAYLOAD_LAYER, "ready"])
    # an error message quoting a hostile string is shown as text in place of the map
    nb.kernel.execute(f"w.layer = {PAYLOAD_ERROR!r}")
    status = nb.page.get_by_test_id("gcw-status")
    expect(status).to_be_visible()
    expect(status).to_contain_text(PAYLOAD_ERROR)
    nb.page.wait_for_timeout(200)
    nb.screenshot("hostile-strings")
    _no_injection(nb)
    # and the widget still works afterwards
    layer_menu.select_option("last_conv")
    nb.kernel.wait_for("(w.layer, w.status['state'])", ["last_conv", "ready"])
    expect(status).not_to_be_visible()
    _no_injection(nb)
