// The what-if brush's message (lib/brush.js) and the compare view's pure helpers (compare.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { answersEdit, editMessage, fractionAt } from "../../js/lib/brush.js";
import { panelSize, valueAt, fingerprint, PANEL_MAX_WIDTH, panelReading, sharedMaximumFor } from "../../js/compare.js";
import { scaledValues } from "../../js/lib/scale.js";

test("a pointer position is a fraction of the picture, outside it too", () => {
  assert.deepEqual(fractionAt(50, 25, 200, 100), [0.25, 0.25]);
  assert.deepEqual(fractionAt(-20, 300, 200, 100), [-0.1, 3]);
});

test("the edit message copies the strokes and answers match only the newest edit", () => {
  const strokes = [{ points: [[0.1, 0.2]], radius: 0.05 }];
  const message = editMessage(strokes, "grey", 7);
  strokes[0].points[0][0] = 0.9;
  assert.deepEqual(message, { strokes: [{ points: [[0.1, 0.2]], radius: 0.05 }], fill: "grey", seq: 7 });
  assert.equal(answersEdit({ seq: 7, state: "ready" }, 7), true);
  assert.equal(answersEdit({ seq: 6, state: "ready" }, 7), false);
  assert.equal(answersEdit({ seq: 7, state: "computing" }, 7), false);
});

test("every panel reads its own map at the same place", () => {
  const values = Float32Array.from([0, 1, 2, 3, 4, 5]); // 3 wide, 2 high
  assert.equal(valueAt(values, 3, 2, 0.5, 0.75), 4);
  assert.equal(valueAt(values, 3, 2, 0.99, 0.1), 2);
  assert.equal(valueAt(values, 3, 2, 1.0, 0.5), null);
  assert.ok(panelSize(64, 64).width <= PANEL_MAX_WIDTH);
  assert.notEqual(fingerprint(Uint8Array.from([1, 2])), fingerprint(Uint8Array.from([2, 1])));
});

test("the compare view draws on the kernel's shared maximum only when it is for the selection", () => {
  const scale = { complete: true, class_index: 2, method: "gradcam", maximum: 0.5 };
  assert.equal(sharedMaximumFor(scale, 2, "gradcam"), 0.5);
  assert.equal(sharedMaximumFor({ ...scale, complete: false }, 2, "gradcam"), null); // a panel still computes
  assert.equal(sharedMaximumFor(scale, 1, "gradcam"), null); // the page's selection is ahead of the kernel
  assert.equal(sharedMaximumFor(scale, 2, "hirescam"), null);
  assert.equal(sharedMaximumFor(null, 2, "gradcam"), null);
  // A weaker model's map (maximum 0.25 of the shared 0.5) is drawn at most 0.5; its readout's raw
  // value is the drawn value times the shared maximum.
  const weak = { normalised: Float32Array.from([0, 0.5, 1]), maximum: 0.25, hasEvidence: true };
  const drawn = scaledValues(weak, null, "shared", 0.5);
  assert.deepEqual(Array.from(drawn.values), [0, 0.25, 0.5]);
  const reading = panelReading(drawn.values[2], drawn.factor);
  assert.ok(Math.abs(reading.raw - 0.25) < 1e-7);
  assert.match(reading.text, /^map 0\.50 · raw /);
});
