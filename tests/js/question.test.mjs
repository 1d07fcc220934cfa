// The what-if brush's message (lib/brush.js) and the compare view's pure helpers (compare.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { answersEdit, editMessage, fractionAt } from "../../js/lib/brush.js";
import { panelSize, valueAt, fingerprint, PANEL_MAX_WIDTH } from "../../js/compare.js";

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
