// Class names as the widget draws them (issue 14): cut short without splitting characters, and
// isolated when their text direction could reorder the labels around them.
import assert from "node:assert/strict";
import { test } from "node:test";

import { NAME_LIMIT, isolatedName, shortName } from "../../js/lib/maps.js";
import { describeTarget } from "../../js/trust-panel.js";

test("short names are kept, long ones cut to the limit with an ellipsis", () => {
  assert.equal(shortName("elephant"), "elephant");
  const cut = shortName("x".repeat(10_000));
  assert.equal(Array.from(cut).length, NAME_LIMIT);
  assert.ok(cut.endsWith("…"));
});

test("a cut never splits a surrogate pair", () => {
  const cut = shortName("🐘".repeat(200), 10);
  assert.equal(cut, `${"🐘".repeat(9)}…`);
});

test("names with right-to-left text or bidi controls are isolated, others untouched", () => {
  assert.equal(isolatedName("penguin"), "penguin");
  assert.equal(isolatedName("abc\u202edef"), "\u2068abc\u202edef\u2069");
  assert.equal(isolatedName("פינגווין"), "\u2068פינגווין\u2069");
  assert.equal(describeTarget(["a\u202eb"], 0, "gradcam", "conv", { gradcam: "Grad-CAM" }), "\u2068a\u202eb\u2069 (#0) · Grad-CAM · conv");
});
