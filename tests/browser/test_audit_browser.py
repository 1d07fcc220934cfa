"""The explorer on an audit table in JupyterLab (issue 19): 2,000 audited rows, sorted and
thresholded from the browser's menus, and a confusion cell's mean stored map drawn with the
kernel's numbers (pixels compared with the kernel's own colouring of the same mean)."""

from __future__ import annotations

import inspect
import json

import pytest
from playwright.sync_api import expect

from engine_models import colour_model, colour_patches

pytestmark = pytest.mark.browser

EXPLORER_READY = "[data-testid=gcx-root][data-ready=true]"
N = 2000

CELLS = [
    "import numpy as np\nimport keras\nfrom gradcam_widget import audit, explore_misclassifications\n\n"
    + inspect.getsource(colour_model)
    + "\n"
    + inspect.getsource(colour_patches)
    + f"\nmodel = colour_model(16)\nimages, labels = colour_patches({N}, 16)\n"
    + f"boxes = [(0, 0, 8, 16)] * {N}  # the left half: 'right for the wrong reason' = energy on the right\n"
    + "table = audit(model, images, labels, boxes=boxes, maps='uint8', chunk_size=256, progress_after=3600)\n",
    'w = explore_misclassifications(table, model=model, images=images, class_names=["red", "green", "blue", "grey"])\nw',
]


def tid(nb, name):
    return nb.page.get_by_test_id(name)


def shown(nb):
    return nb.page.eval_on_selector_all(
        "[data-testid=gcx-gallery] .gcx-thumb", "(ts) => ts.map((t) => Number(t.dataset.index))"
    )


def wait_gallery(nb, key, sort, minimum):
    """The gallery shows the kernel's reply to exactly these filters, this sort and threshold."""
    nb.kernel.wait_for("[w.view.gallery['sort'], w.view.gallery['min']]", [sort, minimum])
    expect(tid(nb, "gcx-gallery")).to_have_attribute("data-key", json.dumps(key, separators=(",", ":")))
    expect(tid(nb, "gcx-gallery")).to_have_attribute("data-state", "ready")


def test_audit_explorer_sorts_filters_and_shows_cell_mean_map(open_notebook):
    nb = open_notebook(CELLS, "lab", ready=EXPLORER_READY, timeout=120)
    assert nb.kernel.eval("len(table)") == N
    assert nb.kernel.eval("w.view.summary['total']") == N

    # Opens on the most mistaken first (wrong images only), in the table's order of mistakenness.
    expect(tid(nb, "gcx-gallery-heading")).to_contain_text("most mistaken first")
    first = nb.kernel.eval(
        "[int(i) for i in np.argsort(-table['mistakenness'].to_numpy(), kind='stable')"
        " if table['pred'][i] != table['label'][i]][: w.view.page_size]"
    )
    assert shown(nb) == first
    assert nb.kernel.eval("len(w.view.gallery['indices'])") == len(first)  # one page reaches the browser

    # The browser's menus: every image, energy outside the box >= 0.6, most outside first.
    tid(nb, "gcx-status").select_option("all")
    tid(nb, "gcx-sort").select_option("energy_outside")
    tid(nb, "gcx-min").fill("0.6")
    tid(nb, "gcx-min").press("Enter")
    wait_gallery(nb, ["all", -1, -1, 0], "energy_outside", 0.6)
    expected = nb.kernel.eval(
        "[int(i) for i in np.argsort(table['pred_energy_in'].to_numpy(), kind='stable')"
        " if 1 - table['pred_energy_in'][i] >= 0.6]"
    )
    assert expected and len(expected) < N  # the threshold keeps some, not all
    assert shown(nb) == expected[: nb.kernel.eval("w.view.page_size")]
    expect(tid(nb, "gcx-gallery")).to_have_attribute("data-total", str(len(expected)))
    expect(tid(nb, "gcx-gallery-heading")).to_contain_text("energy outside the box")

    # A confusion cell: its images, and its mean stored map drawn from the kernel's numbers.
    tid(nb, "gcx-min").fill("0")
    tid(nb, "gcx-min").press("Enter")
    wait_gallery(nb, ["all", -1, -1, 0], "energy_outside", 0.0)
    confusion = nb.kernel.eval("w.confusion.tolist()")
    count, t, p = max((confusion[t][p], t, p) for t in range(4) for p in range(4) if t != p)
    tid(nb, f"gcx-cell-{t}-{p}").click()
    wait_gallery(nb, ["all", t, p, 0], "energy_outside", 0.0)
    assert sorted(shown(nb)) == nb.kernel.eval(
        f"sorted(np.flatnonzero((table['label'] == {t}) & (table['pred'] == {p})).tolist())"
    )
    box = tid(nb, "gcx-cell-map")
    expect(box).to_have_attribute("data-state", "ready")
    expect(box).to_have_attribute("data-true", str(t))
    expect(box).to_have_attribute("data-pred", str(p))
    expect(tid(nb, "gcx-cell-map-caption")).to_contain_text(f"mean of {count} stored maps")
    # the kernel's mean is numpy's mean of the cell's stored maps
    assert nb.kernel.eval(
        f"bool(np.allclose(w.view.cell_mean(), np.mean([m / 255 for m in "
        f"table.loc[(table['label'] == {t}) & (table['pred'] == {p}), 'pred_map']], axis=0), atol=1e-6))"
    )
    side = 112  # CELL_MAP_SIDE in js/explore.js
    drawn = tid(nb, "gcx-cell-map-canvas").evaluate(
        "(c) => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"
    )
    nb.kernel.execute("from gradcam_widget import colormaps")
    expected_pixels = nb.kernel.eval(
        f"colormaps.apply_colormap(colormaps.bilinear_upsample(w.view.cell_mean(), {side}, {side}), 'jet')"
        ".reshape(-1, 3).tolist()"
    )
    assert len(drawn) == side * side * 4
    rgb = [drawn[i : i + 3] for i in range(0, len(drawn), 4)]
    worst = max(abs(a - b) for got, want in zip(rgb, expected_pixels) for a, b in zip(got, want))
    assert worst <= 1, f"the drawn mean map differs from the kernel's colouring by {worst}"
    assert len({tuple(px) for px in rgb}) > 10  # a map, not a flat fill

    # Back to all mistakes: no cell, no mean map.
    tid(nb, f"gcx-cell-{t}-{p}").click()
    wait_gallery(nb, ["wrong", -1, -1, 0], "energy_outside", 0.0)
    expect(box).to_be_hidden()
    tid(nb, f"gcx-cell-{t}-{p}").click()
    expect(box).to_have_attribute("data-state", "ready")
    nb.screenshot("audit-explorer", scroll_to="[data-testid=gcx-root]")  # benchmarks/results/explorer-audit.png
