// @ts-check
/**
 * gradcam-widget front end: the view of CompareWidget (compare_gradcam). One panel per model, each
 * drawn from the `panels` entry the kernel mirrors from that model's own widget; one set of
 * controls (method, colormap, opacity, scale, the what-if brush) for all. A class clicked in any panel
 * is the selection of every panel; hovering one panel reads every panel's map at the same place (the
 * maps are at each model's own resolution, the place is a fraction of the picture).
 *
 * Scale modes follow js/lib/scale.js: per map and signed scale each panel's map by itself; shared
 * divides every panel's map by the largest maximum of the panels' maps of the selected class, a
 * number the kernel computes (`scale.maximum`, for `scale.class_index`/`scale.method`). Until the
 * kernel's maximum is for the selection on screen, a panel waits instead of drawing on a stale one.
 */

import { asArray, element, fillSelect, labelled, listenerBook, suppressNotebookShortcuts } from "./lib/dom.js";
import {
  TABLE_SIZE,
  colorize,
  colormapNames,
  decodeBytes,
  fitDisplaySize,
  formatPercent,
  mapKey,
  parseMapEntry,
  shortName,
  statusMatches,
  upsampleBilinear,
  greyTable,
  formatRaw,
} from "./lib/maps.js";
import { createBrush } from "./lib/brush.js";
import { colorizeDiverging } from "./trust-panel.js";
import { divergingTableOf, drawnMaximum, parseSigned, scaleMode, scaledValues, scaleOptions } from "./lib/scale.js";

/** Widest a panel's picture is drawn, so four fit side by side. */
export const PANEL_MAX_WIDTH = 300;

/**
 * The size a panel draws its picture at: the single widget's rule, no wider than PANEL_MAX_WIDTH.
 * @param {number} width
 * @param {number} height
 */
export function panelSize(width, height) {
  const fit = fitDisplaySize(width, height);
  const scale = Math.min(1, PANEL_MAX_WIDTH / Math.max(1, fit.width));
  return { width: Math.max(1, Math.round(fit.width * scale)), height: Math.max(1, Math.round(fit.height * scale)) };
}

/**
 * The value of a drawn map at a place given as fractions of the picture (null off the picture).
 * @param {Float32Array} values  row-major, width x height
 * @param {number} width
 * @param {number} height
 * @param {number} u
 * @param {number} v
 */
export function valueAt(values, width, height, u, v) {
  if (!(u >= 0 && u < 1 && v >= 0 && v < 1)) return null;
  return values[Math.floor(v * height) * width + Math.floor(u * width)];
}

/**
 * A cheap fingerprint of bytes (FNV-1a), so a panel only re-decodes a picture that changed.
 * @param {Uint8Array} bytes
 */
export function fingerprint(bytes) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193);
  return `${bytes.length}:${hash >>> 0}`;
}

/**
 * The shared mode's common maximum when the kernel computed it for this selection (every panel's
 * map of `classIndex` by `method` in hand), else null: the panels wait rather than draw on it.
 * @param {any} scale  the `scale` trait
 * @param {number} classIndex
 * @param {string} method
 * @returns {number | null}
 */
export function sharedMaximumFor(scale, classIndex, method) {
  if (!scale || typeof scale !== "object" || scale.complete !== true) return null;
  if (Number(scale.class_index) !== classIndex || String(scale.method) !== method) return null;
  const maximum = Number(scale.maximum);
  return Number.isFinite(maximum) && maximum >= 0 ? maximum : null;
}

/**
 * What a panel's hover readout says: the drawn value and the raw value it stands for (the drawn
 * value times the number a drawn 1 stands for in the mode: own maximum, shared maximum, or the
 * largest magnitude before ReLU).
 * @param {number} drawn
 * @param {number} factor
 */
export function panelReading(drawn, factor) {
  return { text: `map ${drawn.toFixed(2)} · raw ${formatRaw(drawn * factor)} here`, raw: drawn * factor };
}

/**
 * @typedef {import("./lib/maps.js").AnyModel} AnyModel
 * @typedef {import("./lib/maps.js").CachedMap} CachedMap
 */

/**
 * One model's panel: its picture, map, status, hover reading and class list.
 * @param {number} index
 * @param {{onDom: ReturnType<typeof listenerBook>["onDom"], commit: (k: number) => void,
 *   hover: (u: number | null, v: number | null) => void}} context
 */
function createPanel(index, { onDom, commit, hover }) {
  const root = element("div", "gcc-panel", { "data-testid": `gcc-panel-${index}` });
  const title = element("div", "gcc-title", { "data-testid": `gcc-title-${index}` });
  const stage = element("div", "gcw-stage gcc-stage");
  const image = /** @type {HTMLImageElement} */ (element("img", "gcw-image", { alt: "Input image", draggable: "false" }));
  const overlay = /** @type {HTMLCanvasElement} */ (
    element("canvas", "gcw-overlay", { "data-testid": `gcc-overlay-${index}`, "aria-label": "Class activation map" })
  );
  const marker = element("div", "gcc-marker", { "aria-hidden": "true" });
  marker.hidden = true;
  const status = element("div", "gcw-status", { role: "status", "data-testid": `gcc-status-${index}` });
  stage.append(image, overlay, marker, status);
  const readout = element("div", "gcw-readout gcc-readout", { "data-testid": `gcc-readout-${index}` }, "\u00a0");
  const colorbar = /** @type {HTMLCanvasElement} */ (
    element("canvas", "gcw-colorbar", { "data-testid": `gcc-colorbar-${index}`, width: String(TABLE_SIZE), height: "1", "aria-hidden": "true" })
  );
  const colorbarMin = element("span", "gcw-colorbar-min", {}, "0");
  const colorbarMax = element("span", "gcw-colorbar-max", { "data-testid": `gcc-colorbar-max-${index}` }, "–");
  const colorbarLabels = element("div", "gcw-colorbar-labels");
  colorbarLabels.append(colorbarMin, colorbarMax);
  const colorbarBox = element("div", "gcw-colorbar-box gcc-colorbar-box");
  colorbarBox.append(colorbar, colorbarLabels);
  const classes = element("div", "gcw-classes", { role: "listbox", "aria-label": "Top classes" });
  root.append(title, stage, readout, colorbarBox, classes);

  /** @type {Map<string, CachedMap>} */
  const cache = new Map();
  /** Each cached map's values before ReLU (sent while the signed mode is on), by the same key. */
  /** @type {Map<string, import("./lib/scale.js").SignedMap>} */
  const signedCache = new Map();
  let picture = "";
  /** @type {string | null} */
  let url = null;
  /** @type {{map: CachedMap, values: Float32Array, width: number, height: number, factor: number,
   *   signed: boolean, mode: string, low: string, high: string} | null} */
  let drawn = null;
  let size = { width: 1, height: 1 };

  onDom(stage, "pointermove", (/** @type {PointerEvent} */ event) => {
    const box = overlay.getBoundingClientRect();
    if (box.width > 0 && box.height > 0) hover((event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height);
  });
  onDom(stage, "pointerleave", () => hover(null, null));
  onDom(classes, "click", (/** @type {MouseEvent} */ event) => {
    const option = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (event.target).closest(".gcw-class"));
    if (option) commit(Number(option.dataset.index));
  });

  /** @param {any} entry */
  function ingest(entry) {
    const map = parseMapEntry(entry);
    if (map) cache.set(map.key, map);
    const signed = map && parseSigned(entry);
    if (map && signed) signedCache.set(map.key, signed);
  }

  /** @param {any} panel @param {string[]} classNames @param {number} selected */
  function renderClasses(panel, classNames, selected) {
    const options = asArray(panel.top_classes).map((/** @type {any} */ entry) => {
      const k = Number(entry.index);
      const name = shortName(String(entry.name ?? classNames[k] ?? `class ${k}`));
      const option = element("div", "gcw-class", {
        role: "option",
        "data-testid": `gcc-class-${index}-${k}`,
        "data-index": String(k),
        "aria-selected": String(k === selected),
        tabindex: "-1",
      });
      suppressNotebookShortcuts(option);
      const p = Number(entry.probability);
      const fill = element("span", "gcw-bar-fill");
      fill.style.width = `${Math.min(100, Math.max(0, (Number.isFinite(p) ? p : 0) * 100))}%`;
      const bar = element("span", "gcw-bar", { "aria-hidden": "true" });
      bar.append(fill);
      const percent = entry.before == null ? formatPercent(p) : `${formatPercent(Number(entry.before))} → ${formatPercent(p)}`;
      const label = element("span", "gcw-class-label", { title: `${name} (#${k})` });
      label.append(element("span", "gcw-class-name", {}, name), element("span", "gcw-class-index", {}, `#${k}`));
      option.append(label, bar, element("span", "gcw-class-percent", { "data-testid": `gcc-percent-${index}-${k}` }, percent));
      return option;
    });
    classes.replaceChildren(...options);
  }

  return {
    root,
    stage,
    /**
     * Draw this panel for the shared selection.
     * @param {any} panel
     * @param {{classIndex: number, method: string, opacity: number, table: Uint8Array, classNames: string[],
     *   mode: string, common: number | null, divergingTable: Uint8Array}} shared
     */
    render(panel, shared) {
      title.textContent = String(panel.name ?? `model ${index + 1}`);
      const bytes = decodeBytes(panel.image);
      const print = fingerprint(bytes);
      if (print !== picture) {
        picture = print;
        if (url) URL.revokeObjectURL(url);
        url = URL.createObjectURL(new Blob([bytes], { type: "image/png" }));
        image.src = url;
        cache.clear(); // maps of the previous picture (before an edit)
        signedCache.clear();
        drawn = null;
      }
      const imageSize = asArray(panel.image_size);
      size = panelSize(Number(imageSize[0]) || 1, Number(imageSize[1]) || 1);
      root.style.width = `${size.width}px`;
      stage.style.aspectRatio = `${size.width} / ${size.height}`;
      if (overlay.width !== size.width || overlay.height !== size.height) Object.assign(overlay, size);
      asArray(panel.maps).forEach(ingest);
      ingest(panel.extra_map);
      const layer = String(panel.layer ?? "");
      const st = panel.status ?? {};
      const error = st.state === "error" && statusMatches(st, shared.classIndex, shared.method, layer) ? String(st.message ?? "Error") : null;
      const map = cache.get(mapKey(shared.classIndex, shared.method, layer, null));
      // Shared mode: the kernel's maximum is not yet for this selection (another panel computes).
      const waiting = shared.mode === "shared" && shared.common === null;
      const computing = !error && (!map || st.state === "computing" || waiting);
      status.dataset.state = error ? "error" : computing ? "computing" : "ready";
      const progress = st.state === "computing" && st.message ? String(st.message) : map && st.state !== "computing" ? "waiting for the other models (shared scale)…" : "computing…";
      status.textContent = error ?? (computing ? progress : "");
      overlay.hidden = error !== null;
      stage.classList.toggle("gcw-pending", computing);
      if (map && !error && !waiting) {
        const scaled = scaledValues(map, signedCache.get(map.key) ?? null, shared.mode, shared.common ?? 0);
        const mode = scaled.signed ? "signed" : shared.mode === "signed" ? "per_map" : shared.mode;
        if (drawn?.map !== map || drawn.width !== size.width || drawn.mode !== mode || drawn.factor !== scaled.factor) {
          const values = upsampleBilinear(scaled.values, map.height, map.width, size.width, size.height);
          drawn = { map, values, ...size, factor: scaled.factor, signed: scaled.signed, mode, low: scaled.low, high: scaled.high };
          overlay.dataset.drawnMax = String(drawnMaximum(scaled.values));
        }
        const pixels = drawn.signed ? colorizeDiverging(drawn.values, shared.divergingTable) : colorize(drawn.values, shared.table);
        overlay.getContext("2d")?.putImageData(new ImageData(pixels, size.width, size.height), 0, 0);
        overlay.dataset.scale = drawn.mode;
        colorbarMin.textContent = drawn.low;
        colorbarMax.textContent = drawn.high;
        root.dataset.class = String(map.classIndex);
        root.dataset.method = map.method;
      } else if (!map || waiting) {
        delete root.dataset.class;
      }
      const ramp = new Float32Array(TABLE_SIZE).map((_, i) => i / TABLE_SIZE);
      const signedBar = drawn ? drawn.signed : shared.mode === "signed"; // the bar of what is drawn
      const bar = signedBar ? colorizeDiverging(ramp.map((v) => v * 2 - 1), shared.divergingTable) : colorize(ramp, shared.table);
      colorbar.getContext("2d")?.putImageData(new ImageData(bar, TABLE_SIZE, 1), 0, 0);
      overlay.style.opacity = String(shared.opacity);
      renderClasses(panel, shared.classNames, shared.classIndex);
    },
    /** Read this panel's map at (u, v), fractions of the picture; null clears. @param {number | null} u @param {number | null} v */
    read(u, v) {
      const value = u === null || v === null || !drawn ? null : valueAt(drawn.values, drawn.width, drawn.height, u, v);
      marker.hidden = value === null;
      if (value === null || u === null || v === null || !drawn) {
        readout.textContent = "\u00a0";
        for (const name of ["normalised", "raw", "scale", "canvasX", "canvasY"]) delete readout.dataset[name];
        return;
      }
      marker.style.left = `${u * 100}%`;
      marker.style.top = `${v * 100}%`;
      const reading = panelReading(value, drawn.factor);
      readout.textContent = reading.text;
      readout.dataset.normalised = String(value);
      readout.dataset.raw = String(reading.raw);
      readout.dataset.scale = drawn.mode;
      readout.dataset.canvasX = String(Math.floor(u * drawn.width)); // the drawn pixel read (tests)
      readout.dataset.canvasY = String(Math.floor(v * drawn.height));
    },
    dispose() {
      if (url) URL.revokeObjectURL(url);
    },
  };
}

/**
 * @param {{model: AnyModel, el: HTMLElement}} context
 */
function render({ model, el }) {
  const listeners = listenerBook(model);
  const { onModel, onDom } = listeners;
  const root = element("div", "gcw-root gcc-root", { "data-testid": "gcc-root", "data-ready": "false" });
  const method = /** @type {HTMLSelectElement} */ (element("select", "gcw-select", { "data-testid": "gcc-method" }));
  const colormap = /** @type {HTMLSelectElement} */ (element("select", "gcw-select", { "data-testid": "gcc-colormap" }));
  const opacity = /** @type {HTMLInputElement} */ (
    element("input", "gcw-opacity", { "data-testid": "gcc-opacity", type: "range", min: "0", max: "1", step: "0.01" })
  );
  const scale = /** @type {HTMLSelectElement} */ (element("select", "gcw-select", { "data-testid": "gcc-scale" }));
  const notice = element("div", "gcw-notice", { "data-testid": "gcc-notice", role: "status" });
  const controls = element("div", "gcc-controls");
  controls.append(labelled("Method", method), labelled("Colormap", colormap), labelled("Opacity", opacity), labelled("Scale", scale));
  const grid = element("div", "gcc-panels");
  for (const control of [method, colormap, opacity, scale]) suppressNotebookShortcuts(control);

  /** @param {string} name @param {any} value */
  const send = (name, value) => {
    model.set(name, value);
    model.save_changes();
  };
  const brush = createBrush({ fills: asArray(model.get("edit_fills")).map(String), onDom, send: (edit) => send("edit", edit) });
  controls.append(brush.controls);
  root.append(controls, notice, grid);
  el.append(root);

  /** @type {ReturnType<typeof createPanel>[]} */
  const panels = [];
  /** @type {Map<string, Uint8Array>} */
  let tables = new Map();
  let queued = false;

  function table() {
    return tables.get(String(model.get("colormap"))) ?? tables.values().next().value ?? greyTable();
  }

  /** Where the pointer rests (fractions of the picture), so a redrawn map is read again. */
  /** @type {[number | null, number | null]} */
  let pointer = [null, null];
  /** @param {number | null} u @param {number | null} v */
  const hover = (u, v) => {
    pointer = [u, v];
    panels.forEach((p) => p.read(u, v));
  };
  let scaleWords = "";

  /** The Scale menu from the kernel's words (rebuilt only when they change, so focus stays). */
  function renderScale() {
    const options = scaleOptions(model.get("scale"));
    const words = JSON.stringify(options);
    if (words !== scaleWords) {
      scaleWords = words;
      scale.replaceChildren(
        ...options.map(([value, text]) => {
          const option = document.createElement("option");
          option.value = value;
          option.textContent = text;
          return option;
        }),
      );
    }
    scale.value = scaleMode(model.get("scale_mode"));
  }

  function update() {
    queued = false;
    const sent = asArray(model.get("panels"));
    while (panels.length < sent.length) {
      const panel = createPanel(panels.length, { onDom, commit: (k) => send("selected_class", k), hover });
      brush.attach(panel.stage);
      grid.append(panel.root);
      panels.push(panel);
    }
    const shared = {
      classIndex: Number(model.get("selected_class")),
      method: String(model.get("method") ?? ""),
      opacity: Math.min(1, Math.max(0, Number(model.get("opacity")))),
      table: table(),
      classNames: asArray(model.get("class_names")).map(String),
      mode: scaleMode(model.get("scale_mode")),
      common: /** @type {number | null} */ (null),
      divergingTable: divergingTableOf(model.get("diverging_table")),
    };
    shared.common = sharedMaximumFor(model.get("scale"), shared.classIndex, shared.method);
    sent.forEach((panel, i) => panels[i].render(panel, shared));
    hover(...pointer); // a pointer resting on a panel reads the maps just drawn
    renderScale();
    fillSelect(method, asArray(model.get("methods")).map(String), shared.method);
    fillSelect(colormap, [...tables.keys()], String(model.get("colormap") ?? ""));
    opacity.value = String(shared.opacity);
    const text = String(model.get("notice") ?? "");
    notice.textContent = text;
    notice.hidden = text === "";
    const states = sent.map((p) => p.edit_state ?? {});
    const newest = states.find((s) => s.state === "error") ?? states[0];
    if (states.every((s) => s.seq === states[0]?.seq && s.state !== "computing")) brush.answered(newest);
    root.dataset.class = String(shared.classIndex);
    root.dataset.ready = String(panels.length > 0 && panels.every((p) => p.root.dataset.class === String(shared.classIndex)));
  }

  function schedule() {
    if (queued) return;
    queued = true;
    queueMicrotask(update);
  }

  function readTables() {
    const sent = /** @type {Record<string, unknown>} */ (model.get("colormap_tables") ?? {});
    tables = new Map(
      colormapNames(sent)
        .map((name) => /** @type {[string, Uint8Array]} */ ([name, decodeBytes(/** @type {any} */ (sent[name]))]))
        .filter(([, t]) => t.length === TABLE_SIZE * 3),
    );
  }

  onDom(method, "change", () => send("method", method.value));
  onDom(colormap, "change", () => send("colormap", colormap.value));
  onDom(opacity, "input", () => send("opacity", Number(opacity.value)));
  onDom(scale, "change", () => send("scale_mode", scale.value));
  for (const name of ["panels", "selected_class", "method", "colormap", "opacity", "notice", "scale_mode", "scale", "diverging_table"]) {
    onModel(`change:${name}`, schedule);
  }
  onModel("change:colormap_tables", () => {
    readTables();
    schedule();
  });
  onModel("change:edit", () => brush.adopt(model.get("edit")));
  readTables();
  update();

  return () => {
    listeners.removeAll();
    panels.forEach((p) => p.dispose());
    root.remove();
  };
}

export default { render };
