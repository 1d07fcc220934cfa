// Tests of js/explore.js's pure helpers. Run: node --test tests/js/
import assert from "node:assert/strict";
import { test } from "node:test";

import explorer, {
  cellMapMatches,
  cellShade,
  filtersForCell,
  filtersKey,
  galleryMatches,
  isActiveCell,
  rangeLabel,
  rowTotals,
  spriteOffset,
  sortText,
  summaryText,
  thumbTitle,
} from "../../js/explore.js";
import { decodeBytes } from "../../js/lib/maps.js";

const filters = (status, t, p, page = 0) => ({ filter_status: status, filter_true: t, filter_pred: p, page });

test("the module exports render and touches no DOM on import", () => {
  assert.equal(typeof explorer.render, "function");
});

test("a gallery reply is drawn only for the request it answers", () => {
  const reply = { status: "all", true: 3, pred: 8, page: 1, indices: [5, 9] };
  assert.equal(galleryMatches(reply, filters("all", 3, 8, 1)), true);
  assert.equal(galleryMatches(reply, filters("all", 3, 8, 0)), false); // page moved on
  assert.equal(galleryMatches(reply, filters("wrong", 3, 8, 1)), false);
  assert.equal(galleryMatches(reply, filters("all", 8, 3, 1)), false); // true/pred not swapped
  assert.equal(galleryMatches({}, filters("wrong", -1, -1)), false);
  assert.equal(galleryMatches(null, filters("wrong", -1, -1)), false);
  // numbers that arrive as strings still match (select values are strings)
  assert.equal(filtersKey(filters("all", "3", "8", "1")), filtersKey(filters("all", 3, 8, 1)));
});

test("on an audit, a reply also answers the sort and the score threshold", () => {
  const reply = { status: "all", true: 1, pred: 2, page: 0, sort: "hardness", min: 0.5, indices: [4] };
  const current = { ...filters("all", 1, 2), sort_by: "hardness", min_score: 0.5 };
  assert.equal(galleryMatches(reply, current), true);
  assert.equal(galleryMatches(reply, { ...current, sort_by: "mistakenness" }), false); // sort changed
  assert.equal(galleryMatches(reply, { ...current, min_score: 0.25 }), false); // threshold changed
  assert.equal(galleryMatches(reply, filters("all", 1, 2)), true); // a plain explorer sends neither
  assert.equal(sortText("energy_outside"), "most energy outside the box first");
  assert.equal(sortText("custom"), "custom");
});

test("a cell's mean map is drawn only for the chosen cell", () => {
  const map = { true: 3, pred: 1, count: 7 };
  assert.equal(cellMapMatches(map, filters("all", 3, 1)), true);
  assert.equal(cellMapMatches(map, filters("all", 1, 3)), false);
  assert.equal(cellMapMatches(map, filters("wrong", -1, -1)), false); // no cell chosen
  assert.equal(cellMapMatches({}, filters("all", 3, 1)), false);
  assert.equal(cellMapMatches(null, filters("all", 3, 1)), false);
});

test("a cell click filters to exactly that cell; a second click clears it", () => {
  const start = filters("wrong", -1, -1, 4);
  const cell = filtersForCell(start, 2, 7);
  assert.deepEqual(cell, filters("all", 2, 7, 0));
  assert.equal(isActiveCell(cell, 2, 7), true);
  assert.equal(isActiveCell(cell, 7, 2), false);
  assert.deepEqual(filtersForCell(cell, 2, 7), filters("wrong", -1, -1, 0));
  assert.deepEqual(filtersForCell(cell, 3, 3), filters("all", 3, 3, 0)); // the diagonal too
  // the same class filters chosen from the menus with "wrong only" are not that cell
  assert.equal(isActiveCell(filters("wrong", 2, 7), 2, 7), false);
});

test("sprite offsets are row-major with the kernel's column count", () => {
  assert.deepEqual(spriteOffset(0, 10, 48), { x: 0, y: 0 });
  assert.deepEqual(spriteOffset(9, 10, 48), { x: 432, y: 0 });
  assert.deepEqual(spriteOffset(10, 10, 48), { x: 0, y: 48 });
  assert.deepEqual(spriteOffset(23, 10, 48), { x: 144, y: 96 });
  assert.deepEqual(spriteOffset(3, 0, 48), { x: 0, y: 144 }); // a broken column count stays finite
});

test("cell shade is the cell's share of its row, clamped, never NaN", () => {
  assert.deepEqual(rowTotals([[3, 1], [0, 0]]), [4, 0]);
  assert.equal(cellShade(1, 4), 0.25);
  assert.equal(cellShade(0, 0), 0);
  assert.equal(cellShade(5, 0), 0);
  assert.equal(cellShade(9, 4), 1);
});

test("text helpers", () => {
  assert.equal(rangeLabel(0, 60, 143), "1–60 of 143");
  assert.equal(rangeLabel(2, 60, 143), "121–143 of 143");
  assert.equal(rangeLabel(0, 60, 0), "none");
  assert.equal(summaryText({ total: 200, wrong: 15 }), "200 images · 185 correct · 15 wrong (7.5%)");
  assert.equal(summaryText({}), "0 images · 0 correct · 0 wrong (0.0%)");
  assert.equal(thumbTitle(["cat", "dog"], 17, 0, 1, 0.934), "#17: predicted dog (93.4%), true cat");
  assert.equal(thumbTitle(["cat", "dog"], 3, 1, 1, 0.5), "#3: predicted dog (50.0%), correct");
  assert.equal(thumbTitle([], 3, 4, 2, 0.5), "#3: predicted class 2 (50.0%), true class 4");
});

test("bytes are copied out of an unaligned view", () => {
  const buffer = new Uint8Array([9, 1, 2, 3, 9]).buffer;
  const out = decodeBytes(new DataView(buffer, 1, 3));
  assert.deepEqual([...out], [1, 2, 3]);
  assert.equal(out.byteOffset, 0);
  assert.notEqual(out.buffer, buffer);
  assert.equal(decodeBytes(null).length, 0);
});
