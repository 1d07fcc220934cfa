// Tests of js/lib/maps.js's drawing rules against values computed by gradcam_widget.colormaps
// (fixtures written by tests/js/make_fixtures.py). Run: node --test tests/js/
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import widget from "../../js/gradcam.js";
import {
  bilinearSample,
  colorize,
  colormapIndex,
  colormapNames,
  decodeBytes,
  decodeFloat32,
  filterClasses,
  fitDisplaySize,
  formatPercent,
  formatReadout,
  mapKey,
  normalise,
  parseMapEntry,
  pixelAt,
  statusMatches,
  upsampleBilinear,
} from "../../js/lib/maps.js";

const fixture = (name) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8"));
const bilinear = fixture("bilinear.json");
const colormap = fixture("colormap.json");
const float32 = fixture("float32.json");

const hexBytes = (hex) => Uint8Array.from(hex.match(/../g), (pair) => parseInt(pair, 16));

/** A DataView over `bytes` starting at an odd offset of a larger buffer, as the kernel may send. */
function unalignedView(bytes, offset = 3) {
  const buffer = new ArrayBuffer(bytes.length + offset + 5);
  new Uint8Array(buffer).set(bytes, offset);
  return new DataView(buffer, offset, bytes.length);
}

function float32Bytes(values) {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return new Uint8Array(view.buffer);
}

test("the module exports render without touching the DOM at import", () => {
  assert.equal(typeof widget.render, "function");
  assert.equal(typeof globalThis.document, "undefined");
});

test("decodeFloat32 reads little-endian values from an unaligned DataView", () => {
  const view = unalignedView(hexBytes(float32.little_endian_hex));
  assert.equal(view.byteOffset % 4, 3);
  assert.deepEqual(Array.from(decodeFloat32(view)), float32.values);
});

test("decodeFloat32 accepts an ArrayBuffer and a Uint8Array subarray", () => {
  const bytes = hexBytes(float32.little_endian_hex);
  assert.deepEqual(Array.from(decodeFloat32(bytes.buffer)), float32.values);
  const padded = new Uint8Array(bytes.length + 1);
  padded.set(bytes, 1);
  assert.deepEqual(Array.from(decodeFloat32(padded.subarray(1))), float32.values);
});

test("decodeFloat32 rejects a length that is not a multiple of 4", () => {
  assert.throws(() => decodeFloat32(new Uint8Array(6)), RangeError);
});

test("decodeBytes copies, so later writes to the source do not leak in", () => {
  const source = new Uint8Array([1, 2, 3, 4]);
  const copy = decodeBytes(new DataView(source.buffer, 1, 2));
  source[1] = 99;
  assert.deepEqual(Array.from(copy), [2, 3]);
  assert.equal(decodeBytes(null).length, 0);
});

test("normalise divides by the maximum like the Python float32 division", () => {
  const { raw, maximum, expected } = float32.normalise;
  assert.deepEqual(Array.from(normalise(raw, maximum)), expected);
});

test("normalise with maximum 0 (no positive evidence) gives zeros, never NaN", () => {
  assert.deepEqual(Array.from(normalise([0, 0, 0], 0)), [0, 0, 0]);
  assert.deepEqual(Array.from(normalise([0.5, 1], 0)), [0, 0]);
  assert.deepEqual(Array.from(normalise([NaN, -1, 3], 2)), [0, 0, 1]);
});

for (const c of bilinear.cases) {
  test(`upsampleBilinear equals colormaps.bilinear_upsample: ${c.name}`, () => {
    const out = upsampleBilinear(Float32Array.from(c.map), c.height, c.width, c.out_width, c.out_height);
    assert.equal(out.length, c.expected.length);
    let worst = 0;
    for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - c.expected[i]));
    assert.ok(worst <= 1e-6, `largest difference ${worst}`);
  });
}

test("upsampling by 1 is the identity", () => {
  const c = bilinear.cases.find((k) => k.name.includes("identity"));
  const source = Float32Array.from(c.map);
  assert.deepEqual(upsampleBilinear(source, c.height, c.width, c.width, c.height), source);
});

test("a ramp upsampled by 2 gives the hand-computed pixel-centre values", () => {
  // Source x of output pixel i is (i + 0.5) / 2 - 0.5, clamped to [0, 3].
  const out = upsampleBilinear([0, 1, 2, 3], 1, 4, 8, 1);
  assert.deepEqual(Array.from(out), [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3]);
});

test("bilinearSample clamps outside the map and interpolates inside", () => {
  const map = [0, 1, 2, 3]; // 2x2
  assert.equal(bilinearSample(map, 2, 2, -5, -5), 0);
  assert.equal(bilinearSample(map, 2, 2, 9, 9), 3);
  assert.equal(bilinearSample(map, 2, 2, 0.5, 0.5), 1.5);
  assert.equal(bilinearSample(map, 2, 2, 1, 0.25), 1.5);
});

test("colormapIndex follows min(255, floor(v * 256))", () => {
  assert.equal(colormapIndex(0), 0);
  assert.equal(colormapIndex(1), 255);
  assert.equal(colormapIndex(255 / 256), 255);
  assert.equal(colormapIndex(Math.fround(255 / 256) - 1e-7), 254);
  assert.equal(colormapIndex(1 / 256), 1);
  assert.equal(colormapIndex(-0.5), 0);
  assert.equal(colormapIndex(NaN), 0);
  assert.equal(colormapIndex(7), 255);
});

for (const name of Object.keys(colormap.tables)) {
  test(`colorize with the ${name} table equals colormaps.apply_colormap`, () => {
    const table = Uint8Array.from(colormap.tables[name]);
    assert.equal(table.length, 768);
    const rgba = colorize(Float32Array.from(colormap.values), table);
    const rgb = Array.from(rgba).filter((_, i) => i % 4 !== 3);
    assert.deepEqual(rgb, colormap.expected[name]);
    assert.ok(Array.from(rgba).every((v, i) => i % 4 !== 3 || v === 255), "every pixel opaque");
  });
}

test("raw map -> normalise -> upsample -> colorize equals colormaps.overlay at opacity 1", () => {
  const p = colormap.pipeline;
  const map = parseMapEntry({
    class_index: 3, method: "gradcam", layer: "conv", height: p.height, width: p.width,
    raw: unalignedView(float32Bytes(p.raw), 1), maximum: p.maximum, has_evidence: true,
  });
  const values = upsampleBilinear(map.normalised, p.height, p.width, p.out_width, p.out_height);
  const rgba = colorize(values, Uint8Array.from(colormap.tables[p.colormap]));
  assert.deepEqual(Array.from(rgba).filter((_, i) => i % 4 !== 3), p.expected_rgb);
});

test("parseMapEntry keys the map by its selection and rejects malformed entries", () => {
  const entry = {
    class_index: 7, method: "hirescam", layer: "block5", height: 1, width: 2,
    raw: new DataView(float32Bytes([1, 4]).buffer), maximum: 4, has_evidence: true,
  };
  const map = parseMapEntry(entry);
  assert.equal(map.key, mapKey(7, "hirescam", "block5"));
  assert.deepEqual(Array.from(map.normalised), [0.25, 1]);
  assert.equal(parseMapEntry({}), null);
  assert.equal(parseMapEntry({ ...entry, height: 3 }), null, "wrong number of values");
  const empty = parseMapEntry({ ...entry, maximum: 0, has_evidence: false });
  assert.deepEqual(Array.from(empty.normalised), [0, 0]);
  assert.equal(empty.hasEvidence, false);
});

test("mapKey tells apart selections that a naive join would merge", () => {
  assert.equal(mapKey(1, "gradcam", "a"), mapKey(1, "gradcam", "a"));
  assert.notEqual(mapKey(1, "gradcam", "a"), mapKey(2, "gradcam", "a"));
  assert.notEqual(mapKey(1, "a|b", "c"), mapKey(1, "a", "b|c"));
  assert.notEqual(mapKey(1, "gradcam", "a"), mapKey(1, "gradcam++", "a"));
});

const NAMES = ["tench", "goldfish", "great white shark", "tiger shark", "hammerhead", "Shark Tank", "tiger"];

test("filterClasses finds a class by its index first", () => {
  const found = filterClasses(NAMES, "3");
  assert.deepEqual(found[0], { index: 3, name: "tiger shark" });
  assert.deepEqual(filterClasses(NAMES, " 6 ")[0], { index: 6, name: "tiger" });
  assert.deepEqual(filterClasses(NAMES, "99"), [], "an index out of range matches nothing");
});

test("filterClasses matches names case-insensitively, exact then prefix then substring", () => {
  assert.deepEqual(filterClasses(NAMES, "SHARK").map((m) => m.index), [5, 2, 3]);
  assert.deepEqual(filterClasses(NAMES, "tiger").map((m) => m.index), [6, 3]);
  assert.deepEqual(filterClasses(NAMES, ""), []);
  assert.deepEqual(filterClasses(NAMES, "zebra"), []);
});

test("filterClasses caps the number of results", () => {
  const many = Array.from({ length: 100 }, (_, i) => `dog ${i}`);
  assert.equal(filterClasses(many, "dog").length, 8);
  assert.equal(filterClasses(many, "dog", 3).length, 3);
  assert.deepEqual(filterClasses(many, "dog", 3).map((m) => m.index), [0, 1, 2]);
});

test("fitDisplaySize keeps the aspect and bounds the longest side to 256..512", () => {
  assert.deepEqual(fitDisplaySize(1024, 768), { width: 512, height: 384 });
  assert.deepEqual(fitDisplaySize(300, 600), { width: 256, height: 512 });
  assert.deepEqual(fitDisplaySize(400, 300), { width: 400, height: 300 });
  assert.deepEqual(fitDisplaySize(32, 32), { width: 256, height: 256 });
  assert.deepEqual(fitDisplaySize(0, 0), { width: 256, height: 256 });
});

test("pixelAt maps a pointer offset to the pixel under it, clamped at the far edge", () => {
  assert.deepEqual(pixelAt(0.5, 0.5, 512, 384, 1024, 768), { x: 1, y: 1 });
  assert.deepEqual(pixelAt(511.9, 383.9, 512, 384, 1024, 768), { x: 1023, y: 767 });
  assert.deepEqual(pixelAt(512, 384, 512, 384, 1024, 768), { x: 1023, y: 767 });
  assert.deepEqual(pixelAt(-1, -1, 512, 384, 64, 48), { x: 0, y: 0 });
});

test("formatReadout and formatPercent produce the documented text", () => {
  assert.equal(formatReadout({ normalised: 0.7312, raw: 0.0123, x: 120, y: 45 }), "normalised 0.73 · raw 1.2e-2 · x 120, y 45");
  assert.equal(formatReadout({ normalised: 0, raw: 0, x: 0, y: 0 }), "normalised 0.00 · raw 0 · x 0, y 0");
  assert.equal(formatPercent(0.1234), "12.3%");
  assert.equal(formatPercent(NaN), "0.0%");
});

test("statusMatches applies an error only to its own selection", () => {
  const status = { state: "error", message: "bad", class_index: 4, method: "gradcam", layer: "conv" };
  assert.equal(statusMatches(status, 4, "gradcam", "conv"), true);
  assert.equal(statusMatches(status, 5, "gradcam", "conv"), false);
  assert.equal(statusMatches(status, 4, "scorecam", "conv"), false);
  assert.equal(statusMatches({ state: "error", message: "no image" }, 9, "x", "y"), true);
});

test("colormapNames lists known colormaps in menu order, then extras", () => {
  assert.deepEqual(colormapNames({ turbo: 1, extra: 1, jet: 1 }), ["jet", "turbo", "extra"]);
  assert.deepEqual(colormapNames(undefined), []);
});

test("mapKey tells a contrastive map from the ordinary one, and missing contrast from null", () => {
  assert.equal(mapKey(1, "gradcam", "a"), mapKey(1, "gradcam", "a", null));
  assert.notEqual(mapKey(1, "gradcam", "a", 2), mapKey(1, "gradcam", "a"));
  assert.notEqual(mapKey(1, "gradcam", "a", 2), mapKey(1, "gradcam", "a", 3));
});
