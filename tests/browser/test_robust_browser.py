"""The widget stays right when things change (issue 14), in JupyterLab through Chromium: retrained
weights (stale indicator, refresh), hostile values set on the page's own widget model, a kernel
interrupt during Score-CAM (progress shown, work stopped), and odd class names."""

from __future__ import annotations

import math
import textwrap

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# The page's own ipywidgets model of the first widget in the notebook (JupyterLab's output area ->
# the widget renderer -> its view): values set here travel to the kernel exactly as the widget's.
PAGE_MODEL = """
const panel = window.jupyterapp.shell.currentWidget;
let model = null;
for (const cell of panel.content.widgets) for (const child of cell.outputArea?.widgets ?? [])
  for (const out of child.widgets ?? []) for (const view of out.widgets ?? [])
    if (!model && view._view?.model?.get("_esm") !== undefined) model = view._view.model;
if (!model) throw new Error("no widget model in the page");
"""
SET_FROM_PAGE = "([name, value]) => {" + PAGE_MODEL + "model.set(name, value); model.save_changes(); return true; }"
PAGE_HOLDS = "([name, want]) => {" + PAGE_MODEL + "return JSON.stringify(model.get(name)) === JSON.stringify(want); }"

MODEL_CELL = textwrap.dedent(
    """
    import numpy as np
    import keras
    from gradcam_widget import show_gradcam, Explainer

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.Conv2D(16, 3, activation="relu", name="last_conv"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(6, activation="softmax"),
    ])
    img = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    """
)


def tid(nb, name):
    return nb.page.get_by_test_id(name)


def log_console_text(nb) -> str:
    return nb.page.evaluate(
        "() => Array.from(document.querySelectorAll('.jp-LogConsolePanel')).map((e) => e.innerText).join('\\n')"
    )


def open_log_console(nb) -> None:
    nb.page.evaluate("() => window.jupyterapp.commands.execute('logconsole:open', {insertMode: 'split-bottom'})")
    nb.page.locator(".jp-LogConsolePanel").first.wait_for(timeout=10_000)


def close_log_console(nb) -> None:
    nb.page.evaluate("""() => { for (const w of Array.from(window.jupyterapp.shell.widgets('down')))
                                  if (w.node.classList.contains('jp-LogConsole')) w.close(); }""")
    nb.page.locator(".jp-LogConsolePanel").first.wait_for(state="detached", timeout=10_000)


def test_stale_after_training_shows_and_refresh_clears_it(open_notebook):
    nb = open_notebook([MODEL_CELL, "w = show_gradcam(model, img, top_k=3)\nw"], "lab")
    stale = tid(nb, "gcw-stale")
    expect(stale).to_be_hidden()
    nb.kernel.execute(
        textwrap.dedent("""
        rng = np.random.default_rng(1)
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
        model.fit(rng.uniform(0, 255, (16, 32, 32, 3)), rng.integers(0, 6, 16), epochs=1, verbose=0)
    """)
    )
    expect(stale).to_be_visible()  # checked after the cell that trained
    expect(stale).to_contain_text("weights changed")
    assert nb.kernel.eval("w.stale") is True
    nb.screenshot("stale")
    tid(nb, "gcw-refresh").click()
    expect(stale).to_be_hidden()
    nb.kernel.wait_for("w.stale", False)
    same = nb.kernel.eval(
        textwrap.dedent("""(lambda fresh: (
        [t['index'] for t in w.top_classes] == [int(i) for i in np.argsort(-fresh.scores(img).probabilities,
                                                                             kind='stable')[:3]]
        and all(np.array_equal(np.frombuffer(m['raw'], '<f4').reshape(m['height'], m['width']),
                               fresh.cam(img, m['class_index']).raw) for m in w.maps)))(Explainer(model))""")
    )
    assert same is True
    # the next click works and what the browser draws came from the kernel's new maps
    k = nb.kernel.eval("w.top_classes[1]['index']")
    tid(nb, f"gcw-class-{k}").click()
    nb.kernel.wait_for("w.selected_class", k)
    expect(tid(nb, "gcw-root")).to_have_attribute("data-class", str(k))


REFUSED = [
    ("selected_class", -5),
    ("selected_class", 1e9),
    ("selected_class", float("nan")),
    ("selected_class", "3"),
    ("selected_class", 2.5),
    ("opacity", 5),
    ("colormap", "nope"),
    ("method", None),
]


def test_refused_page_values_snap_back_with_a_reason_and_no_traceback(open_notebook):
    nb = open_notebook([MODEL_CELL, "w = show_gradcam(model, img, top_k=3, opacity=0.4)\nw"], "lab")
    open_log_console(nb)
    try:
        _refuse_each_value(nb)
    finally:
        close_log_console(nb)


def _refuse_each_value(nb):
    notice = tid(nb, "gcw-notice")
    for name, value in REFUSED:
        kernel_value = nb.kernel.eval(f"w.{name}")
        if isinstance(value, float) and math.isnan(value):
            nb.page.evaluate("() => {" + PAGE_MODEL + "model.set('selected_class', NaN); model.save_changes(); }")
        else:
            nb.page.evaluate(SET_FROM_PAGE, [name, value])
        expect(notice).to_be_visible()
        expect(notice).to_contain_text(name)
        nb.page.wait_for_function(PAGE_HOLDS, arg=[name, kernel_value], timeout=10_000)  # snapped back
        assert nb.kernel.eval(f"w.{name}") == kernel_value
    # the controls show the kernel's values again
    assert tid(nb, "gcw-opacity").input_value() == "0.4"
    assert tid(nb, "gcw-colormap").input_value() == "jet"
    assert tid(nb, "gcw-method").input_value() == "gradcam"
    expect(tid(nb, "gcw-selected")).not_to_contain_text("-5")
    nb.screenshot("refused")
    # the next click works and clears the notice
    k = nb.kernel.eval("w.top_classes[1]['index']")
    tid(nb, f"gcw-class-{k}").click()
    nb.kernel.wait_for("w.selected_class", k)
    expect(notice).to_be_hidden()
    expect(tid(nb, "gcw-root")).to_have_attribute("data-class", str(k))
    nb.page.wait_for_timeout(300)
    assert "No log messages" in log_console_text(nb), log_console_text(nb)
    # control: ipywidgets' own set_state would have put a traceback in this log console
    nb.discard_kernel = True
    nb.kernel.execute(
        "import anywidget\nfrom gradcam_widget.widget import GradCAMWidget\n"
        "GradCAMWidget.set_state = anywidget.AnyWidget.set_state"
    )
    nb.page.evaluate(SET_FROM_PAGE, ["selected_class", -5])
    nb.page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.jp-LogConsolePanel'))"
        ".some((e) => e.innerText.includes('TraitError'))",
        timeout=10_000,
    )


SLOW_CELLS = [
    textwrap.dedent(
        """
    import threading
    import numpy as np
    import keras
    from gradcam_widget import Explainer, GradCAMWidget

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(8, 3, strides=4, activation="relu"),
        keras.layers.Conv2D(4096, 1, activation="relu", name="wide"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(5, activation="softmax"),
    ])
    img = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    ex = Explainer(model, scorecam_channels=None, batch_size=1)
    """
    ),
    "w = GradCAMWidget(ex, img, top_k=3)\nw",
]


def test_interrupt_stops_scorecam_and_progress_is_shown(open_notebook):
    nb = open_notebook(SLOW_CELLS, "lab")
    tid(nb, "gcw-method").select_option("scorecam")
    status = tid(nb, "gcw-status")
    expect(status).to_contain_text("masked passes", timeout=30_000)  # the kernel's progress, in the page
    assert "/4096 masked passes" in status.inner_text()
    nb.screenshot("progress")
    assert nb.kernel.eval("w.busy") is True
    nb.server.api("POST", f"/api/kernels/{nb.kernel.kernel_id}/interrupt")
    nb.kernel.wait_for("w.busy", False, timeout=20)
    alive = nb.kernel.eval("[t.name for t in threading.enumerate() if t.name.startswith('gradcam-widget-worker')]")
    assert alive == []
    done = nb.kernel.eval("ex.masked_pass_count")
    assert done < 4096
    nb.page.wait_for_timeout(500)
    assert nb.kernel.eval("ex.masked_pass_count") == done  # nothing runs after the stop
    expect(status).to_contain_text("interrupted")
    # the widget still works
    tid(nb, "gcw-method").select_option("gradcam")
    nb.kernel.wait_for("(w.method, w.status['state'])", ["gradcam", "ready"])
    expect(status).to_be_hidden()


NAMES_CELL = textwrap.dedent(
    """
    names = ["cat", "x" * 10_000, "abc\\u202edef", "bad \\udcff name", "dog", "emu"]
    w = show_gradcam(model, img, class_names=names, top_k=6)
    w
    """
)


def _chars_x(locator, a: str, b: str):
    """Screen x of the first characters a and b in an element's text (visual order)."""
    return locator.evaluate(
        """(el, [a, b]) => {
             const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
             const at = {};
             for (let node = walker.nextNode(); node; node = walker.nextNode()) {
               for (const ch of [a, b]) {
                 const i = node.data.indexOf(ch);
                 if (i >= 0 && !(ch in at)) {
                   const range = document.createRange(); range.setStart(node, i); range.setEnd(node, i + 1);
                   at[ch] = range.getBoundingClientRect().left;
                 }
               }
             }
             return [at[a], at[b]];
           }""",
        [a, b],
    )


def test_odd_names_render_bounded_in_order_with_a_warning(open_notebook):
    nb = open_notebook([MODEL_CELL, NAMES_CELL], "lab")
    root = tid(nb, "gcw-root")
    warning = nb.page.locator(".jp-Notebook .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    expect(warning).to_contain_text("class_names[3] contains invalid Unicode")
    assert root.bounding_box()["height"] < 900
    long_option = tid(nb, "gcw-class-1")
    assert long_option.bounding_box()["height"] < 60
    assert long_option.get_attribute("aria-label") == "x" * 10_000 + " (#1)"
    # the right-to-left override stays inside its name: "#2" is drawn "#" then "2", after the name
    rlo = tid(nb, "gcw-class-2")
    hash_x, two_x = _chars_x(rlo.locator(".gcw-class-index"), "#", "2")
    assert hash_x < two_x
    name_box = rlo.locator(".gcw-class-name").bounding_box()
    assert name_box["x"] + name_box["width"] <= rlo.locator(".gcw-class-index").bounding_box()["x"] + 1
    rlo.click()
    nb.kernel.wait_for("w.selected_class", 2)
    selected = tid(nb, "gcw-selected")
    open_x, hash_x = _chars_x(selected, "(", "#")
    assert open_x < hash_x
    tid(nb, "gcw-class-1").click()
    nb.kernel.wait_for("w.selected_class", 1)
    assert selected.bounding_box()["height"] < 40
    assert root.bounding_box()["height"] < 900
    assert nb.kernel.eval("w.class_names[3]") == "bad \ufffd name"
    nb.screenshot("names")
