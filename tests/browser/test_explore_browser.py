"""The misclassification explorer in JupyterLab: a confusion-cell click filters the gallery to
exactly that cell's images, a thumbnail click shows the detail maps and moves ``w.selected``."""

from __future__ import annotations

import inspect
import json

import pytest
from playwright.sync_api import expect

from engine_models import colour_model, colour_patches

pytestmark = pytest.mark.browser

EXPLORER_READY = "[data-testid=gcx-root][data-ready=true]"

CELLS = [
    # the same model and data as tests/test_explore.py, sent to the kernel as source
    "import numpy as np\nimport keras\nfrom gradcam_widget.explore import explore_misclassifications\n\n"
    + inspect.getsource(colour_model)
    + "\n"
    + inspect.getsource(colour_patches)
    + "\nmodel = colour_model(16)\nimages, labels = colour_patches(120, 16)\n",
    'w = explore_misclassifications(model, images, labels, class_names=["red", "green", "blue", "grey"])\nw',
]


def tid(nb, name):
    return nb.page.get_by_test_id(name)


def shown_thumbs(nb):
    return nb.page.eval_on_selector_all(
        "[data-testid=gcx-gallery] .gcx-thumb",
        "(ts) => ts.map((t) => [Number(t.dataset.index), Number(t.dataset.true), Number(t.dataset.pred)])",
    )


def open_cell(nb, t, p):
    """Click confusion cell (t, p); wait until the gallery shows the reply for exactly that cell."""
    tid(nb, f"gcx-cell-{t}-{p}").click()
    key = json.dumps(["all", t, p, 0], separators=(",", ":"))
    expect(tid(nb, "gcx-gallery")).to_have_attribute("data-key", key)
    expect(tid(nb, "gcx-gallery")).to_have_attribute("data-state", "ready")
    return shown_thumbs(nb)


def test_cell_filters_gallery_and_thumbnail_opens_detail(open_notebook):
    nb = open_notebook(CELLS, "lab", ready=EXPLORER_READY)
    confusion = nb.kernel.eval("w.confusion.tolist()")
    off = [(confusion[t][p], t, p) for t in range(4) for p in range(4) if t != p and confusion[t][p] > 0]
    count, t, p = max(off)
    assert 1 < count <= nb.kernel.eval("w.view.page_size")  # the whole cell fits on one page

    # The matrix shows the kernel's counts.
    expect(tid(nb, f"gcx-cell-{t}-{p}")).to_have_text(str(count))

    # An off-diagonal cell: the gallery shows exactly that cell's images, in the kernel's order.
    thumbs = open_cell(nb, t, p)
    expected = nb.kernel.eval(f"np.flatnonzero((labels == {t}) & (w.predictions.predicted == {p})).tolist()")
    assert sorted(i for i, _, _ in thumbs) == expected and len(thumbs) == count
    assert all((tt, pp) == (t, p) for _, tt, pp in thumbs)
    assert [i for i, _, _ in thumbs] == nb.kernel.eval("w.view.gallery_indices.tolist()")
    expect(tid(nb, f"gcx-cell-{t}-{p}")).to_have_attribute("aria-pressed", "true")

    # The diagonal is a cell too.
    diagonal = open_cell(nb, 2, 2)
    assert len(diagonal) == min(confusion[2][2], nb.kernel.eval("w.view.page_size"))
    assert all((tt, pp) == (2, 2) for _, tt, pp in diagonal)

    # The "show" menu: correct images of every class.
    tid(nb, "gcx-status").select_option("correct")
    key = json.dumps(["correct", 2, 2, 0], separators=(",", ":"))
    expect(tid(nb, "gcx-gallery")).to_have_attribute("data-key", key)  # the class filters stay
    expect(tid(nb, "gcx-gallery")).to_have_attribute("data-total", str(confusion[2][2]))
    tid(nb, "gcx-true").select_option("-1")
    tid(nb, "gcx-pred").select_option("-1")
    expect(tid(nb, "gcx-gallery")).to_have_attribute("data-total", str(sum(confusion[k][k] for k in range(4))))

    # Back to the off-diagonal cell; a thumbnail click opens the detail and reaches the kernel.
    index = open_cell(nb, t, p)[0][0]
    tid(nb, f"gcx-thumb-{index}").click()
    nb.kernel.wait_for("w.selected", index)
    maps = nb.page.locator("[data-testid=gcw-root][data-ready=true]")
    expect(maps).to_have_count(3, timeout=20_000)  # predicted, true, contrastive
    expect(maps.nth(0)).to_have_attribute("data-class", str(p))
    expect(maps.nth(1)).to_have_attribute("data-class", str(t))
    expect(maps.nth(2)).to_have_attribute("data-class", str(p))
    expect(tid(nb, f"gcx-thumb-{index}")).to_have_attribute("aria-pressed", "true")
    nb.screenshot("explorer", scroll_to="[data-testid=gcx-root]")

    # The "why predicted rather than true" panel's trust report completes (issue 13).
    contrast = maps.nth(2)
    contrast.get_by_test_id("gcw-trust-toggle").click()
    report = contrast.get_by_test_id("gcw-trust")
    expect(report).to_have_attribute("data-state", "ready", timeout=120_000)
    expect(contrast.get_by_test_id("gcw-trust-randomization")).not_to_be_empty()
    assert nb.kernel.eval("w.detail_widgets[2].trust['state']") == "ready"
    nb.screenshot("contrast-trust", scroll_to="[data-testid=gcw-trust]")

    # And back: Python selects another image of the page, the browser follows.
    other = thumbs[-1][0]
    nb.kernel.execute(f"w.selected = {other}")
    expect(tid(nb, f"gcx-thumb-{other}")).to_have_attribute("aria-pressed", "true")
    expect(tid(nb, f"gcx-thumb-{index}")).to_have_attribute("aria-pressed", "false")
