// @ts-check
import { activeElementOf, asArray, coalesced, element, suppressNotebookShortcuts } from "./lib/dom.js";
import {
  TABLE_SIZE,
  colorize,
  colormapIndex,
  decodeBytes,
  decodeFloat32,
  parseMapEntry,
  isolatedName,
  mapKey,
  upsampleBilinear,
} from "./lib/maps.js";

/**
 * The trust panel ("Can I trust this map?") of the gradcam-widget view.
 *
 * The kernel (gradcam_widget/trust.py) computes every number and sentence of the report and sends
 * it in the `trust` trait; this module only draws it: the status line, the deletion/insertion
 * curves (SVG), the randomisation verdict, the method strip (thumbnails) and the Grad-CAM minus
 * HiResCAM difference view. See "Trust panel" in docs/protocol.md. Pure helpers are named exports
 * (tested with `node --test`); `createTrustSection` is called by gradcam.js's view.
 *
 * @typedef {import("./lib/maps.js").BytesLike} BytesLike
 * @typedef {import("./lib/maps.js").WireMap} WireMap
 * @typedef {import("./lib/maps.js").AnyModel} AnyModel
 */

// ---------------------------------------------------------------------------------------------
// Trust panel: pure helpers
// ---------------------------------------------------------------------------------------------

/**
 * @typedef {object} TrustReport  The `trust` trait; every field may be missing (`{}` at first).
 * @property {number} [class_index]
 * @property {string} [method]
 * @property {string} [layer]
 * @property {number} [contrast]  the class explained against (contrastive widgets only)
 * @property {string} [state]  "computing" | "ready" | "error"
 * @property {string} [message]
 * @property {Array<Partial<WireMap> & {label?: string}>} [strip]
 * @property {string[]} [strip_pending]
 * @property {{height?: number, width?: number, raw?: BytesLike, max_abs?: number, text?: string}} [difference]
 * @property {Record<string, any>} [faithfulness]
 * @property {Record<string, any>} [randomization]
 *
 * @typedef {{classIndex: number, method: string, layer: string, contrast?: number | null}} Selection
 * @typedef {{method: string, entry: (Partial<WireMap> & {label?: string}) | null}} StripSlot
 */

/** Geometry of one faithfulness chart (SVG user units = CSS pixels): size and plot margins. */
export const TRUST_CHART = Object.freeze({ width: 160, height: 100, left: 26, right: 6, top: 6, bottom: 22 });
/** Longest side of a method-strip thumbnail. */
export const TRUST_THUMB_SIDE = 96;
/** Longest side of the difference view. */
export const TRUST_DIFFERENCE_SIDE = 160;
/** Weight of the map over the image in a thumbnail. */
export const TRUST_THUMB_ALPHA = 0.5;
/** Weight of the difference colours over the greyscale image. */
export const TRUST_DIFFERENCE_ALPHA = 0.7;
/** States a report can be in; anything else the kernel sends is treated as "computing". */
const TRUST_STATES = ["computing", "ready", "error"];
/**
 * Display name of a method ("gradcam++" -> "Grad-CAM++") from the kernel's `method_labels` trait
 * (the method registry's labels); unknown names are returned as they are.
 * @param {string} method
 * @param {unknown} [labels]  the `method_labels` trait: method name -> name in words
 */
export function methodLabel(method, labels) {
  const name = String(method ?? "");
  if (!labels || typeof labels !== "object" || !Object.prototype.hasOwnProperty.call(labels, name)) return name;
  const label = /** @type {Record<string, unknown>} */ (labels)[name];
  return typeof label === "string" && label ? label : name;
}

/**
 * Whether the report carries a target at all (not `{}`).
 * @param {TrustReport | null | undefined} trust
 */
export function hasTrustTarget(trust) {
  return Boolean(trust) && typeof trust === "object" && typeof trust?.class_index === "number" &&
    Number.isFinite(trust.class_index);
}

/**
 * Whether the report describes exactly this (class, method, layer).
 * @param {TrustReport | null | undefined} trust
 * @param {number} classIndex
 * @param {string} method
 * @param {string} layer
 * @param {number | null} [contrast]
 */
export function trustMatches(trust, classIndex, method, layer, contrast = null) {
  if (!trust || !hasTrustTarget(trust)) return false;
  return mapKey(Number(trust.class_index), String(trust.method ?? ""), String(trust.layer ?? ""), trust.contrast ?? null) ===
    mapKey(classIndex, method, layer, contrast);
}

/**
 * The panel's data-state: the report's state when it describes the selection, else "stale".
 * @param {TrustReport | null | undefined} trust
 * @param {Selection} selection
 * @returns {"computing" | "ready" | "error" | "stale"}
 */
export function trustPanelState(trust, selection) {
  if (!trustMatches(trust, selection.classIndex, selection.method, selection.layer, selection.contrast)) return "stale";
  const state = String(trust?.state ?? "");
  return /** @type {any} */ (TRUST_STATES.includes(state) ? state : "computing");
}

/**
 * "elephant (#0) · Grad-CAM · conv2d_2": which map a report is about, in words.
 * @param {ArrayLike<string>} names  class names, index = class index
 * @param {number} classIndex
 * @param {string} method
 * @param {string} layer
 * @param {unknown} [labels]  the `method_labels` trait
 */
export function describeTarget(names, classIndex, method, layer, labels) {
  const name = classIndex >= 0 && classIndex < names.length ? String(names[classIndex]) : `class ${classIndex}`;
  const parts = [`${isolatedName(name)} (#${classIndex})`, methodLabel(method, labels)];
  if (layer) parts.push(String(layer));
  return parts.join(" · ");
}

/**
 * The status line of the panel.
 * @param {TrustReport | null | undefined} trust
 * @param {ArrayLike<string>} names
 * @param {Selection} selection
 * @param {unknown} [labels]  the `method_labels` trait
 */
export function trustStatusText(trust, names, selection, labels) {
  const current = describeTarget(names, selection.classIndex, selection.method, selection.layer, labels);
  if (!trust || !hasTrustTarget(trust)) return `Computing the report for ${current}…`;
  const state = trustPanelState(trust, selection);
  const message = String(trust.message ?? "").trim();
  if (state === "stale") {
    const shown = describeTarget(names, Number(trust.class_index), String(trust.method ?? ""), String(trust.layer ?? ""), labels);
    return `Computing for ${current}… (below, dimmed: the report for ${shown})`;
  }
  if (state === "error") return message || "The report could not be computed.";
  if (state === "computing") return message ? `Computing: ${message}` : "Computing…";
  return `Report for ${current}.`;
}

/**
 * An area under a curve as text with 2 decimals; "–" when there is no number.
 * @param {unknown} value
 */
export function formatAuc(value) {
  const number = typeof value === "number" ? value : value == null || value === "" ? NaN : Number(value);
  return Number.isFinite(number) ? number.toFixed(2) : "–";
}

/**
 * SVG points of a curve: x = fraction of pixels changed (0..1) left to right, y = class
 * probability (0..1) bottom to top, inside the chart's margins; both clamped to [0, 1]. When the
 * fractions do not match the values one to one they are taken as evenly spaced. Pairs that are
 * not numbers are left out. Coordinates are rounded to 2 decimals.
 * @param {ArrayLike<number> | null | undefined} fractions
 * @param {ArrayLike<number> | null | undefined} values
 * @param {{width: number, height: number, left: number, right: number, top: number, bottom: number}} [chart]
 * @returns {Array<[number, number]>}
 */
export function chartPoints(fractions, values, chart = TRUST_CHART) {
  const ys = values ?? [];
  const n = ys.length;
  const xs = fractions && fractions.length === n ? fractions : Array.from({ length: n }, (_, i) => (n > 1 ? i / (n - 1) : 0));
  const plotWidth = chart.width - chart.left - chart.right;
  const plotHeight = chart.height - chart.top - chart.bottom;
  const unit = (/** @type {number} */ v) => Math.min(1, Math.max(0, v));
  const round = (/** @type {number} */ v) => Math.round(v * 100) / 100;
  /** @type {Array<[number, number]>} */
  const points = [];
  for (let i = 0; i < n; i++) {
    const x = Number(xs[i]);
    const y = Number(ys[i]);
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    points.push([round(chart.left + unit(x) * plotWidth), round(chart.top + (1 - unit(y)) * plotHeight)]);
  }
  return points;
}

/**
 * The `points` attribute of an SVG polyline: "x,y x,y ...".
 * @param {Array<[number, number]>} points
 */
export function pointsAttribute(points) {
  return points.map(([x, y]) => `${x},${y}`).join(" ");
}

/**
 * Where a signed value d in [-1, 1] sits on the diverging table, as a value in [0, 1] for the
 * sequential rule: (d + 1) / 2; not-a-number counts as 0 (the middle, "no difference").
 * @param {number} d
 */
export function divergingPosition(d) {
  const number = Number(d);
  return Number.isNaN(number) ? 0.5 : (number + 1) / 2;
}

/**
 * Diverging table index of d: min(255, floor((d + 1) / 2 * 256)), clamped to [0, 255].
 * @param {number} d
 */
export function divergingIndex(d) {
  return colormapIndex(divergingPosition(d));
}

/**
 * Colour signed values with a 256-entry diverging RGB table into opaque RGBA pixels.
 * @param {ArrayLike<number>} values
 * @param {Uint8Array} table  768 bytes
 */
export function colorizeDiverging(values, table) {
  return colorize(Array.from(values, divergingPosition), table);
}

/** Blue - white - red, used only if the kernel sent no `diverging_table`. */
export function fallbackDivergingTable() {
  const table = new Uint8Array(TABLE_SIZE * 3);
  for (let i = 0; i < TABLE_SIZE; i++) {
    const t = (i + 0.5) / TABLE_SIZE; // 0 = blue end, 1 = red end
    const away = Math.abs(2 * t - 1); // 0 in the middle (white)
    const fade = Math.round(255 * (1 - away));
    table.set(t < 0.5 ? [fade, fade, 255] : [255, fade, fade], i * 3);
  }
  return table;
}

/**
 * `top` over `base` at `alpha` (both RGBA of the same size); opaque result. Without a base the
 * top pixels are returned as they are.
 * @param {Uint8ClampedArray | null | undefined} base
 * @param {Uint8ClampedArray} top
 * @param {number} alpha
 * @returns {Uint8ClampedArray<ArrayBuffer>}
 */
export function blendPixels(base, top, alpha) {
  const out = new Uint8ClampedArray(top.length);
  if (!base || base.length !== top.length) {
    out.set(top);
    return out;
  }
  const a = Math.min(1, Math.max(0, Number.isFinite(alpha) ? alpha : 1));
  for (let i = 0; i < top.length; i += 4) {
    out[i] = base[i] + (top[i] - base[i]) * a;
    out[i + 1] = base[i + 1] + (top[i + 1] - base[i + 1]) * a;
    out[i + 2] = base[i + 2] + (top[i + 2] - base[i + 2]) * a;
    out[i + 3] = 255;
  }
  return out;
}

/**
 * Greyscale copy of RGBA pixels (Rec. 601 luma), opaque.
 * @param {Uint8ClampedArray} rgba
 * @returns {Uint8ClampedArray<ArrayBuffer>}
 */
export function greyscalePixels(rgba) {
  const out = new Uint8ClampedArray(rgba.length);
  for (let i = 0; i < rgba.length; i += 4) {
    const luma = 0.299 * rgba[i] + 0.587 * rgba[i + 1] + 0.114 * rgba[i + 2];
    out[i] = out[i + 1] = out[i + 2] = luma;
    out[i + 3] = 255;
  }
  return out;
}

/**
 * Size of a small picture of a (width, height) image: aspect kept, longest side = `side`.
 * @param {number} width
 * @param {number} height
 * @param {number} side
 */
export function fitThumbnail(width, height, side) {
  if (!(width > 0) || !(height > 0)) return { width: side, height: side };
  const scale = side / Math.max(width, height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * The method strip's slots in display order (the order of `order`, the kernel's `methods` trait, then
 * any other method): each received entry, then each pending method without an entry yet (entry null
 * = "computing…").
 * @param {unknown} strip
 * @param {unknown} pending
 * @param {unknown} order  method names in the registry's order
 * @returns {StripSlot[]}
 */
export function stripSlots(strip, pending, order) {
  const ranked = asArray(order).map(String);
  /** @type {Map<string, any>} */
  const entries = new Map();
  for (const entry of asArray(strip)) {
    if (entry && typeof entry === "object" && typeof entry.method === "string" && !entries.has(entry.method)) {
      entries.set(entry.method, entry);
    }
  }
  const methods = [...entries.keys()];
  for (const method of asArray(pending).map(String)) if (!methods.includes(method)) methods.push(method);
  const rank = (/** @type {string} */ m) => {
    const i = ranked.indexOf(m);
    return i >= 0 ? i : ranked.length;
  };
  return methods
    .map((method, position) => ({ method, position }))
    .sort((a, b) => rank(a.method) - rank(b.method) || a.position - b.position)
    .map(({ method }) => ({ method, entry: entries.get(method) ?? null }));
}

/**
 * Decode the `difference` section; null for `{}` or malformed data. Values are clamped to [-1, 1].
 * @param {TrustReport["difference"] | null | undefined} section
 * @returns {{height: number, width: number, values: Float32Array, maxAbs: number, text: string} | null}
 */
export function parseDifference(section) {
  if (!section || typeof section !== "object" || section.raw == null) return null;
  const height = Number(section.height);
  const width = Number(section.width);
  if (!(height >= 1) || !(width >= 1)) return null;
  const values = decodeFloat32(section.raw);
  if (values.length !== height * width) return null;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    values[i] = v > -1 ? (v < 1 ? v : 1) : v <= -1 ? -1 : 0; // NaN -> 0
  }
  return { height, width, values, maxAbs: Number(section.max_abs), text: String(section.text ?? "") };
}

/**
 * 32-bit FNV-1a hash of bytes as hex (tells whether a map changed without keeping a copy).
 * @param {BytesLike | null | undefined} source
 */
export function hashBytes(source) {
  const bytes = decodeBytes(source);
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i];
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${bytes.length}:${hash.toString(16)}`;
}

// ---------------------------------------------------------------------------------------------
// Trust panel: view (called only from createView)
// ---------------------------------------------------------------------------------------------

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * An SVG element with attributes; text goes in via textContent.
 * @param {string} tag
 * @param {Record<string, string | number>} [attributes]
 * @param {string} [text]
 */
function svgElement(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * One faithfulness chart: the map's curve (solid) over the random maps' mean curve (dashed).
 * @param {"deletion" | "insertion"} kind
 * @param {ArrayLike<number>} fractions
 * @param {ArrayLike<number>} mapCurve
 * @param {ArrayLike<number>} randomCurve
 */
function trustChart(kind, fractions, mapCurve, randomCurve) {
  const c = TRUST_CHART;
  const right = c.width - c.right;
  const bottom = c.height - c.bottom;
  const svg = svgElement("svg", {
    class: "gcw-trust-chart",
    "data-testid": `gcw-trust-${kind}`,
    width: c.width,
    height: c.height,
    viewBox: `0 0 ${c.width} ${c.height}`,
    role: "img",
    "aria-label": `${kind === "deletion" ? "Deletion" : "Insertion"} curve: class probability against the fraction of pixels ${kind === "deletion" ? "removed" : "restored"}`,
  });
  svg.append(
    svgElement("path", { class: "gcw-trust-axis", d: `M${c.left},${c.top} V${bottom} H${right}` }),
    svgElement("text", { class: "gcw-trust-tick", x: c.left - 3, y: c.top + 4, "text-anchor": "end" }, "1"),
    svgElement("text", { class: "gcw-trust-tick", x: c.left - 3, y: bottom, "text-anchor": "end" }, "0"),
    svgElement("text", { class: "gcw-trust-tick", x: c.left, y: bottom + 10, "text-anchor": "middle" }, "0"),
    svgElement("text", { class: "gcw-trust-tick", x: right, y: bottom + 10, "text-anchor": "end" }, "1"),
    svgElement("text", { class: "gcw-trust-axis-label", x: (c.left + right) / 2, y: c.height - 2, "text-anchor": "middle" },
      kind === "deletion" ? "pixels removed" : "pixels restored"),
    svgElement("text", {
      class: "gcw-trust-axis-label",
      x: 0,
      y: 0,
      "text-anchor": "middle",
      transform: `translate(9 ${(c.top + bottom) / 2}) rotate(-90)`,
    }, "p(class)"),
  );
  for (const [series, values] of /** @type {Array<[string, ArrayLike<number>]>} */ ([["random", randomCurve], ["map", mapCurve]])) {
    const points = chartPoints(fractions, values);
    svg.append(svgElement("polyline", {
      class: `gcw-trust-curve gcw-trust-curve-${series}`,
      "data-series": series,
      "data-points": points.length,
      points: pointsAttribute(points),
    }));
  }
  return svg;
}

/** The panel's DOM: the toggle button (goes in the controls column) and the panel itself. */
function buildTrustDom() {
  const toggle = element("button", "gcw-trust-toggle", {
    type: "button",
    "data-testid": "gcw-trust-toggle",
    "aria-expanded": "false",
  }, "Can I trust this map?");
  const panel = element("section", "gcw-trust", { "data-testid": "gcw-trust", "aria-label": "Can I trust this map?" });
  panel.hidden = true;
  const status = element("div", "gcw-trust-status", { "data-testid": "gcw-trust-status", role: "status", "aria-live": "polite" });
  const body = element("div", "gcw-trust-body");

  // faithfulness
  /** @param {"deletion" | "insertion"} kind @param {string} title @param {string} hint */
  const chartBlock = (kind, title, hint) => {
    const block = element("figure", `gcw-trust-figure gcw-trust-figure-${kind}`);
    const caption = element("figcaption", "gcw-trust-caption");
    caption.append(element("span", "gcw-trust-caption-title", {}, title), element("span", "gcw-trust-hint", {}, ` (${hint})`));
    const chart = element("div", "gcw-trust-chart-box");
    const mine = element("span", "gcw-trust-auc-value", { "data-testid": `gcw-trust-auc-${kind}` }, "–");
    const random = element("span", "gcw-trust-auc-value", { "data-testid": `gcw-trust-auc-${kind}-random` }, "–");
    const aucs = element("div", "gcw-trust-aucs", { title: "area under the curve" });
    const mineLabel = element("span", "gcw-trust-auc gcw-trust-auc-map");
    mineLabel.append(element("span", "gcw-trust-key gcw-trust-key-map", { "aria-hidden": "true" }), element("span", "", {}, "this map "), mine);
    const randomLabel = element("span", "gcw-trust-auc gcw-trust-auc-random");
    randomLabel.append(element("span", "gcw-trust-key gcw-trust-key-random", { "aria-hidden": "true" }), element("span", "", {}, "random maps "), random);
    aucs.append(element("span", "gcw-trust-auc-title", {}, "AUC"), mineLabel, randomLabel);
    block.append(caption, chart, aucs);
    return { block, chart, mine, random };
  };
  const deletion = chartBlock("deletion", "Deletion", "lower is better");
  const insertion = chartBlock("insertion", "Insertion", "higher is better");
  const charts = element("div", "gcw-trust-charts");
  charts.append(deletion.block, insertion.block);
  const faithfulnessNote = element("div", "gcw-trust-note");
  const faithfulness = element("p", "gcw-trust-verdict", { "data-testid": "gcw-trust-faithfulness" });
  const faithfulnessSection = trustSection("Faithfulness", "Does the prediction depend on the pixels the map highlights?");
  faithfulnessSection.append(charts, faithfulness, faithfulnessNote);

  // randomisation
  const randomization = element("p", "gcw-trust-verdict", { "data-testid": "gcw-trust-randomization" });
  const randomizationSteps = element("ol", "gcw-trust-steps");
  const randomizationSection = trustSection("Sanity check", "Does the map change when the model's weights are randomised?");
  randomizationSection.append(randomization, randomizationSteps);

  // method strip
  const strip = element("div", "gcw-trust-strip", { "data-testid": "gcw-trust-strip", role: "group", "aria-label": "Other methods" });
  const scorecam = element("button", "gcw-trust-scorecam", { type: "button", "data-testid": "gcw-trust-scorecam" }, "Add Score-CAM (slow)");
  const stripSection = trustSection("Other methods", "Same class and layer; click one to show it.");
  stripSection.append(strip, scorecam);

  // difference view
  const difference = /** @type {HTMLCanvasElement} */ (
    element("canvas", "gcw-trust-difference", { "data-testid": "gcw-trust-difference", "aria-label": "Grad-CAM minus HiResCAM" })
  );
  difference.hidden = true;
  const differenceEmpty = element("div", "gcw-trust-empty", {}, "not computed yet");
  const swatch = () => element("span", "gcw-trust-swatch", { "aria-hidden": "true" });
  const redSwatch = swatch();
  const blueSwatch = swatch();
  const legend = element("div", "gcw-trust-legend");
  const red = element("span", "gcw-trust-legend-item");
  red.append(redSwatch, element("span", "", {}, "red: Grad-CAM puts more weight here"));
  const blue = element("span", "gcw-trust-legend-item");
  blue.append(blueSwatch, element("span", "", {}, "blue: HiResCAM does"));
  legend.append(red, blue);
  const differenceText = element("p", "gcw-trust-verdict", { "data-testid": "gcw-trust-difference-text" });
  const differenceSection = trustSection("Grad-CAM − HiResCAM", "Where the two methods disagree.");
  differenceSection.append(difference, differenceEmpty, legend, differenceText);

  body.append(faithfulnessSection, randomizationSection, stripSection, differenceSection);
  panel.append(status, body);
  for (const control of [toggle, scorecam]) suppressNotebookShortcuts(control);
  return {
    toggle, panel, status, deletion, insertion, faithfulness, faithfulnessNote, randomization,
    randomizationSteps, strip, scorecam, difference, differenceEmpty, redSwatch, blueSwatch, differenceText,
  };
}

/**
 * A titled block of the panel.
 * @param {string} title
 * @param {string} question
 */
function trustSection(title, question) {
  const section = element("div", "gcw-trust-section");
  section.append(element("div", "gcw-heading", {}, title), element("div", "gcw-trust-question", {}, question));
  return section;
}

/**
 * Wire the trust panel into a view. Listeners go through the view's onModel/onDom, so the view's
 * cleanup removes them.
 * @param {object} options
 * @param {AnyModel} options.model
 * @param {(name: string, callback: Function) => void} options.onModel
 * @param {(target: EventTarget, type: string, callback: (event: any) => void) => void} options.onDom
 * @param {HTMLImageElement} options.image  the view's image (drawn under thumbnails)
 * @param {() => Uint8Array} options.currentTable  the colormap table the main view uses
 * @param {() => boolean} options.isDisposed
 * @param {string} options.idPrefix
 */
export function createTrustSection({ model, onModel, onDom, image, currentTable, isDisposed, idPrefix }) {
  const dom = buildTrustDom();
  dom.panel.id = `${idPrefix}-trust`;
  dom.toggle.setAttribute("aria-controls", dom.panel.id);

  /** Per method: the thumbnail shown and what it was drawn from. */
  /** @type {Map<string, {signature: string, button: HTMLButtonElement, canvas: HTMLCanvasElement | null, values: Float32Array | null, width: number, height: number}>} */
  const thumbnails = new Map();
  /** @type {{values: Float32Array, width: number, height: number} | null} */
  let difference = null;
  /** @type {Record<string, string | null>} */
  const signatures = { faithfulness: null, randomization: null, difference: null };
  /** Image pixels at a given size ("WxH"), or null while the image is not loaded. */
  /** @type {Map<string, Uint8ClampedArray | null>} */
  const imagePixelCache = new Map();
  let divergingTable = fallbackDivergingTable();

  const report = () => /** @type {TrustReport} */ (model.get("trust") ?? {});
  const names = () => asArray(model.get("class_names")).map(String);
  const labels = () => model.get("method_labels");
  const selection = () => ({
    classIndex: Number(model.get("selected_class")),
    method: String(model.get("method") ?? ""),
    layer: String(model.get("layer") ?? ""),
    contrast: /** @type {number | null} */ (model.get("contrast") ?? null),
  });
  const imageSize = () => {
    const size = asArray(model.get("image_size"));
    return size[0] > 0 && size[1] > 0 ? { width: size[0], height: size[1] } : { width: image.naturalWidth, height: image.naturalHeight };
  };

  const schedule = coalesced(() => render(), isDisposed);

  function render() {
    const open = Boolean(model.get("trust_open"));
    dom.toggle.setAttribute("aria-expanded", String(open));
    dom.toggle.classList.toggle("gcw-trust-toggle-open", open);
    dom.panel.hidden = !open;
    if (!open) return; // nothing is drawn for a closed panel
    const trust = report();
    const sel = selection();
    const state = trustPanelState(trust, sel);
    dom.panel.dataset.state = state;
    if (hasTrustTarget(trust)) dom.panel.dataset.class = String(trust.class_index);
    else delete dom.panel.dataset.class;
    dom.status.dataset.state = state;
    dom.status.textContent = trustStatusText(trust, names(), sel, labels());
    renderFaithfulness(trust.faithfulness);
    renderRandomization(trust.randomization);
    renderStrip(trust, sel);
    renderDifference(trust.difference);
    dom.scorecam.hidden = Boolean(model.get("trust_scorecam"));
  }

  // --- faithfulness ------------------------------------------------------------------------------

  /** @param {Record<string, any> | undefined} section */
  function renderFaithfulness(section) {
    const data = section && typeof section === "object" ? section : {};
    const signature = JSON.stringify(data);
    if (signature === signatures.faithfulness) return;
    signatures.faithfulness = signature;
    const fractions = asArray(data.fractions);
    for (const kind of /** @type {const} */ (["deletion", "insertion"])) {
      const parts = dom[kind];
      const curve = asArray(data[kind]);
      if (curve.length > 0) parts.chart.replaceChildren(trustChart(kind, fractions, curve, asArray(data[`random_${kind}`])));
      else parts.chart.replaceChildren(element("div", "gcw-trust-empty", {}, "not computed yet"));
      parts.mine.textContent = formatAuc(data[`${kind}_auc`]);
      parts.random.textContent = formatAuc(data[`random_${kind}_auc`]);
    }
    dom.faithfulness.textContent = String(data.verdict ?? "");
    const notes = [];
    if (data.baseline) notes.push(`pixels replaced by: ${data.baseline}`);
    if (Number.isFinite(Number(data.steps)) && data.steps != null) notes.push(`${Number(data.steps)} steps`);
    if (Number.isFinite(Number(data.random_maps)) && data.random_maps != null) notes.push(`dashed: mean of ${Number(data.random_maps)} random maps`);
    dom.faithfulnessNote.textContent = notes.join(" · ");
  }

  // --- randomisation -----------------------------------------------------------------------------

  /** @param {Record<string, any> | undefined} section */
  function renderRandomization(section) {
    const data = section && typeof section === "object" ? section : {};
    const signature = JSON.stringify(data);
    if (signature === signatures.randomization) return;
    signatures.randomization = signature;
    dom.randomization.textContent = String(data.verdict ?? "");
    if (typeof data.passed === "boolean") dom.randomization.dataset.passed = String(data.passed);
    else delete dom.randomization.dataset.passed;
    const steps = asArray(data.steps);
    const correlations = asArray(data.correlations);
    dom.randomizationSteps.replaceChildren(
      ...correlations.map((r, i) => element("li", "gcw-trust-step", {},
        `${steps[i] != null ? String(steps[i]) : `step ${i + 1}`}: correlation ${Number.isFinite(Number(r)) && r != null ? Number(r).toFixed(2) : "–"}`)),
    );
    if (correlations.length === 0 && !data.verdict) dom.randomization.textContent = "not computed yet";
  }

  // --- method strip ------------------------------------------------------------------------------

  /** @param {TrustReport} trust @param {Selection} sel */
  function renderStrip(trust, sel) {
    const size = fitThumbnail(imageSize().width, imageSize().height, TRUST_THUMB_SIDE);
    const slots = stripSlots(trust.strip, trust.strip_pending, model.get("methods"));
    const buttons = slots.map(({ method, entry }) => {
      const signature = entry
        ? JSON.stringify([entry.class_index, entry.layer, entry.height, entry.width, entry.maximum, entry.has_evidence,
            entry.label, hashBytes(entry.raw), size.width, size.height])
        : "pending";
      let thumb = thumbnails.get(method);
      if (!thumb || thumb.signature !== signature) {
        thumb = makeThumbnail(method, entry, signature, size);
        thumbnails.set(method, thumb);
      }
      thumb.button.setAttribute("aria-pressed", String(method === sel.method));
      return thumb.button;
    });
    for (const method of [...thumbnails.keys()]) {
      if (!slots.some((s) => s.method === method)) thumbnails.delete(method);
    }
    if (buttons.length === 0) {
      if (!dom.strip.querySelector(".gcw-trust-empty")) {
        dom.strip.replaceChildren(element("div", "gcw-trust-empty", {}, "not computed yet"));
      }
      return;
    }
    const shown = [...dom.strip.children];
    if (shown.length === buttons.length && shown.every((node, i) => node === buttons[i])) return;
    // Keep keyboard focus on the same method when its button is rebuilt or moved.
    const active = activeElementOf(dom.strip);
    const focused = active instanceof HTMLElement && dom.strip.contains(active) ? active.dataset.method : undefined;
    dom.strip.replaceChildren(...buttons);
    if (focused !== undefined && activeElementOf(dom.strip) !== active) {
      buttons.find((b) => b.dataset.method === focused)?.focus();
    }
  }

  /**
   * @param {string} method
   * @param {(Partial<WireMap> & {label?: string}) | null} entry
   * @param {string} signature
   * @param {{width: number, height: number}} size
   */
  function makeThumbnail(method, entry, signature, size) {
    const button = /** @type {HTMLButtonElement} */ (element("button", "gcw-trust-thumb", {
      type: "button",
      "data-testid": `gcw-trust-strip-${method}`,
      "data-method": method,
      title: `Show ${methodLabel(method, labels())} in the main view`,
    }));
    suppressNotebookShortcuts(button);
    const label = String(entry?.label ?? "") || methodLabel(method, labels());
    const map = entry ? parseMapEntry(entry) : null;
    /** @type {HTMLCanvasElement | null} */
    let canvas = null;
    /** @type {Float32Array | null} */
    let values = null;
    if (map) {
      canvas = /** @type {HTMLCanvasElement} */ (element("canvas", "gcw-trust-thumb-canvas", {
        width: String(size.width),
        height: String(size.height),
        "aria-hidden": "true",
      }));
      values = upsampleBilinear(map.normalised, map.height, map.width, size.width, size.height);
      button.dataset.hasEvidence = String(map.hasEvidence);
      button.append(canvas);
    } else {
      const placeholder = element("div", "gcw-trust-thumb-pending", {}, entry ? "no map" : "computing…");
      placeholder.style.width = `${size.width}px`;
      placeholder.style.height = `${size.height}px`;
      button.dataset.pending = String(!entry);
      button.append(placeholder);
    }
    button.append(element("span", "gcw-trust-thumb-label", {}, label));
    const thumb = { signature, button, canvas, values, width: size.width, height: size.height };
    paintThumbnail(thumb);
    return thumb;
  }

  /** @param {{canvas: HTMLCanvasElement | null, values: Float32Array | null, width: number, height: number}} thumb */
  function paintThumbnail(thumb) {
    if (!thumb.canvas || !thumb.values) return;
    const context = thumb.canvas.getContext("2d");
    if (!context) return;
    const colours = colorize(thumb.values, currentTable());
    const pixels = blendPixels(imagePixels(thumb.width, thumb.height), colours, TRUST_THUMB_ALPHA);
    context.putImageData(new ImageData(pixels, thumb.width, thumb.height), 0, 0);
  }

  /** Colormap change: recolour the thumbnails (no upsampling). */
  function recolour() {
    for (const thumb of thumbnails.values()) paintThumbnail(thumb);
  }

  // --- difference view ---------------------------------------------------------------------------

  /** @param {TrustReport["difference"] | undefined} section */
  function renderDifference(section) {
    const size = fitThumbnail(imageSize().width, imageSize().height, TRUST_DIFFERENCE_SIDE);
    const data = section && typeof section === "object" ? section : {};
    const signature = JSON.stringify([data.height, data.width, data.max_abs, data.text, data.raw == null ? null : hashBytes(data.raw),
      size.width, size.height]);
    if (signature === signatures.difference) return;
    signatures.difference = signature;
    const parsed = parseDifference(data);
    dom.differenceText.textContent = parsed ? parsed.text : "";
    dom.difference.hidden = !parsed;
    dom.differenceEmpty.hidden = Boolean(parsed);
    difference = parsed
      ? { values: upsampleBilinear(parsed.values, parsed.height, parsed.width, size.width, size.height), ...size }
      : null;
    if (parsed) dom.difference.dataset.maxAbs = String(parsed.maxAbs);
    else delete dom.difference.dataset.maxAbs;
    paintDifference();
  }

  function paintDifference() {
    const [r0, g0, b0] = divergingTable.subarray(0, 3);
    const [r1, g1, b1] = divergingTable.subarray(765, 768);
    dom.blueSwatch.style.backgroundColor = `rgb(${r0}, ${g0}, ${b0})`;
    dom.redSwatch.style.backgroundColor = `rgb(${r1}, ${g1}, ${b1})`;
    if (!difference) return;
    if (dom.difference.width !== difference.width || dom.difference.height !== difference.height) {
      dom.difference.width = difference.width;
      dom.difference.height = difference.height;
    }
    const context = dom.difference.getContext("2d");
    if (!context) return;
    const base = imagePixels(difference.width, difference.height);
    const colours = colorizeDiverging(difference.values, divergingTable);
    const pixels = blendPixels(base ? greyscalePixels(base) : null, colours, TRUST_DIFFERENCE_ALPHA);
    context.putImageData(new ImageData(pixels, difference.width, difference.height), 0, 0);
  }

  function renderDivergingTable() {
    const table = decodeBytes(model.get("diverging_table"));
    divergingTable = table.length === TABLE_SIZE * 3 ? table : fallbackDivergingTable();
    paintDifference();
  }

  // --- the image under the thumbnails ------------------------------------------------------------

  /**
   * The view's image scaled to (width, height) as RGBA, or null while it is not loaded.
   * @param {number} width
   * @param {number} height
   */
  function imagePixels(width, height) {
    const key = `${width}x${height}`;
    if (imagePixelCache.has(key)) return imagePixelCache.get(key) ?? null;
    if (!image.complete || !(image.naturalWidth > 0) || !image.getAttribute("src")) return null;
    /** @type {Uint8ClampedArray | null} */
    let pixels = null;
    try {
      const scratch = document.createElement("canvas");
      scratch.width = width;
      scratch.height = height;
      const context = scratch.getContext("2d");
      if (context) {
        context.imageSmoothingQuality = "high";
        context.drawImage(image, 0, 0, width, height);
        pixels = context.getImageData(0, 0, width, height).data;
      }
    } catch {
      pixels = null; // an unreadable image: the maps are drawn on their own
    }
    imagePixelCache.set(key, pixels);
    return pixels;
  }

  function onImageLoaded() {
    imagePixelCache.clear();
    recolour();
    paintDifference();
    schedule(); // the image size may have changed the thumbnail size
  }

  // --- actions -----------------------------------------------------------------------------------

  function onToggle() {
    model.set("trust_open", !model.get("trust_open"));
    model.save_changes();
  }

  /** @param {MouseEvent} event */
  function onStripClick(event) {
    const button = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (event.target).closest(".gcw-trust-thumb"));
    const method = button?.dataset.method;
    if (!method) return;
    model.set("method", method);
    model.save_changes();
  }

  function onScorecam() {
    model.set("trust_scorecam", true);
    model.save_changes();
  }

  // --- wiring ------------------------------------------------------------------------------------

  for (const name of ["trust", "trust_open", "trust_scorecam", "selected_class", "method", "layer", "class_names", "image_size"]) {
    onModel(`change:${name}`, schedule);
  }
  onModel("change:image", () => imagePixelCache.clear()); // redrawn when the new image has loaded
  onModel("change:colormap", recolour);
  onModel("change:colormap_tables", recolour);
  onModel("change:diverging_table", renderDivergingTable);
  onDom(image, "load", onImageLoaded);
  onDom(dom.toggle, "click", onToggle);
  onDom(dom.strip, "click", onStripClick);
  onDom(dom.scorecam, "click", onScorecam);

  renderDivergingTable();
  schedule(); // after the view's first render, so the colour tables are decoded

  return {
    toggle: dom.toggle,
    panel: dom.panel,
    dispose() {
      thumbnails.clear();
      imagePixelCache.clear();
      difference = null;
    },
  };
}
