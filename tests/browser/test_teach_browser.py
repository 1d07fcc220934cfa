"""Teaching (issue 17) in JupyterLab through Chromium, keyboard only: the scale modes (signed mode draws
negative evidence blue; the shared mode draws a weaker class at its ratio of the maxima), the "How was
this map made?" panel (opened, a channel shown over the image), and the layer scrubber, with the
kernel's state checked after each step.

The model is tiny and its weights are set so the evidence is known: the image is red on the left and
blue on the right; for the class "red" the left half speaks for it and the right half against it.
"""

from __future__ import annotations

import base64
import textwrap

import numpy as np
import pytest
from playwright.sync_api import expect

from gradcam_widget.colormaps import apply_colormap, bilinear_upsample

pytestmark = pytest.mark.browser

MODEL_CELL = textwrap.dedent(
    """
    import numpy as np
    import keras
    from gradcam_widget import show_gradcam

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(6, 1, activation="relu", name="conv_a")(x)
    x = keras.layers.Conv2D(6, 1, activation="relu", name="conv_last")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="logits")(x)
    model = keras.Model(inputs, outputs)
    conv = np.zeros((1, 1, 3, 6), np.float32)
    for c in range(3):
        conv[0, 0, c, c], conv[0, 0, c, c + 3] = 1.0, -1.0
    model.get_layer("conv_a").set_weights([conv, np.full(6, 0.3, np.float32)])
    model.get_layer("conv_last").set_weights([np.eye(6, dtype=np.float32)[None, None], np.zeros(6, np.float32)])
    dense = np.array(
        [[4, -2, -2, 0], [-2, 4, -2, 0], [-2, -2, 4, 0], [-1, 1, 0, 2], [1, -1, 1, 2], [0, 1, -1, 2]], np.float32
    )
    model.get_layer("logits").set_weights([dense, np.array([0, 0, 0, 1.0], np.float32)])
    img = np.zeros((16, 16, 3), np.uint8)
    img[:, :8] = [220, 30, 30]
    img[:, 8:] = [30, 30, 220]
    """
)
WIDGET_CELL = 'w = show_gradcam(model, img, class_names=["red", "green", "blue", "grey"])\nw'


def tid(nb, name):
    return nb.page.get_by_test_id(name)


def canvas_rgba(locator):
    got = locator.evaluate(
        """(c) => {
            const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let text = '';
            for (let i = 0; i < data.length; i += 0x8000)
                text += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
            return {width: c.width, height: c.height, data: btoa(text)};
        }"""
    )
    return np.frombuffer(base64.b64decode(got["data"]), np.uint8).reshape(got["height"], got["width"], 4)


def test_teaching_controls_keyboard_only(open_notebook):
    nb = open_notebook([MODEL_CELL, WIDGET_CELL], "lab")
    page, kernel = nb.page, nb.kernel
    kernel.execute("w.selected_class = 0")
    expect(tid(nb, "gcw-root")).to_have_attribute("data-class", "0", timeout=15_000)

    # --- signed mode, from the keyboard: the right half (evidence against "red") is drawn blue.
    scale = tid(nb, "gcw-scale")
    scale.focus()
    page.keyboard.press("End")
    kernel.wait_for("w.scale_mode", "signed")
    overlay = tid(nb, "gcw-overlay")
    expect(overlay).to_have_attribute("data-scale", "signed", timeout=10_000)
    rgba = canvas_rgba(overlay)
    h, w = rgba.shape[:2]
    left, right = rgba[h // 2, w // 4, :3].astype(int), rgba[h // 2, 3 * w // 4, :3].astype(int)
    assert left[0] > left[2] + 60, f"evidence for the class should be red, got {left}"
    assert right[2] > right[0] + 60, f"evidence against the class should be blue, got {right}"
    signed = np.asarray(kernel.eval("w._cam_for(0, w.method, w.layer).signed.tolist()"))
    assert signed[:, :8].min() > 0 > signed[:, 8:].max()  # the kernel agrees on where the evidence is
    assert "+" in tid(nb, "gcw-root").locator(".gcw-colorbar-max").inner_text()

    # --- shared mode: the weaker class is drawn at m2/m1 of the strongest.
    page.keyboard.press("ArrowUp")
    kernel.wait_for("w.scale_mode", "shared")
    maxima = kernel.eval(
        "{t['index']: float(w._cam_for(t['index'], w.method, w.layer).maximum) for t in w.top_classes}"
    )
    common = kernel.eval("w.scale['maximum']")
    assert common == pytest.approx(max(maxima.values()))
    drawn = {}
    for k in (int(i) for i, m in maxima.items() if m > 0):
        kernel.execute(f"w.selected_class = {k}")
        expect(tid(nb, "gcw-root")).to_have_attribute("data-class", str(k), timeout=10_000)
        expect(overlay).to_have_attribute("data-scale", "shared")
        drawn[k] = float(overlay.get_attribute("data-drawn-max"))
        assert drawn[k] == pytest.approx(maxima[str(k)] / common, rel=1e-5)
    assert len(drawn) >= 2 and min(drawn.values()) < 0.99  # a weaker class really looks weaker
    kernel.execute("w.selected_class = 0")
    expect(tid(nb, "gcw-root")).to_have_attribute("data-class", "0", timeout=10_000)

    # --- the panel: Enter on its toggle opens it; the kernel computed the steps.
    toggle = tid(nb, "gcw-steps-toggle")
    toggle.focus()
    page.keyboard.press("Enter")
    kernel.wait_for("w.steps_open", True)
    panel = tid(nb, "gcw-steps")
    expect(panel).to_have_attribute("data-state", "ready", timeout=15_000)
    expect(toggle).to_have_attribute("aria-expanded", "true")
    steps = kernel.eval(
        "{k: w.steps[k] for k in ('class_index', 'layer', 'positive', 'negative', 'num_channels')}"
        " | {'top': [c['channel'] for c in w.steps['channels']]}"
    )
    assert steps["class_index"] == 0 and steps["layer"] == "conv_last"
    counts = tid(nb, "gcw-steps-counts").inner_text()
    assert f"{steps['positive']} positive, {steps['negative']} negative" in counts
    signed_step = canvas_rgba(tid(nb, "gcw-steps-signed"))
    assert signed_step[8, 2, 0] > signed_step[8, 2, 2] and signed_step[8, 13, 2] > signed_step[8, 13, 0]

    # --- a channel over the image: focus its thumbnail, press Space.
    k = steps["top"][0]
    thumb = tid(nb, f"gcw-steps-channel-{k}")
    assert "Channel" in thumb.get_attribute("aria-label")
    thumb.focus()
    page.keyboard.press(" ")
    kernel.wait_for("w.steps_channel", k)
    over = tid(nb, "gcw-steps-over")
    expect(over).to_have_attribute("data-channel", str(k), timeout=10_000)
    expect(thumb).to_have_attribute("aria-pressed", "true")
    channel = kernel.eval(
        f"(lambda c: (c['low'], c['high'], w.explainer.map_steps(w._input, 0, layer='conv_last')"
        f".channels[0].tolist()))([c for c in w.steps['channels'] if c['channel'] == {k}][0])"
    )
    low, high, values = channel
    values = (np.asarray(values, np.float32) - low) / (high - low)
    rgba = canvas_rgba(over)
    expected = apply_colormap(bilinear_upsample(values, rgba.shape[0], rgba.shape[1]), "jet")
    assert np.abs(rgba[..., :3].astype(int) - expected.astype(int)).max() <= 2
    assert values.max() - values.min() > 0.5  # the channel is not flat: the comparison means something

    # --- the scrubber: ArrowLeft goes one layer shallower; the main map and the panel follow.
    scrubber = tid(nb, "gcw-scrubber")
    assert scrubber.get_attribute("aria-valuetext").startswith("conv_last")
    scrubber.focus()
    page.keyboard.press("ArrowLeft")
    kernel.wait_for("w.layer", "conv_a")
    kernel.wait_for("w.steps['layer']", "conv_a")
    expect(panel).to_have_attribute("data-state", "ready", timeout=15_000)
    expect(scrubber).to_have_attribute("aria-valuetext", "conv_a (1 of 2)")
    expect(tid(nb, "gcw-root")).to_have_attribute("data-class", "0", timeout=10_000)
    computed = kernel.eval("len(w.computed_maps())")
    page.keyboard.press("ArrowRight")  # back to a layer already shown: from the caches
    kernel.wait_for("w.layer", "conv_last")
    assert kernel.eval("len(w.computed_maps())") == computed
    nb.screenshot("panel", scroll_to="[data-testid=gcw-steps]")

    toggle.focus()
    page.keyboard.press("Enter")
    kernel.wait_for("w.steps_open", False)
    expect(panel).to_be_hidden()
