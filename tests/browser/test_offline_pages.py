"""Pages read without a kernel or a network: an exported notebook and a save_html page.

Each page is opened in Chromium with every request that is not file:, data: or blob: aborted and
recorded, so "offline" is enforced, not assumed.
"""

from __future__ import annotations

import copy
import io
import re
import subprocess
import sys
import textwrap

import nbclient
import nbformat
import numpy as np
import pytest
from conftest import ARTIFACTS_DIR
from PIL import Image
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LOCAL = ("file:", "data:", "blob:", "about:")
NAMES = ["apple", "banana", "cherry", "date", "elderberry", "fig", "grape", "honeydew"]

MODEL_CODE = textwrap.dedent("""
    import numpy as np
    import keras
    from gradcam_widget import show_gradcam

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((64, 64, 3)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.Conv2D(16, 3, activation="relu", name="last_conv"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(8, activation="softmax"),
    ])
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    img = (np.stack([xx, yy, 0.5 * (xx + yy)], axis=-1) * 255).astype(np.uint8)
""")


def offline_page(browser, viewport=(1100, 800)):
    """A page whose every non-local request is aborted; returns (context, page, blocked urls)."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith(LOCAL):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("request", lambda req: None if req.url.startswith(LOCAL) else blocked.append(req.url))
    return context, page, blocked


def element_pixels(locator) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB")).astype(np.int32)


# ------------------------------------------------------------------------------- exported notebook
@pytest.fixture(scope="module")
def executed_notebook(tmp_path_factory):
    """The notebook executed by nbclient, which also saves the widget state in its metadata."""
    folder = tmp_path_factory.mktemp("export")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(MODEL_CODE),
        nbformat.v4.new_code_cell(f"w = show_gradcam(model, img, class_names={NAMES!r}, top_k=5)\nw"),
    ]
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    assert "widgets" in nb.metadata  # the state is saved: the exporter would prefer the widget view
    plain = nb.cells[1].outputs[-1]["data"]["text/plain"]
    top_name = re.search(r"class \d+ '([^']+)'", plain).group(1)
    return folder, nb, top_name


def export_html(folder, nb, name, *extra) -> str:
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", *extra, str(path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return str(folder / f"{name}.html")


def check_still_picture(browser, html_path, top_name, label):
    context, page, blocked = offline_page(browser)
    try:
        page.goto(f"file://{html_path}")
        picture = page.locator("[data-testid=gcw-static] img")
        expect(picture).to_be_visible()
        size = picture.evaluate("(img) => [img.naturalWidth, img.naturalHeight, img.complete]")
        assert size[2] and size[0] >= 256 and size[1] >= 256, size  # display size, not the 64 px image
        box = picture.bounding_box()
        assert box["width"] >= 256, box
        pixels = element_pixels(picture)
        # Non-blank where the map is: many distinct colours, far from a flat page background.
        assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200
        selected = page.locator("[data-testid=gcw-static] li[data-selected=true]")
        expect(selected).to_be_visible()
        assert selected.inner_text().startswith(f"{top_name} (#"), selected.inner_text()
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS_DIR / f"exported-html--{label}.png"))
        return blocked
    finally:
        context.close()


def test_exported_notebook_shows_the_picture_offline(browser, executed_notebook):
    """As JupyterLab and Notebook 7 save a notebook by default (no widget state): the plain
    ``jupyter nbconvert --to html`` page shows the still picture and the class list as text."""
    folder, nb, top_name = executed_notebook
    lab_saved = copy.deepcopy(nb)
    del lab_saved.metadata["widgets"]
    check_still_picture(browser, export_html(folder, lab_saved, "lab-saved"), top_name, "lab-saved")


def test_exported_notebook_with_widget_state_shows_the_picture_through_the_preprocessor(browser, executed_notebook):
    folder, nb, top_name = executed_notebook
    html_path = export_html(
        folder, nb, "with-state", "--Exporter.preprocessors=gradcam_widget.still_pictures.StillPictures"
    )
    check_still_picture(browser, html_path, top_name, "with-state")


# ------------------------------------------------------------------------------- save_html
@pytest.fixture(scope="module")
def saved_page(tmp_path_factory):
    namespace: dict = {}
    exec(MODEL_CODE, namespace)  # noqa: S102 - the same model the notebook builds
    from gradcam_widget import show_gradcam

    w = show_gradcam(namespace["model"], namespace["img"], class_names=NAMES, top_k=3)
    top = [t["index"] for t in w.top_classes]
    outside = [i for i in range(len(NAMES)) if i not in top]
    w.selected_class = outside[0]  # computed on demand before saving: the page has it
    w.selected_class = top[0]
    path = tmp_path_factory.mktemp("saved") / "widget.html"
    size = w.save_html(path)
    assert size == path.stat().st_size
    return path, w, top, outside


def overlay_pixels(page):
    return page.get_by_test_id("gcw-overlay").evaluate(
        "(c) => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"
    )


def test_saved_page_is_interactive_offline(browser, saved_page):
    path, _w, top, outside = saved_page
    context, page, blocked = offline_page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"file://{path}")
        root = page.get_by_test_id("gcw-root")
        expect(root).to_have_attribute("data-ready", "true")
        expect(root).to_have_attribute("data-class", str(top[0]))
        first = overlay_pixels(page)

        # Hover: the readout reads the drawn map, and differs between two places.
        overlay = page.get_by_test_id("gcw-overlay")
        box = overlay.bounding_box()
        readout = page.get_by_test_id("gcw-readout")
        overlay.hover(position={"x": 5.5, "y": 5.5})
        expect(readout).to_have_attribute("data-normalised", re.compile(r"\d"))
        a = float(readout.get_attribute("data-normalised"))
        overlay.hover(position={"x": box["width"] / 2 + 0.5, "y": box["height"] / 2 + 0.5})
        expect(readout).not_to_have_attribute("data-normalised", str(a))

        # Another top-k class: its map is drawn.
        page.get_by_test_id(f"gcw-class-{top[1]}").click()
        expect(root).to_have_attribute("data-class", str(top[1]))
        assert overlay_pixels(page) != first

        # A class computed on demand before saving: drawn from the page's maps.
        search = page.get_by_test_id("gcw-search")
        search.fill(NAMES[outside[0]])
        search.press("Enter")
        expect(root).to_have_attribute("data-class", str(outside[0]))

        # A class never computed: says it needs the kernel, in place of the map.
        search.fill(NAMES[outside[1]])
        search.press("Enter")
        status = page.get_by_test_id("gcw-status")
        expect(status).to_have_attribute("data-state", "error")
        expect(status).to_contain_text("needs the Python kernel")

        # Back to a top class: usable again. Colormap and opacity work without a kernel.
        page.get_by_test_id(f"gcw-class-{top[0]}").click()
        expect(root).to_have_attribute("data-class", str(top[0]))
        expect(status).to_have_attribute("data-state", "ready")
        before = overlay_pixels(page)
        page.get_by_test_id("gcw-colormap").select_option("viridis")
        page.wait_for_function("() => true")
        assert overlay_pixels(page) != before
        page.get_by_test_id("gcw-opacity").fill("0.9")
        expect(overlay).to_have_css("opacity", "0.9")

        # A method not computed before saving.
        page.get_by_test_id("gcw-method").select_option("layercam")
        expect(status).to_have_attribute("data-state", "error")
        expect(status).to_contain_text("needs the Python kernel")
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS_DIR / "save-html--offline.png"))
    finally:
        context.close()
    assert not errors, errors
    assert not blocked, f"the saved page made requests: {blocked}"


# ------------------------------------------------------------------------------- themes outside Jupyter
# VS Code cannot run here; its notebook outputs define --vscode-* variables. These are the values of
# VS Code's "Dark Modern" and "Light Modern" themes for the variables the widget reads.
VSCODE = {
    "vscode-dark": {
        "--vscode-foreground": "#cccccc",
        "--vscode-descriptionForeground": "#9d9d9d",
        "--vscode-editor-background": "#1f1f1f",
        "--vscode-sideBar-background": "#181818",
        "--vscode-panel-border": "#2b2b2b",
        "--vscode-focusBorder": "#0078d4",
        "--vscode-input-background": "#313131",
        "--vscode-errorForeground": "#f85149",
    },
    "vscode-light": {
        "--vscode-foreground": "#3b3b3b",
        "--vscode-descriptionForeground": "#3b3b3b",
        "--vscode-editor-background": "#ffffff",
        "--vscode-sideBar-background": "#f8f8f8",
        "--vscode-panel-border": "#e5e5e5",
        "--vscode-focusBorder": "#005fb8",
        "--vscode-input-background": "#ffffff",
        "--vscode-errorForeground": "#f85149",
    },
}


@pytest.mark.parametrize("theme", ["light", "dark", "vscode-dark", "vscode-light"])
def test_saved_page_is_readable_in_every_theme(browser, saved_page, theme):
    """No host variables: the reader's light/dark preference; VS Code's variables when present."""
    from contrast import assert_readable

    path, _w, top, _outside = saved_page
    context = browser.new_context(
        color_scheme="dark" if "dark" in theme else "light", viewport={"width": 1100, "height": 800}
    )
    try:
        page = context.new_page()
        page.goto(f"file://{path}")
        if theme in VSCODE:
            style = ":root{" + ";".join(f"{k}:{v}" for k, v in VSCODE[theme].items()) + "}"
            page.add_style_tag(content=style)
        root = page.get_by_test_id("gcw-root")
        expect(root).to_have_attribute("data-ready", "true")
        assert_readable(root, must_include=("gcw-class-name",))
        # The "needs the kernel" message in place of the map is readable too.
        page.get_by_test_id("gcw-method").select_option("layercam")
        expect(page.get_by_test_id("gcw-status")).to_have_attribute("data-state", "error")
        results = assert_readable(root)
        assert any("gcw-status" in r["cls"] for r in results)
        background = root.evaluate("(r) => getComputedStyle(r).backgroundColor")
        expected = {
            "vscode-dark": "rgb(31, 31, 31)",
            "vscode-light": "rgb(255, 255, 255)",
            "dark": "rgb(30, 30, 30)",
            "light": "rgb(255, 255, 255)",
        }[theme]
        assert background == expected
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS_DIR / f"save-html--{theme}.png"))
    finally:
        context.close()
