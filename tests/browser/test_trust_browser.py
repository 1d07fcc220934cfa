"""The trust panel ("Can I trust this map?") in a real browser.

Two tests:

- ``test_trust_panel_draws_a_scripted_report``: the joined js/gradcam.js in a bare Chromium page with a
  scripted model (no Jupyter, no kernel): the panel's states one by one (closed, waiting, partly
  filled, ready, stale), text-only kernel strings, thumbnails recoloured with the colormap, the
  difference colours, and that the view's cleanup removes every listener.
- ``test_trust_panel_in_jupyterlab``: the real thing on the shipped ``shortcut-debiased`` demo
  model: open the panel, wait for the kernel's report, compare what is drawn with ``w.trust``, then
  click the HiResCAM thumbnail and watch the report follow the new selection.
"""

from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect

from gradcam_widget import registry
from gradcam_widget.frontend import front_end_source

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
REPORT_TIMEOUT_MS = 180_000  # the kernel's report (a few hundred forward passes) on 2 busy cores
AUC_IDS = (
    "gcw-trust-auc-deletion",
    "gcw-trust-auc-deletion-random",
    "gcw-trust-auc-insertion",
    "gcw-trust-auc-insertion-random",
)
AUC_KEYS = ("deletion_auc", "random_deletion_auc", "insertion_auc", "random_insertion_auc")


def tid(page, name):
    return page.get_by_test_id(name)


def canvas_stats(locator):
    """Summary of a canvas's pixels: size, opaque pixels, distinct colours, non-white pixels."""
    return locator.evaluate(
        """(c) => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let opaque = 0, nonWhite = 0;
            const colours = new Set();
            for (let i = 0; i < d.length; i += 4) {
                if (d[i + 3] > 0) opaque++;
                if (d[i + 3] > 0 && (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240)) nonWhite++;
                if (colours.size < 1000) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
            }
            return {width: c.width, height: c.height, pixels: d.length / 4, opaque, nonWhite,
                    colours: colours.size};
        }"""
    )


def assert_not_blank(stats, what):
    assert stats["width"] > 0 and stats["height"] > 0, (what, stats)
    assert stats["opaque"] == stats["pixels"], f"{what} is not fully painted: {stats}"
    assert stats["colours"] > 8, f"{what} looks blank (a flat colour): {stats}"


def polyline_points(svg):
    """Number of points of each curve of a chart, by series."""
    return svg.evaluate(
        """(s) => Object.fromEntries([...s.querySelectorAll('polyline')].map((p) => [
                p.dataset.series,
                p.getAttribute('points').trim().split(/\\s+/).filter(Boolean).length]))"""
    )


# ================================================================================================
# 1. The front end alone, with a scripted model
# ================================================================================================
HOSTILE = '<img src=x onerror="window.__pwned=1"><b id="injected">x</b>'

FAKE_MODEL_JS = """
async ({source, state}) => {
    const toBytes = (list, offset = 3) => {
        // as the kernel's bytes arrive: a DataView at an unaligned offset of a larger buffer
        const buffer = new ArrayBuffer(list.length + offset + 5);
        new Uint8Array(buffer).set(list, offset);
        return new DataView(buffer, offset, list.length);
    };
    const revive = (value) => {
        if (Array.isArray(value)) return value.map(revive);
        if (value && typeof value === 'object') {
            if ('__bytes__' in value) return toBytes(value.__bytes__);
            return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
        }
        return value;
    };
    class FakeModel {
        constructor(initial) { this.state = revive(initial); this.handlers = new Map(); this.saved = []; }
        get(name) { return this.state[name]; }
        set(name, value) { this.state[name] = value; this.emit(name); }
        save_changes() { this.saved.push(Date.now()); }
        on(name, cb) { if (!this.handlers.has(name)) this.handlers.set(name, []); this.handlers.get(name).push(cb); }
        off(name, cb) { const list = this.handlers.get(name) || []; const i = list.indexOf(cb); if (i >= 0) list.splice(i, 1); }
        emit(name) { for (const cb of [...(this.handlers.get('change:' + name) || [])]) cb(); }
        listenerCount() { let n = 0; for (const list of this.handlers.values()) n += list.length; return n; }
        kernelSets(changes) { for (const [k, v] of Object.entries(revive(changes))) { this.state[k] = v; } for (const k of Object.keys(changes)) this.emit(k); }
    }
    const url = URL.createObjectURL(new Blob([source], {type: 'text/javascript'}));
    const module = await import(url);
    const model = new FakeModel(state);
    const host = document.getElementById('host');
    window.__model = model;
    window.__cleanup = module.default.render({model, el: host});
    window.__module = module;
    return true;
}
"""


def _bytes(array_or_bytes) -> dict:
    data = array_or_bytes if isinstance(array_or_bytes, bytes) else array_or_bytes.tobytes()
    return {"__bytes__": list(data)}


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="PNG")
    return buf.getvalue()


def _wire_map(values: np.ndarray, method: str, label: str | None = None, k=0, layer="conv") -> dict:
    raw = np.ascontiguousarray(values, dtype="<f4")
    entry = {
        "class_index": k,
        "method": method,
        "layer": layer,
        "height": raw.shape[0],
        "width": raw.shape[1],
        "raw": _bytes(raw),
        "maximum": float(raw.max()),
        "has_evidence": bool(raw.max() > 0),
    }
    if label is not None:
        entry["label"] = label
    return entry


def _scripted_state():
    from gradcam_widget import colormaps

    yy, xx = np.mgrid[0:48, 0:64]
    img = np.stack([xx * 4, yy * 5, np.full_like(xx, 90)], -1).clip(0, 255).astype(np.uint8)
    import matplotlib

    rgba = matplotlib.colormaps["RdBu_r"].resampled(256)(np.arange(256), bytes=True)
    diverging = np.ascontiguousarray(rgba[:, :3], dtype=np.uint8).tobytes()  # as the kernel sends it
    gy, gx = np.mgrid[0:6, 0:8] / 7.0
    state = {
        "image": _bytes(_png(img)),
        "image_size": [64, 48],
        "class_names": ["elephant", "penguin", HOSTILE],
        "top_classes": [{"index": 0, "name": "elephant", "probability": 0.9, "score": 3.0}],
        "maps": [_wire_map(gx, "gradcam")],
        "extra_map": {},
        "methods": ["gradcam", "gradcam++", "hirescam", "layercam", "scorecam"],
        "method_labels": registry.labels(),  # what the kernel sends: the registry's labels
        "layers": ["conv"],
        "status": {"state": "ready", "message": "", "class_index": 0, "method": "gradcam", "layer": "conv"},
        "colormap_tables": {name: _bytes(colormaps.colormap_bytes(name)) for name in colormaps.COLORMAPS},
        "selected_class": 0,
        "method": "gradcam",
        "layer": "conv",
        "colormap": "jet",
        "opacity": 0.4,
        "trust_open": False,
        "trust_scorecam": False,
        "trust": {},
        "diverging_table": _bytes(diverging),
    }
    maps = {"gradcam": gx, "gradcam++": gy, "hirescam": gx * gy, "layercam": 1 - gx}
    return state, maps


def _faithfulness(steps=10):
    fractions = [i / steps for i in range(steps + 1)]
    return {
        "baseline": "blur",
        "steps": steps,
        "fractions": fractions,
        "deletion": [math.exp(-5 * f) for f in fractions],
        "insertion": [1 - math.exp(-5 * f) for f in fractions],
        "random_deletion": [1 - 0.8 * f for f in fractions],
        "random_insertion": [0.2 + 0.8 * f for f in fractions],
        "deletion_auc": 0.1987,
        "insertion_auc": 0.8013,
        "random_deletion_auc": 0.6,
        "random_insertion_auc": 0.605,
        "random_maps": 3,
        "verdict": "Faithful. " + HOSTILE,
    }


@pytest.fixture
def scripted_page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 1000})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.set_content("<!doctype html><html><body><div id='host'></div></body></html>")
    page.add_style_tag(content=(REPO_ROOT / "js" / "gradcam.css").read_text(encoding="utf-8"))
    state, maps = _scripted_state()
    # the module exactly as the kernel sends it: local imports inlined (gradcam_widget/frontend.py)
    page.evaluate(FAKE_MODEL_JS, {"source": front_end_source("gradcam.js"), "state": state})
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=gcw-image]');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    yield page, maps, errors
    context.close()


def _kernel_sets(page, **changes):
    page.evaluate("(c) => window.__model.kernelSets(c)", changes)


def test_trust_panel_draws_a_scripted_report(scripted_page):
    page, maps, errors = scripted_page
    root, panel, status = tid(page, "gcw-root"), tid(page, "gcw-trust"), tid(page, "gcw-trust-status")
    toggle = tid(page, "gcw-trust-toggle")

    # closed: a button, no panel content (and no SVG at all, as the security test expects)
    expect(toggle).to_be_visible()
    expect(toggle).to_contain_text("Can I trust this map?")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(panel).to_be_hidden()
    assert root.evaluate("(r) => r.querySelectorAll('svg').length") == 0

    # opening sets the synced trait; nothing from the kernel yet: waiting for the current selection
    toggle.click()
    assert page.evaluate("() => [window.__model.get('trust_open'), window.__model.saved.length]") == [True, 1]
    expect(panel).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(panel).to_have_attribute("data-state", "stale")
    expect(status).to_have_text("Computing the report for elephant (#0) · Grad-CAM · conv…")
    expect(tid(page, "gcw-trust-auc-deletion")).to_have_text("–")
    assert panel.get_attribute("data-class") is None

    # partly filled: two thumbnails, two pending, no curves yet
    partial = {
        "class_index": 0,
        "method": "gradcam",
        "layer": "conv",
        "state": "computing",
        "message": "deletion curve: 13/26 images",
        "strip": [
            _wire_map(maps["gradcam"], "gradcam", "Grad-CAM"),
            _wire_map(maps["gradcam++"], "gradcam++", "Grad-CAM++"),
        ],
        "strip_pending": ["hirescam", "layercam"],
        "faithfulness": {},
        "randomization": {},
        "difference": {},
    }
    _kernel_sets(page, trust=partial)
    expect(panel).to_have_attribute("data-state", "computing")
    expect(panel).to_have_attribute("data-class", "0")
    expect(status).to_have_text("Computing: deletion curve: 13/26 images")
    strip = tid(page, "gcw-trust-strip")
    expect(strip.locator("canvas")).to_have_count(2)
    expect(tid(page, "gcw-trust-strip-hirescam")).to_contain_text("computing…")
    expect(tid(page, "gcw-trust-strip-gradcam++")).to_contain_text("Grad-CAM++")
    assert panel.evaluate("(p) => p.querySelectorAll('svg').length") == 0
    expect(tid(page, "gcw-trust-difference")).to_be_hidden()

    # ready: everything drawn from the report
    height, width = 6, 8
    diff = np.where(np.arange(width) < width // 2, -1.0, 1.0)[None, :].repeat(height, 0)
    full = dict(
        partial,
        state="ready",
        message="",
        strip=[
            _wire_map(maps[m], m, label)
            for m, label in [
                ("gradcam", "Grad-CAM"),
                ("gradcam++", "Grad-CAM++"),
                ("hirescam", "HiResCAM"),
                ("layercam", "LayerCAM"),
            ]
        ],
        strip_pending=[],
        faithfulness=_faithfulness(),
        randomization={
            "correlations": [0.91, 0.42, 0.05],
            "steps": ["logits", "block 2", "all"],
            "final": 0.05,
            "passed": True,
            "verdict": "Passed. " + HOSTILE,
        },
        difference={
            "height": height,
            "width": width,
            "raw": _bytes(diff.astype("<f4")),
            "max_abs": 1.0,
            "text": "They disagree. " + HOSTILE,
        },
    )
    _kernel_sets(page, trust=full)
    expect(panel).to_have_attribute("data-state", "ready")
    expect(status).to_have_text("Report for elephant (#0) · Grad-CAM · conv.")
    for test_id, text in zip(AUC_IDS, ("0.20", "0.60", "0.80", "0.60")):
        expect(tid(page, test_id)).to_have_text(text)
    for kind in ("deletion", "insertion"):
        chart = tid(page, f"gcw-trust-{kind}")
        expect(chart).to_be_visible()
        assert chart.evaluate("(s) => s.namespaceURI") == "http://www.w3.org/2000/svg"
        assert polyline_points(chart) == {"map": 11, "random": 11}
    # the deletion curve falls: its first point is higher (smaller y) than its last
    ys = tid(page, "gcw-trust-deletion").evaluate(
        "(s) => s.querySelector('[data-series=map]').getAttribute('points').split(' ').map((p) => Number(p.split(',')[1]))"
    )
    assert ys[0] < ys[-1]
    # kernel strings are text, never markup
    expect(tid(page, "gcw-trust-faithfulness")).to_have_text("Faithful. " + HOSTILE)
    expect(tid(page, "gcw-trust-randomization")).to_have_text("Passed. " + HOSTILE)
    expect(tid(page, "gcw-trust-difference-text")).to_have_text("They disagree. " + HOSTILE)
    expect(panel).to_contain_text("block 2: correlation 0.42")
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    assert page.evaluate("() => document.getElementById('injected')") is None
    assert root.evaluate("(r) => r.querySelectorAll('img:not([data-testid=gcw-image])').length") == 0

    # thumbnails: ~96 px longest side, the image's aspect, painted; the current method is pressed
    expect(strip.locator("canvas")).to_have_count(4)
    for m in ("gradcam", "gradcam++", "hirescam", "layercam"):
        canvas = tid(page, f"gcw-trust-strip-{m}").locator("canvas")
        stats = canvas_stats(canvas)
        assert (stats["width"], stats["height"]) == (96, 72), stats
        assert_not_blank(stats, f"thumbnail {m}")
    expect(tid(page, "gcw-trust-strip-gradcam")).to_have_attribute("aria-pressed", "true")
    expect(tid(page, "gcw-trust-strip-hirescam")).to_have_attribute("aria-pressed", "false")

    # difference: blue on the left (HiResCAM more), red on the right (Grad-CAM more)
    difference = tid(page, "gcw-trust-difference")
    expect(difference).to_be_visible()
    stats = canvas_stats(difference)
    assert (stats["width"], stats["height"]) == (160, 120) and stats["nonWhite"] > 0, stats
    left, right = difference.evaluate(
        """(c) => { const g = c.getContext('2d');
                    return [[10, 60], [150, 60]].map(([x, y]) => Array.from(g.getImageData(x, y, 1, 1).data)); }"""
    )
    assert left[2] > left[0] + 30, f"left should be blue: {left}"
    assert right[0] > right[2] + 30, f"right should be red: {right}"

    page.screenshot(path=str(_artifact("test_trust_panel_draws_a_scripted_report--ready")), full_page=True)

    # a colormap change repaints the thumbnails (no new report needed)
    thumb = tid(page, "gcw-trust-strip-gradcam").locator("canvas")
    before = thumb.evaluate("(c) => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).join()")
    tid(page, "gcw-colormap").select_option("viridis")
    after = thumb.evaluate("(c) => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).join()")
    assert before != after, "the thumbnail was not recoloured"

    # a thumbnail click selects its method; the old report is then stale and dimmed
    tid(page, "gcw-trust-strip-hirescam").click()
    assert page.evaluate("() => window.__model.get('method')") == "hirescam"
    expect(tid(page, "gcw-method")).to_have_value("hirescam")
    expect(panel).to_have_attribute("data-state", "stale")
    expect(panel).to_have_attribute("data-class", "0")
    expect(status).to_contain_text("Computing for elephant (#0) · HiResCAM · conv…")
    expect(tid(page, "gcw-trust-strip-hirescam")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".gcw-trust-body")).to_have_css("opacity", "0.72")
    page.screenshot(path=str(_artifact("test_trust_panel_draws_a_scripted_report--stale")))

    # the kernel answers for the new selection, with an error: shown as text, panel usable
    _kernel_sets(
        page,
        trust={
            "class_index": 0,
            "method": "hirescam",
            "layer": "conv",
            "state": "error",
            "message": "boom " + HOSTILE,
            "strip": [],
            "strip_pending": [],
            "faithfulness": {},
            "randomization": {},
            "difference": {},
        },
    )
    expect(panel).to_have_attribute("data-state", "error")
    expect(status).to_have_text("boom " + HOSTILE)
    expect(tid(page, "gcw-trust-auc-insertion")).to_have_text("–")
    assert panel.evaluate("(p) => p.querySelectorAll('svg').length") == 0

    # Score-CAM: one click asks for it, then the button goes away
    tid(page, "gcw-trust-scorecam").click()
    assert page.evaluate("() => window.__model.get('trust_scorecam')") is True
    expect(tid(page, "gcw-trust-scorecam")).to_be_hidden()

    # closing hides the panel and tells the kernel
    toggle.click()
    assert page.evaluate("() => window.__model.get('trust_open')") is False
    expect(panel).to_be_hidden()

    # the view's cleanup takes every listener with it
    assert page.evaluate("() => window.__model.listenerCount()") > 0
    page.evaluate("() => window.__cleanup()")
    assert page.evaluate("() => window.__model.listenerCount()") == 0
    assert errors == [], errors


def _artifact(name: str) -> Path:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR / f"{name}.png"


# ================================================================================================
# 2. In JupyterLab, with the kernel computing the report
# ================================================================================================
DEMO_CELLS = [
    textwrap.dedent(
        """
        from gradcam_widget import show_gradcam
        from gradcam_widget.demo import SHORTCUT_CLASSES, load_model, make_shortcut_dataset

        model = load_model("shortcut-debiased")
        images, labels, masks = make_shortcut_dataset(12, seed=2024, background_bias=1 / 3)
        img = images[list(labels).index(SHORTCUT_CLASSES.index("elephant"))]  # the first elephant
        """
    ),
    "w = show_gradcam(model, img, class_names=SHORTCUT_CLASSES)\nw",
]

KERNEL_REPORT = """{
    'target': [w.trust.get('class_index'), w.trust.get('method'), w.trust.get('layer')],
    'state': w.trust.get('state'),
    'aucs': {k: w.trust['faithfulness'][k] for k in %r},
    'fractions': len(w.trust['faithfulness']['fractions']),
    'curves': {k: len(w.trust['faithfulness'][k]) for k in ('deletion', 'random_deletion')},
    'strip': [e['method'] for e in w.trust['strip']],
    'pending': list(w.trust.get('strip_pending', [])),
    'randomization': w.trust['randomization']['verdict'],
    'difference': w.trust['difference']['text'],
}""" % (AUC_KEYS,)


def test_trust_panel_in_jupyterlab(open_notebook):
    nb = open_notebook(DEMO_CELLS, "lab", timeout=180)
    page = nb.page
    root, panel = tid(page, "gcw-root"), tid(page, "gcw-trust")
    cls = nb.kernel.eval("w.selected_class")
    layer = nb.kernel.eval("w.layer")
    expect(root).to_have_attribute("data-class", str(cls))
    expect(panel).to_be_hidden()

    toggle = tid(page, "gcw-trust-toggle")
    toggle.scroll_into_view_if_needed()
    toggle.click()
    nb.kernel.wait_for("w.trust_open", True)
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("data-state", "ready", timeout=REPORT_TIMEOUT_MS)
    expect(panel).to_have_attribute("data-class", str(cls))
    report = nb.kernel.eval(KERNEL_REPORT)
    assert report["target"] == [cls, "gradcam", layer] and report["state"] == "ready", report
    panel.scroll_into_view_if_needed()
    nb.screenshot("ready", scroll_to="[data-testid=gcw-trust]")

    # the AUCs on screen are the kernel's numbers, 2 decimals, in [0, 1]
    for test_id, key in zip(AUC_IDS, AUC_KEYS):
        text = tid(page, test_id).inner_text().strip()
        assert len(text.split(".")[-1]) == 2, f"{test_id} shows {text!r}, not 2 decimals"
        shown = float(text)
        assert 0.0 <= shown <= 1.0, (test_id, text)
        assert abs(shown - report["aucs"][key]) <= 0.005 + 1e-9, (test_id, text, report["aucs"][key])

    # the deletion chart: this map's curve and the random maps' mean, one point per fraction
    assert report["curves"] == {"deletion": report["fractions"], "random_deletion": report["fractions"]}
    assert polyline_points(tid(page, "gcw-trust-deletion")) == {
        "map": report["fractions"],
        "random": report["fractions"],
    }
    assert polyline_points(tid(page, "gcw-trust-insertion")) == {
        "map": report["fractions"],
        "random": report["fractions"],
    }

    # the method strip: at least 4 painted thumbnails, in the kernel's order
    assert report["pending"] == [] and len(report["strip"]) >= 4, report
    buttons = tid(page, "gcw-trust-strip").locator(".gcw-trust-thumb")
    assert buttons.evaluate_all("(bs) => bs.map((b) => b.dataset.method)") == report["strip"]
    for method in report["strip"]:
        assert_not_blank(canvas_stats(tid(page, f"gcw-trust-strip-{method}").locator("canvas")), f"thumbnail {method}")

    # the difference view is drawn, the sentences are the kernel's
    stats = canvas_stats(tid(page, "gcw-trust-difference"))
    assert stats["nonWhite"] > 0, stats
    expect(tid(page, "gcw-trust-randomization")).to_have_text(report["randomization"])
    expect(tid(page, "gcw-trust-difference-text")).to_have_text(report["difference"])
    expect(tid(page, "gcw-trust-faithfulness")).not_to_be_empty()

    # a thumbnail click selects HiResCAM in the kernel; the report follows the new selection
    page.evaluate(
        """() => {
            const panel = document.querySelector('[data-testid=gcw-trust]');
            window.__gcwTrustStates = [panel.dataset.state];
            new MutationObserver(() => window.__gcwTrustStates.push(panel.dataset.state))
                .observe(panel, {attributes: true, attributeFilter: ['data-state']});
        }"""
    )
    tid(page, "gcw-trust-strip-hirescam").click()
    nb.kernel.wait_for("w.method", "hirescam")
    expect(tid(page, "gcw-method")).to_have_value("hirescam")
    expect(root).to_have_attribute("data-class", str(cls))
    nb.kernel.wait_for(
        "(w.trust.get('method'), w.trust.get('state'))", ["hirescam", "ready"], timeout=REPORT_TIMEOUT_MS / 1000
    )
    expect(panel).to_have_attribute("data-state", "ready", timeout=30_000)
    expect(panel).to_have_attribute("data-class", str(cls))
    states = page.evaluate("() => window.__gcwTrustStates")
    assert states[0] == "ready" and "stale" in states, states
    expect(tid(page, "gcw-trust-strip-hirescam")).to_have_attribute("aria-pressed", "true")
    expect(tid(page, "gcw-trust-status")).to_contain_text("HiResCAM")
    again = nb.kernel.eval(KERNEL_REPORT)
    assert again["target"] == [cls, "hirescam", layer], again
    for test_id, key in zip(AUC_IDS, AUC_KEYS):
        shown = float(tid(page, test_id).inner_text())
        assert abs(shown - again["aucs"][key]) <= 0.005 + 1e-9, (test_id, shown, again["aucs"][key])
    nb.screenshot("hirescam", scroll_to="[data-testid=gcw-trust]")
