"""The widget in other hosts and themes: a marimo app (light and dark), JupyterLab's dark theme.

marimo renders widgets inside a shadow root, where ``document.activeElement`` is the host element:
the arrow-key walk through the whole class list checks the front end reads focus from its own root.
Contrast is measured from the rendered styles (tests/browser/contrast.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import (
    ARTIFACTS_DIR,
    WIDGET_READY,
    HarnessError,
    free_port,
    require_browser,
    wait_until,
)
from contrast import assert_readable
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

APP = Path(__file__).with_name("marimo_app.py")
SELECTED_THINGS = ("gcw-class-name", "gcw-trust-toggle", "gcw-trust-thumb-label")


# ------------------------------------------------------------------------------------------ marimo
class MarimoApp:
    """``marimo run`` of tests/browser/marimo_app.py on 127.0.0.1 and a free port; theme "system"
    (so a page's emulated colour scheme picks light or dark). Stopped by its PID."""

    def __init__(self, base: Path):
        self.base = base
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = base / "marimo.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> None:
        config = self.base / "xdg" / "marimo"
        config.mkdir(parents=True)
        (config / "marimo.toml").write_text('[display]\ntheme = "system"\n')
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(self.base / "xdg"),
            "MARIMO_SKIP_UPDATE_CHECK": "1",
            "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            "CUDA_VISIBLE_DEVICES": "-1",
        }
        env.pop("ANYWIDGET_HMR", None)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "marimo",
                    "-y",
                    "run",
                    str(APP),
                    "--headless",
                    "--host",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "--no-token",
                ],
                cwd=self.base,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def up():
            if self.proc.poll() is not None:
                raise HarnessError(f"marimo exited: {self.log.read_text()[-2000:]}")
            with urllib.request.urlopen(self.url, timeout=2) as r:
                return r.status == 200

        wait_until(up, timeout, "marimo to answer")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def marimo_app(tmp_path_factory):
    require_browser()
    app = MarimoApp(tmp_path_factory.mktemp("marimo"))
    app.start()
    yield app
    app.stop()


@pytest.fixture
def marimo_page(browser, marimo_app, request):
    """A page of the app in the colour scheme of the test's parameter (default light)."""
    scheme = getattr(request, "param", "light")
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1200, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(marimo_app.url)
    expect(page.locator(WIDGET_READY)).to_be_visible(timeout=120_000)
    yield page, scheme
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS_DIR / f"marimo-{scheme}--{request.node.name.split('[')[0]}.png"))
    context.close()
    assert not [e for e in errors if "gcw" in e or "gradcam" in e], errors


def python_says(page):
    return page.get_by_test_id("py-selected")


def test_marimo_click_keys_hover_opacity_reach_python(marimo_page):
    page, _ = marimo_page
    root = page.get_by_test_id("gcw-root")
    options = page.locator(".gcw-class")
    expect(options).to_have_count(5)
    indices = [int(i) for i in options.evaluate_all("(os) => os.map((o) => o.dataset.index)")]
    expect(python_says(page)).to_contain_text(f"selected in Python: {indices[0]} ")

    # A click reaches Python: marimo re-runs the cell that reads the widget.
    page.get_by_test_id(f"gcw-class-{indices[2]}").click()
    expect(python_says(page)).to_contain_text(f"selected in Python: {indices[2]} ")
    expect(root).to_have_attribute("data-class", str(indices[2]))

    # Arrow keys walk the whole list (in a shadow root), then Home goes back to the first.
    page.get_by_test_id(f"gcw-class-{indices[0]}").click()
    expect(python_says(page)).to_contain_text(f"selected in Python: {indices[0]} ")
    for k in indices[1:]:
        page.keyboard.press("ArrowDown")
        expect(page.get_by_test_id(f"gcw-class-{k}")).to_have_attribute("aria-selected", "true")
        expect(root).to_have_attribute("data-class", str(k))
    expect(python_says(page)).to_contain_text(f"selected in Python: {indices[-1]} ")
    page.keyboard.press("ArrowDown")  # stays on the last
    expect(page.get_by_test_id(f"gcw-class-{indices[-1]}")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Home")
    expect(python_says(page)).to_contain_text(f"selected in Python: {indices[0]} ")
    focused = page.evaluate(
        "() => document.activeElement.shadowRoot?.activeElement?.dataset?.index"
        " ?? document.activeElement?.dataset?.index"
    )
    assert focused == str(indices[0])

    # Hover reads the map.
    overlay = page.get_by_test_id("gcw-overlay")
    overlay.hover(position={"x": 10.5, "y": 10.5})
    readout = page.get_by_test_id("gcw-readout")
    expect(readout).to_have_attribute("data-normalised", re.compile(r"\d"))

    # Opacity: CSS at once, and Python sees it.
    page.get_by_test_id("gcw-opacity").fill("0.8")
    expect(overlay).to_have_css("opacity", "0.8")
    expect(python_says(page)).to_contain_text("opacity 0.80")


@pytest.mark.parametrize("marimo_page", ["light", "dark"], indirect=True)
def test_marimo_theme_contrast(marimo_page):
    page, scheme = marimo_page
    is_dark = page.evaluate("() => document.body.classList.contains('dark-theme')")
    assert is_dark == (scheme == "dark")
    open_trust_panel(page)
    results = assert_readable(page.get_by_test_id("gcw-root"), must_include=SELECTED_THINGS)
    background = page.get_by_test_id("gcw-root").evaluate("(r) => getComputedStyle(r).backgroundColor")
    assert (background != "rgb(255, 255, 255)") == (scheme == "dark"), background  # no white slab
    assert len(results) > 20


def open_trust_panel(page, timeout_ms=180_000):
    toggle = page.get_by_test_id("gcw-trust-toggle")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_test_id("gcw-trust")).to_have_attribute("data-state", "ready", timeout=timeout_ms)
    expect(page.locator(".gcw-trust-thumb[aria-pressed=true]")).to_have_count(1)


# ------------------------------------------------------------------------------------------ JupyterLab
LAB_CELLS = [
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
yy, xx = np.mgrid[0:64, 0:64] / 63.0
img = (np.stack([xx, yy, 0.5 * (xx + yy)], axis=-1) * 255).astype(np.uint8)
""",
    "w = show_gradcam(model, img, top_k=5)\nw",
]


def set_lab_theme(page, theme: str) -> None:
    page.evaluate("(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", theme)
    wait_until(lambda: page.evaluate("(t) => document.body.dataset.jpThemeName === t", theme), 30, f"the {theme} theme")
    time.sleep(0.3)  # the theme's stylesheet applies after the attribute


@pytest.mark.parametrize("theme", ["JupyterLab Dark", "JupyterLab Light"])
def test_jupyterlab_theme_contrast(open_notebook, theme):
    nb = open_notebook(LAB_CELLS, "lab")
    page = nb.page
    try:
        set_lab_theme(page, theme)
        open_trust_panel(page)
        root = page.get_by_test_id("gcw-root")
        results = assert_readable(root, must_include=SELECTED_THINGS)
        assert len(results) > 20
        dark = "Dark" in theme
        background = root.evaluate("(r) => getComputedStyle(r).backgroundColor")
        assert (background != "rgb(255, 255, 255)") == dark, background
        nb.screenshot(theme.replace(" ", "-").lower(), scroll_to="[data-testid=gcw-root]")
    finally:
        set_lab_theme(page, "JupyterLab Light")  # the setting is the server's: later tests get light


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_arrow_keys_walk_the_whole_class_list_in_jupyter(open_notebook, ui):
    nb = open_notebook(LAB_CELLS, ui)
    page = nb.page
    options = page.locator(".gcw-class")
    expect(options).to_have_count(5)
    indices = [int(i) for i in options.evaluate_all("(os) => os.map((o) => o.dataset.index)")]
    page.get_by_test_id(f"gcw-class-{indices[0]}").click()
    for k in indices[1:]:
        page.keyboard.press("ArrowDown")
        expect(page.get_by_test_id(f"gcw-class-{k}")).to_have_attribute("aria-selected", "true")
    nb.kernel.wait_for("w.selected_class", indices[-1])
    page.keyboard.press("Home")
    nb.kernel.wait_for("w.selected_class", indices[0])
