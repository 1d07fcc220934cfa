// @ts-check
/**
 * gradcam-widget front end: the view of CompareWidget (compare_gradcam). One panel per model, each
 * drawn from the `panels` entry the kernel mirrors from that model's own widget; one set of
 * controls (method, colormap, opacity, the what-if brush) for all. A class clicked in any panel is
 * the selection of every panel; hovering one panel reads every panel's map at the same place (the
 * maps are at each model's own resolution, the place is a fraction of the picture).
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
} from "./lib/maps.js";
import { createBrush } from "./lib/brush.js";

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
  const classes = element("div", "gcw-classes", { role: "listbox", "aria-label": "Top classes" });
  root.append(title, stage, readout, classes);

  /** @type {Map<string, CachedMap>} */
  const cache = new Map();
  let picture = "";
  /** @type {string | null} */
  let url = null;
  /** @type {{map: CachedMap, values: Float32Array, width: number, height: number} | null} */
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
     * @param {any} panel @param {{classIndex: number, method: string, opacity: number, table: Uint8Array, classNames: string[]}} shared
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
      const computing = !error && (!map || st.state === "computing");
      status.dataset.state = error ? "error" : computing ? "computing" : "ready";
      status.textContent = error ?? (computing ? (st.state === "computing" && st.message ? String(st.message) : "computing…") : "");
      overlay.hidden = error !== null;
      if (map && !error) {
        if (drawn?.map !== map || drawn.width !== size.width) {
          drawn = { map, values: upsampleBilinear(map.normalised, map.height, map.width, size.width, size.height), ...size };
        }
        overlay.getContext("2d")?.putImageData(new ImageData(colorize(drawn.values, shared.table), size.width, size.height), 0, 0);
        root.dataset.class = String(map.classIndex);
        root.dataset.method = map.method;
      } else if (!map) {
        delete root.dataset.class;
      }
      overlay.style.opacity = String(shared.opacity);
      renderClasses(panel, shared.classNames, shared.classIndex);
    },
    /** Read this panel's map at (u, v), fractions of the picture; null clears. @param {number | null} u @param {number | null} v */
    read(u, v) {
      const value = u === null || v === null || !drawn ? null : valueAt(drawn.values, drawn.width, drawn.height, u, v);
      marker.hidden = value === null;
      if (value === null || u === null || v === null) {
        readout.textContent = "\u00a0";
        delete readout.dataset.normalised;
        return;
      }
      marker.style.left = `${u * 100}%`;
      marker.style.top = `${v * 100}%`;
      readout.textContent = `map ${value.toFixed(2)} here`;
      readout.dataset.normalised = String(value);
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
  const notice = element("div", "gcw-notice", { "data-testid": "gcc-notice", role: "status" });
  const controls = element("div", "gcc-controls");
  controls.append(labelled("Method", method), labelled("Colormap", colormap), labelled("Opacity", opacity));
  const grid = element("div", "gcc-panels");
  for (const control of [method, colormap, opacity]) suppressNotebookShortcuts(control);

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

  /** @param {number | null} u @param {number | null} v */
  const hover = (u, v) => panels.forEach((p) => p.read(u, v));

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
    };
    sent.forEach((panel, i) => panels[i].render(panel, shared));
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
  for (const name of ["panels", "selected_class", "method", "colormap", "opacity", "notice"]) onModel(`change:${name}`, schedule);
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
