"""The misclassification explorer in JupyterLab: a confusion-cell click filters the gallery to
exactly that cell's images, a thumbnail click shows the detail maps and moves ``w.selected``."""

from __future__ import annotations

import json
import textwrap

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

EXPLORER_READY = "[data-testid=gcx-root][data-ready=true]"

CELLS = [
    textwrap.dedent(
        """
        import numpy as np
        import keras
        from gradcam_widget.explore import explore_misclassifications

        # conv(1x1) -> GAP -> Dense with set weights: the scores follow each image's mean colour
        keras.utils.set_random_seed(0)
        inputs = keras.Input((16, 16, 3))
        x = keras.layers.Conv2D(6, 1, activation="relu", name="conv_last")(keras.layers.Rescaling(1 / 255)(inputs))
        x = keras.layers.GlobalAveragePooling2D()(x)
        model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax", name="logits")(x))
        conv = np.zeros((1, 1, 3, 6), np.float32)
        for c in range(3):
            conv[0, 0, c, c], conv[0, 0, c, c + 3] = 1.0, -1.0
        dense = np.array([[4, -2, -2, 0], [-2, 4, -2, 0], [-2, -2, 4, 0],
                          [-1, 1, 0, 2], [1, -1, 1, 2], [0, 1, -1, 2]], np.float32)
        model.get_layer("conv_last").set_weights([conv, np.full(6, 0.3, np.float32)])
        model.get_layer("logits").set_weights([dense, np.array([0, 0, 0, 1.0], np.float32)])

        rng = np.random.default_rng(1)
        labels = rng.integers(0, 4, 120)
        base = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200], [120, 120, 120]], np.float32)
        images = np.clip(base[labels][:, None, None, :] + rng.normal(0, 70, (120, 16, 16, 3)), 0, 255)
        images = images.astype(np.uint8)
        flip = rng.random(120) < 0.2
        labels[flip] = rng.integers(0, 4, flip.sum())
        """
    ),
    'w = explore_misclassifications(model, images, labels, class_names=["red", "green", "blue", "grey"])\nw',
]


def tid(nb, name):
    return nb.page.get_by_test_id(name)


def shown_thumbs(nb):
    return nb.page.eval_on_selector_all(
        "[data-testid=gcx-gallery] .gcx-thumb",
        "(ts) => ts.map((t) => [Number(t.dataset.index), Number(t.dataset.true), Number(t.dataset.pred)])")


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
    expected = nb.kernel.eval(
        f"np.flatnonzero((labels == {t}) & (w.predictions.predicted == {p})).tolist()")
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

    # And back: Python selects another image of the page, the browser follows.
    other = thumbs[-1][0]
    nb.kernel.execute(f"w.selected = {other}")
    expect(tid(nb, f"gcx-thumb-{other}")).to_have_attribute("aria-pressed", "true")
    expect(tid(nb, f"gcx-thumb-{index}")).to_have_attribute("aria-pressed", "false")
