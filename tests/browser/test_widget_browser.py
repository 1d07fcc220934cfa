"""The Grad-CAM widget in a real browser: JupyterLab 4 and Notebook 7, kernel state checked too.

Each test writes its own notebook (a tiny seeded Keras model and a seeded image), opens it, runs
it, and drives the widget through the data-testid hooks of docs/protocol.md. The kernel's state
(``w.selected_class``, ``w.opacity``, ...) is read through a second client on the same kernel.
"""

from __future__ import annotations

import base64
import re
import textwrap
import threading
import time

import numpy as np
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

FRUITS = ["apple", "banana", "cherry", "date", "elderberry", "fig", "grape", "honeydew", "kiwi", "lemon"]

MODEL_CELL = textwrap.dedent(
    """
    import numpy as np
    import keras
    from gradcam_widget import show_gradcam

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((64, 64, 3)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    img = np.stack([xx, yy, 0.5 * (xx + yy)], axis=-1)
    img = np.clip(img * 200 + rng.normal(0, 25, img.shape), 0, 255).astype(np.uint8)
    """
)


def widget_cells(class_names=FRUITS, top_k=5):
    return [
        MODEL_CELL,
        f"w = show_gradcam(model, img, class_names={class_names!r}, top_k={top_k})\nw",
    ]


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------
def tid(nb, name):
    return nb.page.get_by_test_id(name)


def expect_drawn(nb, k, timeout=15_000):
    """The browser has drawn the map of class ``k`` (``data-class`` on the ready root)."""
    expect(tid(nb, "gcw-root")).to_have_attribute("data-class", str(k), timeout=timeout)


def top_k_indices(nb):
    return nb.kernel.eval("[t['index'] for t in w.top_classes]")


def non_top_k_indices(nb):
    top = set(top_k_indices(nb))
    return [i for i in range(nb.kernel.eval("len(w.class_names)")) if i not in top]


def pick_via_search(nb, query, k, how="enter"):
    """Type ``query`` in the search box and pick class ``k`` from the results."""
    search = tid(nb, "gcw-search")
    search.fill(str(query))
    if how == "enter":
        search.press("Enter")  # picks the best match
    else:
        nb.page.locator(f".gcw-results [data-index='{k}']").click()


def overlay_pixels(nb):
    """RGBA pixels of the overlay canvas at its backing size (not its CSS size)."""
    got = tid(nb, "gcw-overlay").evaluate(
        """(c) => {
            const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let text = '';
            for (let i = 0; i < data.length; i += 0x8000)
                text += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
            const box = c.getBoundingClientRect();
            return {width: c.width, height: c.height, cssWidth: box.width, cssHeight: box.height,
                    dpr: window.devicePixelRatio, data: btoa(text)};
        }"""
    )
    raw = base64.b64decode(got.pop("data"))
    rgba = np.frombuffer(raw, dtype=np.uint8).reshape(got["height"], got["width"], 4)
    return rgba, got


def reference_overlay(nb, height, width):
    """What the overlay must show, from the kernel's normalised map of the current selection."""
    from gradcam_widget.colormaps import apply_colormap, bilinear_upsample

    state = nb.kernel.eval("{'heatmap': w.heatmap.tolist(), 'colormap': w.colormap, 'cls': w.selected_class}")
    heatmap = np.asarray(state["heatmap"], dtype=np.float32)
    values = bilinear_upsample(heatmap, height, width)
    return apply_colormap(values, state["colormap"]), values, state


def assert_overlay_matches_kernel(nb, tolerance=2, timeout=5.0):
    """The overlay shows the kernel's current map (retried until ``timeout``: the browser may
    still be receiving the last reply)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _compare_overlay(nb, tolerance)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            nb.page.wait_for_timeout(100)


def _compare_overlay(nb, tolerance):
    rgba, info = overlay_pixels(nb)
    expected, values, state = reference_overlay(nb, info["height"], info["width"])
    assert info["width"] > 0 and info["height"] > 0, info
    assert (rgba[..., 3] == 255).all(), "the overlay canvas must be painted fully opaque"
    diff = np.abs(rgba[..., :3].astype(int) - expected.astype(int))
    bad = np.argwhere(diff.max(axis=-1) > tolerance)
    if len(bad):
        y, x = bad[0]
        raise AssertionError(
            f"{len(bad)} of {rgba.shape[0] * rgba.shape[1]} overlay pixels differ by more than "
            f"±{tolerance} from the kernel's map of class {state['cls']} ({state['colormap']}); "
            f"first at (x={x}, y={y}): browser {rgba[y, x, :3].tolist()}, expected "
            f"{expected[y, x].tolist()} (value {values[y, x]:.4f}); canvas {info}"
        )
    # the map is not flat, so the comparison means something
    assert values.max() - values.min() > 0.2, "test map too flat to prove anything"
    info["max_abs_diff"] = int(diff.max())
    return info


def start_busy_kernel(nb, seconds=None, gate=None):
    """Keep the kernel busy from a separate client: for ``seconds``, or until the file ``gate``
    exists (create it to release the kernel). Returns (thread, done event)."""
    client = nb.new_kernel_client()
    done = threading.Event()
    if gate is not None:
        code = (
            f"import os, time\nend = time.monotonic() + 60\n"
            f"while not os.path.exists({str(gate)!r}) and time.monotonic() < end:\n"
            f"    time.sleep(0.01)"
        )
    else:
        code = f"import time; time.sleep({seconds})"

    def work():
        try:
            client.execute(code, timeout=90)
        finally:
            client.close()
            done.set()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    # wait until the kernel reports busy, so the browser action really lands during the wait
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        s = nb.server.session_for(nb.path)
        if s and s["kernel"]["execution_state"] == "busy":
            break
        time.sleep(0.02)
    return thread, done


# ------------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_widget_renders_and_class_click_reaches_kernel(open_notebook, ui):
    nb = open_notebook(widget_cells(), ui)
    top = top_k_indices(nb)
    assert len(top) == 5

    root = tid(nb, "gcw-root")
    expect(root).to_have_attribute("data-ready", "true")
    expect_drawn(nb, top[0])
    image = tid(nb, "gcw-image")
    expect(image).to_be_visible()
    nb.page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=gcw-image]');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    natural = image.evaluate("(i) => [i.naturalWidth, i.naturalHeight]")
    assert natural == nb.kernel.eval("w.image_size") == [64, 64]
    overlay = tid(nb, "gcw-overlay")
    expect(overlay).to_be_visible()
    size = overlay.evaluate("(c) => [c.width, c.height]")
    assert min(size) > 0
    for k in top:
        expect(tid(nb, f"gcw-class-{k}")).to_be_visible()
    nb.screenshot("rendered")

    # browser -> kernel: click the third-ranked class
    target = top[2]
    tid(nb, f"gcw-class-{target}").click()
    expect_drawn(nb, target)
    waited = nb.kernel.wait_for("w.selected_class", target)
    print(f"[browser] {ui}: kernel saw the click {waited:.2f} s after the map was drawn")

    # kernel -> browser: Python sets the selection
    nb.kernel.execute(f"w.selected_class = {top[1]}")
    expect_drawn(nb, top[1])
    expect(tid(nb, f"gcw-class-{top[1]}")).to_have_attribute("aria-selected", "true")


def test_overlay_pixels_match_numpy_reference(open_notebook):
    # Lab pages run at devicePixelRatio 2: the canvas's own width/height (backing store) count
    nb = open_notebook(widget_cells(), "lab")
    top = top_k_indices(nb)
    info = assert_overlay_matches_kernel(nb)
    print(
        f"[browser] overlay canvas {info['width']}x{info['height']} backing, "
        f"{info['cssWidth']}x{info['cssHeight']} CSS, devicePixelRatio {info['dpr']}, "
        f"largest channel difference {info['max_abs_diff']}"
    )

    # another class, then another colormap (a pure browser-side recolour, synced to the kernel)
    tid(nb, f"gcw-class-{top[3]}").click()
    expect_drawn(nb, top[3])
    nb.kernel.wait_for("w.selected_class", top[3])
    assert_overlay_matches_kernel(nb)

    tid(nb, "gcw-colormap").select_option("viridis")
    nb.kernel.wait_for("w.colormap", "viridis")
    assert_overlay_matches_kernel(nb)


def test_hover_readout_matches_upsampled_map(open_notebook):
    from gradcam_widget.colormaps import bilinear_upsample

    nb = open_notebook(widget_cells(), "lab")
    top = top_k_indices(nb)
    tid(nb, f"gcw-class-{top[1]}").click()
    expect_drawn(nb, top[1])
    nb.kernel.wait_for("w.selected_class", top[1])

    overlay = tid(nb, "gcw-overlay")
    width, height = overlay.evaluate("(c) => [c.width, c.height]")
    heatmap = np.asarray(nb.kernel.eval("w.heatmap.tolist()"), dtype=np.float32)
    values = bilinear_upsample(heatmap, height, width)
    image_w, image_h = nb.kernel.eval("w.image_size")
    overlay.scroll_into_view_if_needed()
    box = overlay.bounding_box()
    readout = tid(nb, "gcw-readout")

    # a few canvas pixels: the hottest, the coldest, and interior ones with mid values
    mids = np.argwhere((values > 0.3) & (values < 0.7))
    picks = [
        tuple(np.unravel_index(values.argmax(), values.shape)),
        tuple(np.unravel_index(values.argmin(), values.shape)),
        tuple(mids[len(mids) // 3]),
        tuple(mids[2 * len(mids) // 3]),
        (height - 1, 0),
    ]
    for cy, cx in picks:
        x = box["x"] + (cx + 0.5) * box["width"] / width
        y = box["y"] + (cy + 0.5) * box["height"] / height
        nb.page.mouse.move(x, y)
        # the readout names the image pixel under the pointer: wait for this one's reading
        ix, iy = int((cx + 0.5) * image_w / width), int((cy + 0.5) * image_h / height)
        expect(readout).to_contain_text(f"x {ix}, y {iy}")
        text = readout.inner_text()
        m = re.search(r"normalised\s+([0-9.]+)", text)
        assert m, f"no normalised value in the readout {text!r}"
        shown = float(m.group(1))
        want = float(values[cy, cx])
        assert abs(shown - want) <= 0.01, (
            f"readout at canvas pixel ({cx}, {cy}) says {shown}, the map says {want:.4f}: "
            f"{text!r} dataset={readout.evaluate('(e) => ({...e.dataset})')}"
        )
    nb.screenshot("hover")


def test_search_picks_class_outside_top_k(open_notebook):
    nb = open_notebook(widget_cells(), "lab")
    outside = non_top_k_indices(nb)
    assert len(outside) == 5
    assert nb.kernel.eval("w.extra_map") == {}

    # by index, timing the click-to-new-map loop in the page itself
    k = outside[0]
    nb.page.evaluate(
        """(k) => {
            window.__gcwPickAt = null; window.__gcwDrawnAt = null;
            document.addEventListener('keydown', (e) => {
                if (e.key === 'Enter') window.__gcwPickAt = performance.now(); }, true);
            const root = document.querySelector('[data-testid=gcw-root]');
            new MutationObserver(() => {
                if (root.dataset.class === String(k) && window.__gcwDrawnAt === null)
                    window.__gcwDrawnAt = performance.now();
            }).observe(root, {attributes: true, attributeFilter: ['data-class']});
        }""",
        k,
    )
    pick_via_search(nb, k, k, how="enter")
    expect_drawn(nb, k)
    ms = nb.page.evaluate("() => window.__gcwDrawnAt - window.__gcwPickAt")
    print(f"[browser] click-to-new-map for a class outside the top-k: {ms:.0f} ms")
    nb.kernel.wait_for("w.selected_class", k)
    assert nb.kernel.eval("w.extra_map['class_index']") == k
    assert_overlay_matches_kernel(nb)

    # by name, clicking the result
    k2 = outside[-1]
    pick_via_search(nb, FRUITS[k2], k2, how="click")
    expect_drawn(nb, k2)
    nb.kernel.wait_for("w.selected_class", k2)
    assert_overlay_matches_kernel(nb)
    nb.screenshot("picked")

    # back to the earlier outside class: served from the browser's cache, same picture
    pick_via_search(nb, k, k, how="enter")
    expect_drawn(nb, k)
    nb.kernel.wait_for("w.selected_class", k)
    assert_overlay_matches_kernel(nb)


def test_rapid_clicks_end_on_the_last_class(open_notebook):
    nb = open_notebook(widget_cells(), "lab")
    top = top_k_indices(nb)
    outside = non_top_k_indices(nb)
    sequence = []
    for i in range(10):  # 20 selections, alternating: outside the top-k, then a top-k entry
        sequence.append(("search", outside[i % len(outside)]))
        sequence.append(("click", top[1 + i % (len(top) - 1)]))
    last = sequence[-1][1]
    assert last != nb.kernel.eval("w.selected_class")

    # The kernel is held busy until the last click, so every reply for an outside class arrives
    # after it: the replies must be cached, not drawn, and the selection must not jump back.
    gate = nb.server.root_dir / f"{nb.label}.release"
    busy, done = start_busy_kernel(nb, gate=gate)
    t0 = time.monotonic()
    for how, k in sequence:
        if how == "click":
            tid(nb, f"gcw-class-{k}").click()
        else:
            pick_via_search(nb, k, k, how="enter")
    elapsed = time.monotonic() - t0
    expect_drawn(nb, last)  # a top-k class: drawn from the browser's maps, no kernel needed
    assert not done.is_set(), "the kernel was released before the last click"
    gate.touch()
    busy.join(timeout=30)
    print(f"[browser] 20 selections sent in {elapsed:.2f} s")

    nb.kernel.wait_for("w.selected_class", last, timeout=30)
    # let the kernel answer every queued selection, then check nothing stale won
    nb.kernel.wait_for("(w.status['state'], w.status['class_index'])", ["ready", last], timeout=30)
    nb.page.wait_for_timeout(300)
    expect_drawn(nb, last)
    expect(tid(nb, f"gcw-class-{last}")).to_have_attribute("aria-selected", "true")
    assert nb.kernel.eval("w.selected_class") == last
    assert_overlay_matches_kernel(nb)

    # one more outside class last: its reply must be drawn
    tid(nb, f"gcw-class-{top[0]}").click()
    pick_via_search(nb, outside[1], outside[1], how="enter")
    expect_drawn(nb, outside[1])
    nb.kernel.wait_for("w.selected_class", outside[1])
    assert_overlay_matches_kernel(nb)


def test_class_names_are_text_not_html(open_notebook):
    evil = [
        '<img src=x onerror="window.__pwned=1">',
        "<script>window.__pwned=2</script>",
        '"><b id="injected">bold</b>',
    ]
    names = evil + FRUITS[len(evil) :]
    nb = open_notebook(widget_cells(class_names=names, top_k=10), "lab")
    root = tid(nb, "gcw-root")
    for i, name in enumerate(evil):
        entry = tid(nb, f"gcw-class-{i}")
        expect(entry).to_contain_text(name)
    # in the search results too, and in the label of the selection
    tid(nb, "gcw-search").fill("<script")
    expect(nb.page.locator(".gcw-results")).to_contain_text(evil[1])
    tid(nb, "gcw-search").press("Enter")
    expect_drawn(nb, 1)
    nb.kernel.wait_for("w.selected_class", 1)
    expect(root).to_contain_text(evil[1])
    tid(nb, "gcw-class-0").click()
    expect_drawn(nb, 0)
    nb.page.wait_for_timeout(200)
    assert nb.page.evaluate("() => typeof window.__pwned") == "undefined"
    found = root.evaluate(
        """(r) => ({img: r.querySelectorAll('img:not([data-testid=gcw-image])').length,
                    script: r.querySelectorAll('script').length,
                    injected: document.getElementById('injected') !== null})"""
    )
    assert found == {"img": 0, "script": 0, "injected": False}, found


def test_opacity_is_css_only_and_synced(open_notebook):
    nb = open_notebook(widget_cells(), "lab")
    overlay = tid(nb, "gcw-overlay")
    slider = tid(nb, "gcw-opacity")
    initial = nb.kernel.eval("w.opacity")
    expect(overlay).to_have_css("opacity", str(initial))
    before, _ = overlay_pixels(nb)

    # With the kernel busy for a while, the slider still acts at once: no kernel round trip.
    busy, done = start_busy_kernel(nb, 2.5)
    slider.scroll_into_view_if_needed()
    t0 = time.monotonic()
    box = slider.bounding_box()
    nb.page.mouse.click(box["x"] + 0.85 * box["width"], box["y"] + box["height"] / 2)
    value = float(slider.input_value())
    assert abs(value - initial) > 0.2, f"clicking the slider at 85% gave {value}"
    expect(overlay).to_have_css("opacity", str(value), timeout=1000)
    acted = time.monotonic() - t0
    assert not done.is_set(), "the kernel went idle before the check: the test proves nothing"
    after, _ = overlay_pixels(nb)
    assert np.array_equal(before, after), "changing opacity must not repaint the map"
    print(f"[browser] opacity {value} applied {acted:.2f} s after the click, kernel still busy")

    busy.join(timeout=30)
    nb.kernel.wait_for("w.opacity", value)  # synced, so to_png() draws what the screen shows

    # and from Python to the browser
    nb.kernel.execute("w.opacity = 0.25")
    expect(overlay).to_have_css("opacity", "0.25")
    expect(slider).to_have_value("0.25")

    # Keyboard users: arrow keys on the focused slider must move it inside JupyterLab too (its
    # notebook shortcuts listen for arrow keys on the document and would swallow them).
    slider.focus()
    slider.press("ArrowRight")
    slider.press("ArrowRight")
    expect(slider).to_have_value("0.27", timeout=2000)
    expect(overlay).to_have_css("opacity", "0.27")
    nb.kernel.wait_for("w.opacity", 0.27)


def test_error_is_shown_and_widget_recovers(open_notebook):
    nb = open_notebook(widget_cells(), "lab")
    top = top_k_indices(nb)
    good_layer = nb.kernel.eval("w.layer")
    status = tid(nb, "gcw-status")
    expect(status).not_to_be_visible()

    nb.kernel.execute('w.layer = "no_such_layer"')
    expect(status).to_be_visible()
    expect(status).to_contain_text("no_such_layer")
    message = status.inner_text()
    assert nb.kernel.eval("w.status['state']") == "error"
    assert "Traceback" not in message
    expect(tid(nb, "gcw-overlay")).to_be_hidden()
    nb.screenshot("error")

    # picking a valid layer in the menu recovers
    tid(nb, "gcw-layer").select_option(good_layer)
    nb.kernel.wait_for("(w.layer, w.status['state'])", [good_layer, "ready"])
    expect(status).not_to_be_visible()
    expect_drawn(nb, top[0])
    expect(tid(nb, "gcw-overlay")).to_be_visible()

    # and the widget keeps working: another class, another method
    tid(nb, f"gcw-class-{top[2]}").click()
    expect_drawn(nb, top[2])
    nb.kernel.wait_for("w.selected_class", top[2])
    tid(nb, "gcw-method").select_option("gradcam++")
    nb.kernel.wait_for("(w.method, w.status['state'])", ["gradcam++", "ready"])
    expect_drawn(nb, top[2])
    assert_overlay_matches_kernel(nb)


def test_preprocessed_array_is_shown_min_max_scaled_with_a_note(open_notebook):
    """Issue 13: the model gets the preprocessed array unchanged; the picture says it was scaled for
    display (as text), and display_image= shows the original instead, with no note."""
    cells = [
        MODEL_CELL,
        "x = (img.astype('float32') - 127.5) / 50.0  # negative values: already preprocessed\n"
        "w = show_gradcam(model, x, class_names=" + repr(FRUITS) + ")\nw",
        "w2 = show_gradcam(model, x, class_names=" + repr(FRUITS) + ", display_image=img)\nw2",
    ]
    nb = open_notebook(cells, "lab")
    expected = nb.kernel.eval("[float(p) for p in model.predict(x[None], verbose=0)[0]]")
    shown = nb.kernel.eval("{t['index']: t['probability'] for t in w.top_classes}")
    assert all(abs(shown[str(k)] - expected[k]) < 1e-5 for k in map(int, shown))
    notes = nb.page.get_by_test_id("gcw-image-note")
    expect(notes.nth(0)).to_be_visible()
    expect(notes.nth(0)).to_contain_text("min-max scaled")
    expect(notes.nth(0)).to_contain_text("display_image=")
    expect(notes.nth(1)).to_be_hidden()
    nb.screenshot("note", scroll_to="[data-testid=gcw-image-note]")
