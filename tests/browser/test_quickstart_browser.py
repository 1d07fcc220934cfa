"""The quickstart notebook's real-model cells in JupyterLab: the cat, EfficientNet-Lite0, hover, trust panel.

The cells are read from notebooks/01-quickstart.ipynb itself (all but the last, which tries the
internet for VGG16), so this checks what a reader sees, not a copy of it.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01-quickstart.ipynb"
REPORT_TIMEOUT_MS = 240_000  # the trust report on a real 224x224 network, 2 busy cores


def quickstart_cells() -> list[str]:
    cells = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    assert "VGG16" in cells[-1]
    return cells[:-1]


def test_quickstart_shows_the_real_model_on_the_cat(open_notebook):
    nb = open_notebook(quickstart_cells(), "lab", timeout=240)
    page = nb.page
    assert nb.kernel.eval("names[w.selected_class]") == "tiger cat"
    root = page.get_by_test_id("gcw-root").first
    expect(root).to_contain_text("tiger cat")
    expect(root).to_contain_text("Egyptian cat")

    # hover: the readout reads the map under the pointer
    overlay = page.get_by_test_id("gcw-overlay").first
    overlay.scroll_into_view_if_needed()
    box = overlay.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.4)
    readout = page.get_by_test_id("gcw-readout").first
    expect(readout).to_contain_text("normalised")
    assert re.search(r"normalised [0-9.]+ · raw \S+ · x \d+, y \d+", readout.inner_text())
    nb.screenshot("hover")  # no scrolling: the pointer stays on the picture

    # the second view has its trust panel open; the report arrives and names the class
    panel = page.get_by_test_id("gcw-trust").last
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("data-state", "ready", timeout=REPORT_TIMEOUT_MS)
    expect(page.get_by_test_id("gcw-trust-faithfulness").last).to_contain_text("tiger cat")
    panel.scroll_into_view_if_needed()
    nb.screenshot("trust")
