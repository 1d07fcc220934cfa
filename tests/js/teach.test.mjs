// Tests of the teaching helpers: js/lib/scale.js (the main view's scale modes) and js/lib/steps.js
// (the "How was this map made?" panel). Run: node --test tests/js/
import assert from "node:assert/strict";
import { test } from "node:test";

import { parseMapEntry } from "../../js/lib/maps.js";
import { drawnMaximum, parseSigned, scaleMode, scaledValues, scaleOptions } from "../../js/lib/scale.js";
import { barRects, channelLabel, channelValues, parseSteps, scaledBy, signedText, stepsMatch } from "../../js/lib/steps.js";

const f32 = (values) => new Uint8Array(new Float32Array(values).buffer);

function wire(raw, signed, maximum) {
  return { class_index: 1, method: "gradcam", layer: "conv", height: 1, width: raw.length, raw: f32(raw),
    maximum, has_evidence: maximum > 0, signed: f32(signed), signed_max: Math.max(...signed.map(Math.abs)) };
}

test("shared scale draws a weaker map at the ratio of the maxima; per map keeps its own", () => {
  const strong = parseMapEntry(wire([0, 2, 4], [-1, 2, 4], 4));
  const weak = parseMapEntry(wire([1, 0, 0], [1, -3, 0], 1));
  const common = 4;
  const s = scaledValues(strong, null, "shared", common);
  const w = scaledValues(weak, null, "shared", common);
  assert.equal(drawnMaximum(s.values), 1);
  assert.ok(Math.abs(drawnMaximum(w.values) - 1 / 4) < 1e-7);
  assert.match(s.high, /shared max 4\.0e\+0/);
  assert.equal(drawnMaximum(scaledValues(weak, null, "per_map", common).values), 1);
});

test("signed mode: values before ReLU over their largest magnitude, a symmetric range", () => {
  const entry = wire([1, 0, 0], [1, -3, 0], 1);
  const signed = parseSigned(entry);
  assert.equal(signed.maxAbs, 3);
  const scaled = scaledValues(parseMapEntry(entry), signed, "signed", 0);
  assert.equal(scaled.signed, true);
  assert.deepEqual(Array.from(scaled.values), [1 / 3, -1, 0].map(Math.fround));
  assert.equal(scaled.low, "−3.0e+0");
  assert.equal(scaled.high, "+3.0e+0");
  // Without values before ReLU the map is drawn as it is (never a made-up sign).
  const fallback = scaledValues(parseMapEntry(entry), null, "signed", 0);
  assert.equal(fallback.signed, false);
  assert.match(fallback.high, /per map: no values before ReLU/);
  assert.equal(parseSigned({ ...entry, signed: f32([1]) }), null);
});

test("scale menu follows the kernel's words and ignores unknown modes", () => {
  assert.equal(scaleMode("shared"), "shared");
  assert.equal(scaleMode("<b>"), "per_map");
  assert.deepEqual(scaleOptions({ modes: [["per_map", "Per map"], ["evil", "x"], ["signed", "Signed"]] }),
    [["per_map", "Per map"], ["signed", "Signed"]]);
  assert.equal(scaleOptions({}).length, 3);
});

function stepsWire() {
  return {
    class_index: 2, method: "gradcam", layer: "conv", state: "ready", height: 1, width: 2, num_channels: 3,
    equations: { bars: "α_k", weights: "α_k = mean" },
    channels: [{ channel: 5, weight: -0.5, contribution: -1, values: f32([1, 3]), low: 1, high: 3 }],
    weights_sorted: f32([0.25, 0, -0.5]), weights_max: 0.5, positive: 1, negative: 1,
    signed: f32([-2, 1]), signed_max: 2, relu: f32([0, 1]), relu_max: 1,
  };
}

test("steps: decoded as sent, matched to the selection, malformed data refused", () => {
  const steps = parseSteps(stepsWire());
  assert.equal(steps.channels[0].channel, 5);
  assert.deepEqual(Array.from(channelValues(steps.channels[0])), [0, 1]);
  assert.deepEqual(Array.from(scaledBy(steps.signed, steps.signedMax)), [-1, 0.5]);
  assert.equal(steps.equations.bars, "α_k");
  assert.equal(parseSteps({ ...stepsWire(), signed: f32([1]) }), null);
  assert.equal(parseSteps({ ...stepsWire(), state: "computing" }), null);
  assert.ok(stepsMatch(stepsWire(), { classIndex: 2, method: "gradcam", layer: "conv" }));
  assert.ok(!stepsMatch(stepsWire(), { classIndex: 2, method: "gradcam", layer: "other" }));
});

test("bar chart: sorted bars from a middle zero line, up for positive, height by |weight|", () => {
  const rects = barRects([0.5, 0.25, -0.5], 0.5, { width: 30, height: 20 });
  assert.equal(rects.length, 3);
  assert.deepEqual(rects[0], { x: 0, y: 0, w: 10, h: 10, positive: true });
  assert.deepEqual(rects[1], { x: 10, y: 5, w: 10, h: 5, positive: true });
  assert.deepEqual(rects[2], { x: 20, y: 10, w: 10, h: 10, positive: false });
  assert.deepEqual(barRects([], 1), []);
});

test("channel labels say the channel, its weight and contribution", () => {
  const label = channelLabel({ channel: 7, weight: 0.034, contribution: -1.5, values: new Float32Array(), low: 0, high: 1 }, "α_k");
  assert.equal(label, "Channel 7: α_k +3.4e-2, contribution −1.5e+0. Show it over the image.");
  assert.equal(signedText(0), "0");
});
