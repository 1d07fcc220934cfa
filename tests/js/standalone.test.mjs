// The saved page's in-page model (js/standalone.js): anywidget's model API over saved state, and
// kernel-like answers from the maps computed before saving. Run: node --test tests/js/
import assert from "node:assert/strict";
import { test } from "node:test";

import { activeElementOf } from "../../js/lib/dom.js";
import { reviveBytes, savedModel } from "../../js/standalone.js";

const map = (k, method = "gradcam", layer = "conv") => ({ class_index: k, method, layer, height: 1, width: 1, raw: new DataView(new ArrayBuffer(4)), maximum: 1, has_evidence: true });

function saved() {
  const top = [map(3), map(1)];
  return {
    state: {
      selected_class: 3, method: "gradcam", layer: "conv", maps: top, extra_map: {}, status: { state: "ready" },
      top_classes: [{ index: 3 }, { index: 1 }], class_names: ["a", "b", "c", "d", "e"], trust_open: false,
    },
    maps: [map(3), map(1), map(4), map(3, "hirescam"), map(1, "hirescam")],
    trust: [],
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

test("reviveBytes turns {$bytes} leaves into DataViews, nested anywhere", () => {
  const value = reviveBytes({ a: [{ raw: { $bytes: Buffer.from([1, 2, 250]).toString("base64") } }], b: 2 });
  assert.ok(value.a[0].raw instanceof DataView);
  assert.deepEqual([...new Uint8Array(value.a[0].raw.buffer)], [1, 2, 250]);
  assert.equal(value.b, 2);
});

test("set fires change events at once; off removes them", () => {
  const model = savedModel(saved());
  const seen = [];
  const callback = (_m, value) => seen.push(value);
  model.on("change:opacity", callback);
  model.set("opacity", 0.7);
  model.off("change:opacity", callback);
  model.set("opacity", 0.2);
  assert.deepEqual(seen, [0.7]);
  assert.equal(model.get("opacity"), 0.2);
});

test("a class computed before saving arrives as extra_map; a top-k class needs none", async () => {
  const model = savedModel(saved());
  model.set("selected_class", 4);
  model.save_changes();
  await tick();
  assert.equal(model.get("extra_map").class_index, 4);
  assert.equal(model.get("status").state, "ready");
  model.set("selected_class", 1);
  model.save_changes();
  await tick();
  assert.deepEqual(model.get("status"), { state: "ready", message: "", class_index: 1, method: "gradcam", layer: "conv" });
});

test("anything not computed says it needs the kernel, for that very request", async () => {
  const model = savedModel(saved());
  model.set("selected_class", 2);
  model.save_changes();
  await tick();
  const status = model.get("status");
  assert.equal(status.state, "error");
  assert.equal(status.class_index, 2);
  assert.match(status.message, /map of c \(#2\).*needs the Python kernel/);
  model.set("method", "layercam");
  model.set("selected_class", 3);
  model.save_changes();
  await tick();
  assert.match(model.get("status").message, /layercam map of layer conv/);
});

test("a method computed for every top class swaps the maps in", async () => {
  const model = savedModel(saved());
  model.set("method", "hirescam");
  model.save_changes();
  await tick();
  assert.deepEqual(model.get("maps").map((m) => [m.class_index, m.method]), [[3, "hirescam"], [1, "hirescam"]]);
  assert.equal(model.get("status").state, "ready");
});

test("activeElementOf reads the focused element of a node's shadow root, not the document's", () => {
  const inner = { id: "option" };
  const shadowRoot = { activeElement: inner };
  const node = { getRootNode: () => shadowRoot };
  globalThis.document = { activeElement: { id: "host" } };
  try {
    assert.equal(activeElementOf(node), inner);
    const detached = { getRootNode() { return detached; } };
    assert.equal(activeElementOf(detached).id, "host");
  } finally {
    delete globalThis.document;
  }
});
