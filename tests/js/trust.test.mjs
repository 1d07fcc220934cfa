// Tests of the trust panel's pure helpers in js/trust-panel.js (docs/protocol.md, "Trust panel").
// Run: node --test tests/js/
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  TRUST_CHART,
  blendPixels,
  chartPoints,
  colorizeDiverging,
  describeTarget,
  divergingIndex,
  fallbackDivergingTable,
  fitThumbnail,
  formatAuc,
  greyscalePixels,
  hasTrustTarget,
  hashBytes,
  methodLabel,
  parseDifference,
  pointsAttribute,
  stripSlots,
  trustMatches,
  trustPanelState,
  trustStatusText,
} from "../../js/trust-panel.js";

/** What the kernel sends in `methods` and `method_labels` (gradcam_widget.registry). */
const METHODS = ["gradcam", "gradcam++", "hirescam", "layercam", "xgradcam", "eigencam", "scorecam"];
const LABELS = {
  gradcam: "Grad-CAM", "gradcam++": "Grad-CAM++", hirescam: "HiResCAM", layercam: "Layer-CAM",
  xgradcam: "XGrad-CAM", eigencam: "Eigen-CAM", scorecam: "Score-CAM",
};

function float32Bytes(values) {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return new Uint8Array(view.buffer);
}

/** A DataView at an odd offset inside a larger buffer, as the kernel's bytes may arrive. */
function unalignedView(bytes, offset = 1) {
  const buffer = new ArrayBuffer(bytes.length + offset + 3);
  new Uint8Array(buffer).set(bytes, offset);
  return new DataView(buffer, offset, bytes.length);
}

const NAMES = ["elephant", "penguin", "nothing"];
const report = (fields = {}) => ({ class_index: 0, method: "gradcam", layer: "conv", state: "ready", message: "", ...fields });
const sel = (classIndex = 0, method = "gradcam", layer = "conv") => ({ classIndex, method, layer });

// --- which selection a report describes ----------------------------------------------------------

test("trustMatches needs the same class, method and layer", () => {
  const t = report();
  assert.equal(trustMatches(t, 0, "gradcam", "conv"), true);
  assert.equal(trustMatches(t, 1, "gradcam", "conv"), false);
  assert.equal(trustMatches(t, 0, "hirescam", "conv"), false);
  assert.equal(trustMatches(t, 0, "gradcam", "conv_1"), false);
  // {} (the panel was never opened) and junk describe nothing
  assert.equal(trustMatches({}, 0, "gradcam", "conv"), false);
  assert.equal(trustMatches(null, 0, "gradcam", "conv"), false);
  assert.equal(trustMatches({ class_index: "0", method: "gradcam", layer: "conv" }, 0, "gradcam", "conv"), false);
  assert.equal(hasTrustTarget({}), false);
  assert.equal(hasTrustTarget(report()), true);
});

test("trustPanelState is the report's state for the selection, else stale", () => {
  assert.equal(trustPanelState(report({ state: "ready" }), sel()), "ready");
  assert.equal(trustPanelState(report({ state: "computing" }), sel()), "computing");
  assert.equal(trustPanelState(report({ state: "error" }), sel()), "error");
  assert.equal(trustPanelState(report({ state: "ready" }), sel(0, "hirescam")), "stale");
  assert.equal(trustPanelState(report({ state: "error" }), sel(2)), "stale");
  assert.equal(trustPanelState({}, sel()), "stale");
  // an unknown state from the kernel counts as still computing, never as ready
  assert.equal(trustPanelState(report({ state: "weird" }), sel()), "computing");
  assert.equal(trustPanelState(report({ state: undefined }), sel()), "computing");
});

test("the status line says what is computed, and for which selection", () => {
  assert.equal(describeTarget(NAMES, 1, "gradcam++", "conv", LABELS), "penguin (#1) · Grad-CAM++ · conv");
  assert.equal(describeTarget(NAMES, 7, "odd", ""), "class 7 (#7) · odd");

  const computing = report({ state: "computing", message: "deletion curve: 13/26 images" });
  assert.equal(trustStatusText(computing, NAMES, sel(), LABELS), "Computing: deletion curve: 13/26 images");
  assert.equal(trustStatusText(report({ state: "computing" }), NAMES, sel(), LABELS), "Computing…");
  assert.equal(trustStatusText(report({ state: "error", message: "no such layer" }), NAMES, sel(), LABELS), "no such layer");
  assert.equal(trustStatusText(report(), NAMES, sel(), LABELS), "Report for elephant (#0) · Grad-CAM · conv.");
  assert.equal(trustStatusText({}, NAMES, sel(2), LABELS), "Computing the report for nothing (#2) · Grad-CAM · conv…");

  // the report is about another selection: say we compute for the current one
  const stale = trustStatusText(report(), NAMES, sel(1, "hirescam"), LABELS);
  assert.match(stale, /^Computing for penguin \(#1\) · HiResCAM · conv…/);
  assert.match(stale, /elephant \(#0\) · Grad-CAM · conv/);
});

test("methodLabel reads the kernel's labels, and falls back to the name", () => {
  assert.deepEqual(["gradcam", "gradcam++", "hirescam", "layercam", "scorecam"].map((m) => methodLabel(m, LABELS)),
    ["Grad-CAM", "Grad-CAM++", "HiResCAM", "Layer-CAM", "Score-CAM"]);
  assert.equal(methodLabel("mystery", LABELS), "mystery");
  assert.equal(methodLabel("constructor", LABELS), "constructor"); // no prototype lookups
  assert.equal(methodLabel("gradcam", undefined), "gradcam"); // no labels sent: the name itself
  assert.equal(methodLabel("gradcam", { gradcam: 5 }), "gradcam"); // junk label ignored
  assert.equal(methodLabel("newcam", { newcam: "New-CAM" }), "New-CAM"); // a method the page never heard of
});

// --- faithfulness charts -------------------------------------------------------------------------

test("formatAuc gives 2 decimals, a dash without a number", () => {
  assert.equal(formatAuc(0.1234), "0.12");
  assert.equal(formatAuc(0.125), "0.13");
  assert.equal(formatAuc(1), "1.00");
  assert.equal(formatAuc(0), "0.00");
  assert.equal(formatAuc(undefined), "–");
  assert.equal(formatAuc(null), "–");
  assert.equal(formatAuc(NaN), "–");
  assert.equal(formatAuc(""), "–");
});

test("chartPoints scales fraction to x and probability to y inside the margins", () => {
  const c = TRUST_CHART;
  assert.deepEqual([c.width, c.height], [160, 100]);
  const points = chartPoints([0, 0.5, 1], [1, 0.5, 0]);
  const plotW = c.width - c.left - c.right;
  const plotH = c.height - c.top - c.bottom;
  assert.deepEqual(points, [
    [c.left, c.top], // (0, p=1): top left
    [c.left + plotW / 2, c.top + plotH / 2],
    [c.left + plotW, c.top + plotH], // (1, p=0): bottom right
  ]);
  assert.equal(pointsAttribute(points), points.map(([x, y]) => `${x},${y}`).join(" "));
  assert.equal(pointsAttribute([[1.5, 2], [3, 4.25]]), "1.5,2 3,4.25");
});

test("chartPoints clamps to [0, 1], skips non-numbers, and spaces evenly without fractions", () => {
  const chart = { width: 110, height: 60, left: 5, right: 5, top: 5, bottom: 5 }; // plot 100 x 50
  assert.deepEqual(chartPoints([-0.5, 2], [1.5, -1], chart), [[5, 5], [105, 55]]);
  assert.deepEqual(chartPoints([0, 0.5, 1], [0.2, NaN, 0.4], chart), [[5, 45], [105, 35]]);
  // fractions missing or of another length: evenly spaced
  assert.deepEqual(chartPoints(undefined, [1, 1, 1, 1, 1], chart).map(([x]) => x), [5, 30, 55, 80, 105]);
  assert.deepEqual(chartPoints([0, 1], [0, 0, 0], chart).map(([x]) => x), [5, 55, 105]);
  assert.deepEqual(chartPoints([], [], chart), []);
  assert.deepEqual(chartPoints(null, null, chart), []);
  // rounded to 2 decimals
  const [[x, y]] = chartPoints([1 / 3], [1 / 3], chart);
  assert.deepEqual([x, y], [38.33, 38.33]);
});

// --- difference view -----------------------------------------------------------------------------

test("divergingIndex follows min(255, floor((d + 1) / 2 * 256)), clamped", () => {
  assert.equal(divergingIndex(-1), 0);
  assert.equal(divergingIndex(0), 128);
  assert.equal(divergingIndex(1), 255);
  assert.equal(divergingIndex(-0.0078125), 127); // (d + 1) / 2 * 256 = 127 exactly
  assert.equal(divergingIndex(0.99), 254);
  assert.equal(divergingIndex(0.999), 255);
  assert.equal(divergingIndex(-1.5), 0);
  assert.equal(divergingIndex(7), 255);
  assert.equal(divergingIndex(-Infinity), 0);
  assert.equal(divergingIndex(Infinity), 255);
  assert.equal(divergingIndex(NaN), 128); // no number: "no difference"
});

test("colorizeDiverging reads the table at the diverging index, opaque", () => {
  const table = new Uint8Array(768).map((_, i) => i % 256);
  const pixels = colorizeDiverging(new Float32Array([-1, 0, 1]), table);
  assert.deepEqual(Array.from(pixels), [0, 1, 2, 255, 128, 129, 130, 255, 253, 254, 255, 255]);
});

test("the fallback diverging table runs blue - white - red", () => {
  const t = fallbackDivergingTable();
  assert.equal(t.length, 768);
  const at = (i) => Array.from(t.subarray(i * 3, i * 3 + 3));
  const [r0, g0, b0] = at(0);
  assert.ok(b0 === 255 && r0 < 10 && g0 < 10, `index 0 is blue: ${at(0)}`);
  const [r1, g1, b1] = at(255);
  assert.ok(r1 === 255 && g1 < 10 && b1 < 10, `index 255 is red: ${at(255)}`);
  assert.ok(at(divergingIndex(0)).every((v) => v >= 250), `the middle is white: ${at(128)}`);
});

test("parseDifference decodes signed float32 (unaligned), clamps, rejects bad shapes", () => {
  const raw = float32Bytes([-1, -0.25, 0.5, 1.5, NaN, 0]);
  const parsed = parseDifference({ height: 2, width: 3, raw: unalignedView(raw), max_abs: 1, text: "they agree" });
  assert.ok(parsed);
  assert.deepEqual([parsed.height, parsed.width, parsed.maxAbs, parsed.text], [2, 3, 1, "they agree"]);
  assert.deepEqual(Array.from(parsed.values), [-1, -0.25, 0.5, 1, 0, 0]);
  assert.equal(parseDifference({}), null);
  assert.equal(parseDifference(null), null);
  assert.equal(parseDifference({ height: 2, width: 2, raw }), null); // 6 values for 2x2
  assert.equal(parseDifference({ height: 0, width: 6, raw }), null);
});

// --- thumbnails and strip ------------------------------------------------------------------------

test("stripSlots orders entries like the kernel's strip, pending methods as empty slots", () => {
  const entry = (method) => ({ method, class_index: 0, layer: "conv", label: methodLabel(method, LABELS) });
  const slots = stripSlots([entry("hirescam"), entry("gradcam"), entry("gradcam")], ["layercam", "gradcam++", "hirescam"], METHODS);
  assert.deepEqual(slots.map((s) => s.method), ["gradcam", "gradcam++", "hirescam", "layercam"]);
  assert.deepEqual(slots.map((s) => s.entry !== null), [true, false, true, false]);
  // unknown methods go last, in the order received; junk is ignored
  assert.deepEqual(stripSlots([entry("zeta"), null, 5, entry("scorecam"), entry("alpha")], [], METHODS).map((s) => s.method),
    ["scorecam", "zeta", "alpha"]);
  assert.deepEqual(stripSlots(undefined, undefined, METHODS), []);
  assert.deepEqual(stripSlots({}, {}, undefined), []);
});

test("fitThumbnail keeps the aspect with the longest side given", () => {
  assert.deepEqual(fitThumbnail(64, 64, 96), { width: 96, height: 96 });
  assert.deepEqual(fitThumbnail(200, 100, 96), { width: 96, height: 48 });
  assert.deepEqual(fitThumbnail(30, 120, 160), { width: 40, height: 160 });
  assert.deepEqual(fitThumbnail(1000, 1, 96), { width: 96, height: 1 });
  assert.deepEqual(fitThumbnail(0, 0, 96), { width: 96, height: 96 });
});

test("blendPixels mixes the map over the image; without an image the map is drawn as is", () => {
  const base = new Uint8ClampedArray([0, 100, 200, 255]);
  const top = new Uint8ClampedArray([200, 100, 0, 255]);
  assert.deepEqual(Array.from(blendPixels(base, top, 0.5)), [100, 100, 100, 255]);
  assert.deepEqual(Array.from(blendPixels(base, top, 0)), [0, 100, 200, 255]);
  assert.deepEqual(Array.from(blendPixels(base, top, 1)), [200, 100, 0, 255]);
  assert.deepEqual(Array.from(blendPixels(null, top, 0.5)), [200, 100, 0, 255]);
  const copy = blendPixels(null, top, 0.5);
  copy[0] = 1;
  assert.equal(top[0], 200, "the input is not modified");
});

test("greyscalePixels uses luma weights", () => {
  const grey = greyscalePixels(new Uint8ClampedArray([255, 0, 0, 10, 255, 255, 255, 255]));
  assert.deepEqual(Array.from(grey), [76, 76, 76, 255, 255, 255, 255, 255]);
});

test("hashBytes tells maps apart and ignores how the bytes arrive", () => {
  const a = float32Bytes([0.5, 1, 0]);
  const b = float32Bytes([0.5, 1, 1e-6]);
  assert.equal(hashBytes(a), hashBytes(unalignedView(a, 3)));
  assert.equal(hashBytes(a), hashBytes(a.buffer));
  assert.notEqual(hashBytes(a), hashBytes(b));
  assert.equal(hashBytes(null), "0:811c9dc5");
});

test("trustMatches compares the whole request, contrast included", () => {
  const contrastive = { class_index: 0, method: "gradcam", layer: "conv", contrast: 2 };
  assert.equal(trustMatches(contrastive, 0, "gradcam", "conv", 2), true);
  assert.equal(trustMatches(contrastive, 0, "gradcam", "conv", null), false);
  assert.equal(trustMatches({ ...contrastive, contrast: undefined }, 0, "gradcam", "conv"), true);
});
