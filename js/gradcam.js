// @ts-check
/**
 * gradcam-widget front end: one self-contained ES module (anywidget loads it from a Blob URL, so
 * no imports). The kernel sends raw float32 maps at the layer's resolution; this module upsamples,
 * colours and draws them, and owns everything that needs no kernel work (colormap, opacity, hover).
 * The drawing rules mirror gradcam_widget/colormaps.py exactly; see docs/protocol.md.
 *
 * Pure helpers are named exports (tested with `node --test`); nothing touches `document` or
 * `window` until `render` runs.
 */

/** Longest displayed side: larger images are shrunk to it. */
export const DISPLAY_MAX_SIDE = 512;
/** Smaller images are enlarged so their longest side is at least this. */
export const DISPLAY_MIN_SIDE = 256;
/** Most results the search box lists. */
export const SEARCH_LIMIT = 8;
/** Entries in a colour table. */
export const TABLE_SIZE = 256;
/** Order of the colormap menu (matches gradcam_widget.colormaps.COLORMAPS). */
export const COLORMAP_ORDER = ["jet", "viridis", "inferno", "turbo"];

/**
 * @typedef {DataView | ArrayBuffer | ArrayBufferView | ArrayLike<number>} BytesLike
 *
 * @typedef {object} WireMap  One `maps` entry / `extra_map` as it arrives from the kernel.
 * @property {number} class_index
 * @property {string} method
 * @property {string} layer
 * @property {number} height
 * @property {number} width
 * @property {BytesLike} raw  float32 little-endian, row-major
 * @property {number} maximum
 * @property {boolean} has_evidence
 *
 * @typedef {object} CachedMap  A decoded map, ready to draw.
 * @property {string} key
 * @property {number} classIndex
 * @property {string} method
 * @property {string} layer
 * @property {number} height
 * @property {number} width
 * @property {number} maximum
 * @property {boolean} hasEvidence
 * @property {Float32Array} normalised  raw / maximum at the layer's resolution
 *
 * @typedef {{index: number, name: string, probability: number, score?: number}} TopClass
 * @typedef {{state?: string, message?: string, class_index?: number, method?: string, layer?: string}} Status
 * @typedef {{index: number, name: string}} ClassMatch
 *
 * @typedef {object} AnyModel  The model proxy anywidget passes to render.
 * @property {(name: string) => any} get
 * @property {(name: string, value: any) => void} set
 * @property {() => void} save_changes
 * @property {(name: string, callback: Function) => void} on
 * @property {(name: string, callback: Function) => void} off
 */

// ---------------------------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------------------------

/**
 * Copy bytes into a fresh, zero-offset Uint8Array. A DataView from the kernel may start at an
 * unaligned byteOffset inside a larger buffer, so never view it in place.
 * @param {BytesLike | null | undefined} source
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function decodeBytes(source) {
  if (source == null) return new Uint8Array(0);
  if (ArrayBuffer.isView(source)) {
    return new Uint8Array(source.buffer, source.byteOffset, source.byteLength).slice();
  }
  if (Object.prototype.toString.call(source) === "[object ArrayBuffer]") {
    return new Uint8Array(/** @type {ArrayBuffer} */ (source).slice(0));
  }
  if (typeof (/** @type {any} */ (source).length) === "number") {
    return Uint8Array.from(/** @type {ArrayLike<number>} */ (source));
  }
  throw new TypeError("Expected bytes (DataView, ArrayBuffer or typed array).");
}

/**
 * Read little-endian float32 values from bytes (explicitly little-endian, whatever the platform).
 * @param {BytesLike | null | undefined} source
 * @returns {Float32Array}
 */
export function decodeFloat32(source) {
  const bytes = decodeBytes(source);
  if (bytes.byteLength % 4 !== 0) {
    throw new RangeError(`float32 data needs a multiple of 4 bytes, got ${bytes.byteLength}.`);
  }
  const view = new DataView(bytes.buffer);
  const values = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(i * 4, true);
  return values;
}

/**
 * Normalised map: raw / maximum clamped to [0, 1]; all zeros when there is no positive evidence
 * (maximum <= 0), never NaN.
 * @param {ArrayLike<number>} raw
 * @param {number} maximum
 * @returns {Float32Array}
 */
export function normalise(raw, maximum) {
  const out = new Float32Array(raw.length);
  if (!(maximum > 0) || !Number.isFinite(maximum)) return out;
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i] / maximum;
    out[i] = v > 0 ? (v < 1 ? v : 1) : 0; // NaN lands on 0
  }
  return out;
}

/**
 * Source coordinate of destination pixel `index` (pixel-centre convention, clamped to the edge).
 * Operation order matches colormaps.py so both round identically.
 * @param {number} index
 * @param {number} sourceSize
 * @param {number} destinationSize
 */
export function sourceCoordinate(index, sourceSize, destinationSize) {
  const position = ((index + 0.5) * sourceSize) / destinationSize - 0.5;
  return Math.min(Math.max(position, 0), sourceSize - 1);
}

/**
 * Bilinear value of a row-major map at a continuous source position (x, y), clamped to the edge.
 * @param {ArrayLike<number>} map
 * @param {number} h
 * @param {number} w
 * @param {number} x
 * @param {number} y
 * @returns {number}
 */
export function bilinearSample(map, h, w, x, y) {
  const cx = Math.min(Math.max(x, 0), w - 1);
  const cy = Math.min(Math.max(y, 0), h - 1);
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  return lerp2(map, w, x0, Math.min(x0 + 1, w - 1), cx - x0, y0, Math.min(y0 + 1, h - 1), cy - y0);
}

/**
 * @param {ArrayLike<number>} map
 * @param {number} w
 * @param {number} x0
 * @param {number} x1
 * @param {number} fx
 * @param {number} y0
 * @param {number} y1
 * @param {number} fy
 */
function lerp2(map, w, x0, x1, fx, y0, y1, fy) {
  const topLeft = map[y0 * w + x0];
  const bottomLeft = map[y1 * w + x0];
  const top = topLeft + (map[y0 * w + x1] - topLeft) * fx;
  const bottom = bottomLeft + (map[y1 * w + x1] - bottomLeft) * fx;
  return top + (bottom - top) * fy;
}

/**
 * Per destination index along one axis: lower/upper source index and fraction.
 * @param {number} sourceSize
 * @param {number} destinationSize
 */
function axisSamples(sourceSize, destinationSize) {
  const lower = new Int32Array(destinationSize);
  const upper = new Int32Array(destinationSize);
  const fraction = new Float64Array(destinationSize);
  for (let i = 0; i < destinationSize; i++) {
    const position = sourceCoordinate(i, sourceSize, destinationSize);
    lower[i] = Math.floor(position);
    upper[i] = Math.min(lower[i] + 1, sourceSize - 1);
    fraction[i] = position - lower[i];
  }
  return { lower, upper, fraction };
}

/**
 * Resize a row-major (h, w) map to (outH, outW) bilinearly; equals
 * `gradcam_widget.colormaps.bilinear_upsample(map, outH, outW)` bit for bit.
 * @param {ArrayLike<number>} map
 * @param {number} h
 * @param {number} w
 * @param {number} outW
 * @param {number} outH
 * @returns {Float32Array} row-major (outH, outW)
 */
export function upsampleBilinear(map, h, w, outW, outH) {
  if (map.length !== h * w) throw new RangeError(`map has ${map.length} values, expected ${h}x${w}.`);
  const out = new Float32Array(outW * outH);
  const xs = axisSamples(w, outW);
  const ys = axisSamples(h, outH);
  for (let y = 0; y < outH; y++) {
    const row = y * outW;
    const y0 = ys.lower[y];
    const y1 = ys.upper[y];
    const fy = ys.fraction[y];
    for (let x = 0; x < outW; x++) {
      out[row + x] = lerp2(map, w, xs.lower[x], xs.upper[x], xs.fraction[x], y0, y1, fy);
    }
  }
  return out;
}

/**
 * Colour table index of a value in [0, 1]: min(255, floor(v * 256)); below 0 and NaN give 0.
 * @param {number} value
 */
export function colormapIndex(value) {
  const index = Math.floor(value * TABLE_SIZE);
  return index > 0 ? (index < TABLE_SIZE - 1 ? index : TABLE_SIZE - 1) : 0;
}

/**
 * Colour values with a 256-entry RGB table into opaque RGBA pixels (for ImageData).
 * @param {ArrayLike<number>} values
 * @param {Uint8Array} table  768 bytes
 * @returns {Uint8ClampedArray<ArrayBuffer>}
 */
export function colorize(values, table) {
  const pixels = new Uint8ClampedArray(values.length * 4);
  for (let i = 0; i < values.length; i++) {
    const entry = colormapIndex(values[i]) * 3;
    const p = i * 4;
    pixels[p] = table[entry];
    pixels[p + 1] = table[entry + 1];
    pixels[p + 2] = table[entry + 2];
    pixels[p + 3] = 255;
  }
  return pixels;
}

/** A grey ramp, drawn only if the kernel sent no colour tables. */
export function greyTable() {
  const table = new Uint8Array(TABLE_SIZE * 3);
  for (let i = 0; i < table.length; i++) table[i] = Math.floor(i / 3);
  return table;
}

/**
 * Cache key of a map: which class, method and layer it answers.
 * @param {number} classIndex
 * @param {string} method
 * @param {string} layer
 */
export function mapKey(classIndex, method, layer) {
  return JSON.stringify([Number(classIndex), String(method), String(layer)]);
}

/**
 * Classes matching a search query: the class whose index equals the query first, then names
 * equal to it, then names starting with it, then names containing it (case-insensitive).
 * @param {ArrayLike<string>} names  class names, index = class index
 * @param {string} query
 * @param {number} [limit]
 * @returns {ClassMatch[]}
 */
export function filterClasses(names, query, limit = SEARCH_LIMIT) {
  const needle = String(query ?? "").trim().toLowerCase();
  if (!needle || limit <= 0) return [];
  /** @type {ClassMatch[][]} */
  const tiers = [[], [], [], []];
  if (/^\d+$/.test(needle) && Number(needle) < names.length) {
    tiers[0].push({ index: Number(needle), name: String(names[Number(needle)]) });
  }
  for (let index = 0; index < names.length; index++) {
    const name = String(names[index]);
    const lower = name.toLowerCase();
    const position = lower.indexOf(needle);
    if (position < 0 || tiers[0].some((m) => m.index === index)) continue;
    const tier = lower === needle ? 1 : position === 0 ? 2 : 3;
    tiers[tier].push({ index, name });
    if (tiers[1].length + tiers[2].length >= limit) break; // the best tiers are full already
  }
  return tiers.flat().slice(0, limit);
}

/**
 * Displayed size of an image: aspect kept, longest side between DISPLAY_MIN_SIDE and
 * DISPLAY_MAX_SIDE (so tiny images stay visible and big ones fit).
 * @param {number} width
 * @param {number} height
 * @returns {{width: number, height: number}}
 */
export function fitDisplaySize(width, height) {
  if (!(width > 0) || !(height > 0)) return { width: DISPLAY_MIN_SIDE, height: DISPLAY_MIN_SIDE };
  const longest = Math.max(width, height);
  const target = Math.min(DISPLAY_MAX_SIDE, Math.max(DISPLAY_MIN_SIDE, longest));
  const scale = target / longest;
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
  };
}

/**
 * Pixel under a pointer offset inside a box of (boxWidth, boxHeight) CSS pixels that shows
 * (pixelsWide, pixelsHigh) pixels; clamped so the right/bottom edge stays inside.
 * @param {number} offsetX
 * @param {number} offsetY
 * @param {number} boxWidth
 * @param {number} boxHeight
 * @param {number} pixelsWide
 * @param {number} pixelsHigh
 */
export function pixelAt(offsetX, offsetY, boxWidth, boxHeight, pixelsWide, pixelsHigh) {
  const clamp = (/** @type {number} */ v, /** @type {number} */ n) =>
    Math.min(Math.max(Math.floor(v), 0), n - 1);
  return {
    x: clamp((offsetX * pixelsWide) / boxWidth, pixelsWide),
    y: clamp((offsetY * pixelsHigh) / boxHeight, pixelsHigh),
  };
}

/**
 * A raw map value in short scientific notation ("1.2e-2"), "0" for zero.
 * @param {number} value
 */
export function formatRaw(value) {
  if (value === 0) return "0";
  if (!Number.isFinite(value)) return String(value);
  return value.toExponential(1);
}

/**
 * @param {{normalised: number, raw: number, x: number, y: number}} reading
 */
export function formatReadout({ normalised, raw, x, y }) {
  return `normalised ${normalised.toFixed(2)} · raw ${formatRaw(raw)} · x ${x}, y ${y}`;
}

/**
 * A probability as a percentage with one decimal ("12.3%"); not-a-number shows as 0.
 * @param {number} probability
 */
export function formatPercent(probability) {
  const p = Number.isFinite(probability) ? probability : 0;
  return `${(p * 100).toFixed(1)}%`;
}

/**
 * Decode one kernel map (a `maps` entry or `extra_map`); null for `{}` or malformed data.
 * @param {Partial<WireMap> | null | undefined} entry
 * @returns {CachedMap | null}
 */
export function parseMapEntry(entry) {
  if (!entry || typeof entry !== "object" || entry.raw == null) return null;
  const height = Number(entry.height);
  const width = Number(entry.width);
  if (!(height >= 1) || !(width >= 1)) return null;
  const raw = decodeFloat32(entry.raw);
  if (raw.length !== height * width) return null;
  const classIndex = Number(entry.class_index);
  const method = String(entry.method ?? "");
  const layer = String(entry.layer ?? "");
  const maximum = Number(entry.maximum);
  const hasEvidence = Boolean(entry.has_evidence) && maximum > 0;
  return {
    key: mapKey(classIndex, method, layer),
    classIndex,
    method,
    layer,
    height,
    width,
    maximum: hasEvidence ? maximum : 0,
    hasEvidence,
    normalised: normalise(raw, hasEvidence ? maximum : 0),
  };
}

/**
 * Whether a kernel status concerns the current selection. Missing fields (no class index, empty
 * method/layer) match anything, so errors that are not about one class still show.
 * @param {Status | null | undefined} status
 * @param {number} classIndex
 * @param {string} method
 * @param {string} layer
 */
export function statusMatches(status, classIndex, method, layer) {
  if (!status) return false;
  const hasClass = typeof status.class_index === "number" && status.class_index >= 0;
  return (
    (!hasClass || status.class_index === classIndex) &&
    (!status.method || status.method === method) &&
    (!status.layer || status.layer === layer)
  );
}

/**
 * Colormap names in menu order: the known order first, then any others the kernel sent.
 * @param {Record<string, unknown> | null | undefined} tables
 */
export function colormapNames(tables) {
  const names = Object.keys(tables ?? {});
  const known = COLORMAP_ORDER.filter((n) => names.includes(n));
  return known.concat(names.filter((n) => !COLORMAP_ORDER.includes(n)));
}

// ---------------------------------------------------------------------------------------------
// DOM helpers (called only from render)
// ---------------------------------------------------------------------------------------------

/**
 * Create an element with a class, optional test id and attributes. Text goes in via textContent.
 * @param {string} tag
 * @param {string} className
 * @param {Record<string, string>} [attributes]
 * @param {string} [text]
 */
function element(tag, className, attributes = {}, text) {
  const node = document.createElement(tag);
  node.className = className;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Keep notebook shortcuts off a focusable control. Notebook 7's Lumino handles keydown in the
 * capture phase and its command-mode bindings match any focused element inside a notebook, so
 * arrow keys would move the cell selection; Lumino skips targets carrying this attribute.
 * @param {HTMLElement} node
 */
function suppressNotebookShortcuts(node) {
  node.setAttribute("data-lm-suppress-shortcuts", "true");
}

/**
 * A labelled control row: <label><span>text</span>control</label>.
 * @param {string} text
 * @param {HTMLElement} control
 */
function labelled(text, control) {
  const label = element("label", "gcw-field");
  label.append(element("span", "gcw-field-label", {}, text), control);
  return label;
}

/**
 * Replace a <select>'s options (values and labels as text) and select `current`; a current value
 * missing from the list is added so the menu never lies about the state.
 * @param {HTMLSelectElement} select
 * @param {string[]} values
 * @param {string} current
 */
function fillSelect(select, values, current) {
  const all = values.includes(current) || !current ? values : [current, ...values];
  select.replaceChildren(
    ...all.map((value) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = value;
      return option;
    }),
  );
  select.value = current;
  select.disabled = all.length <= 1;
}

/** @param {any} value */
function asArray(value) {
  return Array.isArray(value) ? value : [];
}

// ---------------------------------------------------------------------------------------------
// The view
// ---------------------------------------------------------------------------------------------

/** Build the widget's DOM. Every node the view updates is returned by name. */
function buildDom() {
  const root = element("div", "gcw-root", { "data-testid": "gcw-root", "data-ready": "false" });
  const stage = element("div", "gcw-stage");
  const image = /** @type {HTMLImageElement} */ (
    element("img", "gcw-image", { "data-testid": "gcw-image", alt: "Input image", draggable: "false" })
  );
  const overlay = /** @type {HTMLCanvasElement} */ (
    element("canvas", "gcw-overlay", { "data-testid": "gcw-overlay", "aria-label": "Class activation map" })
  );
  const status = element("div", "gcw-status", { "data-testid": "gcw-status", role: "status", "aria-live": "polite" });
  stage.append(image, overlay, status);

  const readout = element("div", "gcw-readout", { "data-testid": "gcw-readout" }, "\u00a0");
  const colorbar = /** @type {HTMLCanvasElement} */ (
    element("canvas", "gcw-colorbar", { "data-testid": "gcw-colorbar", width: String(TABLE_SIZE), height: "1", "aria-hidden": "true" })
  );
  const colorbarMin = element("span", "gcw-colorbar-min", {}, "0");
  const colorbarMax = element("span", "gcw-colorbar-max", {}, "–");
  const colorbarLabels = element("div", "gcw-colorbar-labels");
  colorbarLabels.append(colorbarMin, colorbarMax);
  const colorbarBox = element("div", "gcw-colorbar-box");
  colorbarBox.append(colorbar, colorbarLabels);
  const picture = element("div", "gcw-picture");
  picture.append(stage, readout, colorbarBox);

  const classList = element("div", "gcw-classes", { role: "listbox", "aria-label": "Top classes" });
  const selected = element("div", "gcw-selected");
  const search = /** @type {HTMLInputElement} */ (
    element("input", "gcw-search", {
      "data-testid": "gcw-search",
      type: "search",
      placeholder: "class name or index",
      autocomplete: "off",
      spellcheck: "false",
      role: "combobox",
      "aria-autocomplete": "list",
      "aria-expanded": "false",
    })
  );
  const results = element("ul", "gcw-results", { role: "listbox", "aria-label": "Matching classes" });
  results.hidden = true;
  const searchBox = element("div", "gcw-search-box");
  searchBox.append(labelled("Any class", search), results);

  const method = /** @type {HTMLSelectElement} */ (element("select", "gcw-select", { "data-testid": "gcw-method" }));
  const layer = /** @type {HTMLSelectElement} */ (element("select", "gcw-select", { "data-testid": "gcw-layer" }));
  const colormap = /** @type {HTMLSelectElement} */ (element("select", "gcw-select", { "data-testid": "gcw-colormap" }));
  const opacity = /** @type {HTMLInputElement} */ (
    element("input", "gcw-opacity", { "data-testid": "gcw-opacity", type: "range", min: "0", max: "1", step: "0.01" })
  );
  const opacityValue = element("output", "gcw-opacity-value");
  const opacityRow = element("div", "gcw-opacity-row");
  opacityRow.append(opacity, opacityValue);

  const controls = element("div", "gcw-controls");
  controls.append(
    element("div", "gcw-heading", {}, "Top classes"),
    classList,
    selected,
    searchBox,
    labelled("Method", method),
    labelled("Layer", layer),
    labelled("Colormap", colormap),
    labelled("Opacity", opacityRow),
  );
  root.append(picture, controls);
  for (const control of [search, method, layer, colormap, opacity]) suppressNotebookShortcuts(control);
  return {
    root, picture, stage, image, overlay, status, readout, colorbar, colorbarMax,
    classList, selected, search, results, method, layer, colormap, opacity, opacityValue, controls,
  };
}

/** Numbers each view, so element ids stay unique when a model is shown twice. */
let viewCount = 0;

/**
 * Wire one view of the model. Everything shown is rebuilt from traits, so several views of the
 * same model agree; only hover, search text and focus are per view.
 * @param {AnyModel} model
 * @param {HTMLElement} el
 * @returns {() => void} cleanup
 */
function createView(model, el) {
  const dom = buildDom();
  el.append(dom.root);
  const idPrefix = `gcw-${++viewCount}`;

  /** @type {Map<string, CachedMap>} */
  const cache = new Map();
  /** @type {Map<string, Uint8Array>} */
  let tables = new Map();
  /** What the overlay currently shows, kept so a colormap change only recolours. */
  /** @type {{map: CachedMap, values: Float32Array, width: number, height: number} | null} */
  let drawn = null;
  let display = fitDisplaySize(0, 0);
  /** @type {string | null} */
  let imageUrl = null;
  /** @type {ClassMatch[]} */
  let matches = [];
  let activeMatch = -1;
  /** Last pointer position over the picture, or null when the pointer is elsewhere. */
  /** @type {{clientX: number, clientY: number} | null} */
  let pointer = null;
  let updateQueued = false;
  let disposed = false;

  /** @type {Array<[string, Function]>} */
  const modelListeners = [];
  /** @type {Array<[EventTarget, string, EventListener]>} */
  const domListeners = [];
  /** @param {string} name @param {Function} callback */
  const onModel = (name, callback) => {
    model.on(name, callback);
    modelListeners.push([name, callback]);
  };
  /** @param {EventTarget} target @param {string} type @param {(event: any) => void} callback */
  const onDom = (target, type, callback) => {
    target.addEventListener(type, callback);
    domListeners.push([target, type, callback]);
  };

  const selection = () => ({
    classIndex: Number(model.get("selected_class")),
    method: String(model.get("method") ?? ""),
    layer: String(model.get("layer") ?? ""),
  });
  const currentKey = () => {
    const s = selection();
    return mapKey(s.classIndex, s.method, s.layer);
  };
  /** @param {number} index */
  const commit = (index) => {
    model.set("selected_class", index);
    model.save_changes();
  };

  // --- maps ------------------------------------------------------------------------------------

  /** @param {unknown} entry */
  function ingest(entry) {
    const map = parseMapEntry(/** @type {any} */ (entry));
    if (map) cache.set(map.key, map);
  }

  function ingestTraits() {
    asArray(model.get("maps")).forEach(ingest);
    ingest(model.get("extra_map"));
  }

  /** Coalesce the several change events of one kernel message into one update. */
  function scheduleUpdate() {
    if (updateQueued) return;
    updateQueued = true;
    queueMicrotask(() => {
      updateQueued = false;
      if (!disposed) updateMap();
    });
  }

  function currentError() {
    const status = /** @type {Status} */ (model.get("status") ?? {});
    if (status.state !== "error") return null;
    const s = selection();
    return statusMatches(status, s.classIndex, s.method, s.layer) ? String(status.message ?? "Error") : null;
  }

  function currentTable() {
    const name = String(model.get("colormap") ?? "");
    return tables.get(name) ?? tables.values().next().value ?? greyTable();
  }

  /** Draw the selection's map if we have it; show an error in its place if there is one. */
  function updateMap() {
    const error = currentError();
    renderStatus(error);
    dom.overlay.hidden = error !== null;
    const map = cache.get(currentKey());
    if (!error && map && (drawn?.map !== map || drawn.width !== display.width || drawn.height !== display.height)) {
      drawMap(map);
    }
    dom.stage.classList.toggle("gcw-pending", !error && !map);
    syncRootAttributes(error !== null);
    if (pointer) showReading(pointer); // a pointer resting on the picture reads the new map
  }

  /** @param {CachedMap} map */
  function drawMap(map) {
    const started = performance.now();
    const values = upsampleBilinear(map.normalised, map.height, map.width, display.width, display.height);
    drawn = { map, values, width: display.width, height: display.height };
    paint();
    dom.overlay.dataset.drawMs = (performance.now() - started).toFixed(2);
    dom.colorbarMax.textContent = map.hasEvidence ? formatRaw(map.maximum) : "0 · no positive evidence";
  }

  /** Colour the drawn values with the current table (all a colormap change costs). The time of
   * the last draw is left in the canvas's data-draw-ms for benchmarks. */
  function paint() {
    if (!drawn) return;
    const started = performance.now();
    const context = dom.overlay.getContext("2d");
    if (!context) return;
    const pixels = colorize(drawn.values, currentTable());
    context.putImageData(new ImageData(pixels, drawn.width, drawn.height), 0, 0);
    dom.overlay.dataset.drawMs = (performance.now() - started).toFixed(2);
  }

  /** @param {boolean} showingError */
  function syncRootAttributes(showingError) {
    if (drawn && !showingError) {
      dom.root.dataset.class = String(drawn.map.classIndex);
      dom.root.dataset.ready = "true";
    } else {
      delete dom.root.dataset.class;
    }
  }

  // --- status ----------------------------------------------------------------------------------

  /** @param {string | null} error */
  function renderStatus(error) {
    const status = /** @type {Status} */ (model.get("status") ?? {});
    const state = error !== null ? "error" : status.state === "computing" ? "computing" : "ready";
    dom.status.dataset.state = state;
    dom.root.dataset.state = state;
    dom.status.textContent = state === "error" ? error : state === "computing" ? "computing…" : "";
  }

  // --- image -----------------------------------------------------------------------------------

  function renderImage() {
    if (imageUrl) URL.revokeObjectURL(imageUrl);
    imageUrl = null;
    const bytes = decodeBytes(model.get("image"));
    if (bytes.byteLength > 0) {
      imageUrl = URL.createObjectURL(new Blob([bytes], { type: "image/png" }));
      dom.image.src = imageUrl;
    } else {
      dom.image.removeAttribute("src");
    }
    // Cached maps belong to the previous image; keep only what the traits hold now.
    cache.clear();
    drawn = null;
    dom.overlay.getContext("2d")?.clearRect(0, 0, dom.overlay.width, dom.overlay.height);
    dom.colorbarMax.textContent = "–";
    ingestTraits();
    resizeStage();
    scheduleUpdate();
  }

  function resizeStage() {
    const size = asArray(model.get("image_size"));
    const natural = { width: dom.image.naturalWidth, height: dom.image.naturalHeight };
    display = size[0] > 0 && size[1] > 0 ? fitDisplaySize(size[0], size[1]) : fitDisplaySize(natural.width, natural.height);
    // The column takes the picture's width so the readout and colour bar wrap under it.
    dom.picture.style.width = `${display.width}px`;
    dom.stage.style.aspectRatio = `${display.width} / ${display.height}`;
    // One canvas pixel per displayed CSS pixel: hover maps straight onto the drawn values.
    if (dom.overlay.width === display.width && dom.overlay.height === display.height) return;
    dom.overlay.width = display.width;
    dom.overlay.height = display.height;
    if (drawn) drawMap(drawn.map); // resizing cleared the canvas
    scheduleUpdate();
  }

  // --- hover -----------------------------------------------------------------------------------

  /** @param {{clientX: number, clientY: number}} event */
  function showReading(event) {
    pointer = { clientX: event.clientX, clientY: event.clientY };
    if (!drawn || dom.overlay.hidden) return clearReading();
    const box = dom.overlay.getBoundingClientRect();
    if (box.width <= 0 || box.height <= 0) return clearReading();
    const offsetX = event.clientX - box.left;
    const offsetY = event.clientY - box.top;
    const cell = pixelAt(offsetX, offsetY, box.width, box.height, drawn.width, drawn.height);
    const size = asArray(model.get("image_size"));
    const imageWidth = size[0] > 0 ? size[0] : drawn.width;
    const imageHeight = size[1] > 0 ? size[1] : drawn.height;
    const pixel = pixelAt(offsetX, offsetY, box.width, box.height, imageWidth, imageHeight);
    const normalised = drawn.values[cell.y * drawn.width + cell.x];
    const raw = normalised * drawn.map.maximum;
    dom.readout.textContent = formatReadout({ normalised, raw, x: pixel.x, y: pixel.y });
    Object.assign(dom.readout.dataset, {
      normalised: String(normalised),
      raw: String(raw),
      x: String(pixel.x),
      y: String(pixel.y),
      canvasX: String(cell.x),
      canvasY: String(cell.y),
    });
  }

  function onPointerLeave() {
    pointer = null;
    clearReading();
  }

  function clearReading() {
    dom.readout.textContent = "\u00a0";
    for (const name of ["normalised", "raw", "x", "y", "canvasX", "canvasY"]) delete dom.readout.dataset[name];
  }

  // --- top-k list ------------------------------------------------------------------------------

  function renderClassList() {
    const focusedIndex = document.activeElement?.closest?.(".gcw-class")?.getAttribute("data-index");
    const options = asArray(model.get("top_classes")).map((/** @type {TopClass} */ entry) => classOption(entry));
    dom.classList.replaceChildren(...options);
    syncClassSelection();
    const refocus = options.find((o) => o.dataset.index === focusedIndex);
    if (refocus) refocus.focus();
  }

  /** @param {TopClass} entry */
  function classOption(entry) {
    const index = Number(entry.index);
    const name = entry.name ?? asArray(model.get("class_names"))[index] ?? `class ${index}`;
    const option = element("div", "gcw-class", {
      role: "option",
      "data-testid": `gcw-class-${index}`,
      "data-index": String(index),
      "aria-selected": "false",
      tabindex: "-1",
    });
    suppressNotebookShortcuts(option);
    const fill = element("span", "gcw-bar-fill");
    const probability = Number(entry.probability);
    fill.style.width = `${Math.min(100, Math.max(0, (Number.isFinite(probability) ? probability : 0) * 100))}%`;
    const bar = element("span", "gcw-bar", { "aria-hidden": "true" });
    bar.append(fill);
    const label = element("span", "gcw-class-label", { title: `${name} (#${index})` });
    label.append(element("span", "gcw-class-name", {}, String(name)), element("span", "gcw-class-index", {}, `#${index}`));
    option.append(
      label,
      bar,
      element("span", "gcw-class-percent", {}, formatPercent(probability)),
    );
    return option;
  }

  /** aria-selected follows selected_class; the roving tab stop sits on it (else the first). */
  function syncClassSelection() {
    const selectedIndex = String(model.get("selected_class"));
    const options = /** @type {HTMLElement[]} */ ([...dom.classList.children]);
    const tabStop = options.find((o) => o.dataset.index === selectedIndex) ?? options[0];
    for (const option of options) {
      option.setAttribute("aria-selected", String(option.dataset.index === selectedIndex));
      option.tabIndex = option === tabStop ? 0 : -1;
    }
    renderSelectedLabel();
  }

  function renderSelectedLabel() {
    const index = Number(model.get("selected_class"));
    const name = asArray(model.get("class_names"))[index];
    dom.selected.textContent = `Showing: ${name ?? `class ${index}`} (#${index})`;
  }

  /** @param {MouseEvent} event */
  function onClassClick(event) {
    const option = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (event.target).closest(".gcw-class"));
    if (!option) return;
    option.focus();
    commit(Number(option.dataset.index));
  }

  /** @param {KeyboardEvent} event */
  function onClassKey(event) {
    const options = /** @type {HTMLElement[]} */ ([...dom.classList.children]);
    if (options.length === 0) return;
    const current = options.findIndex((o) => o === document.activeElement);
    const from = current >= 0 ? current : 0;
    const moves = { ArrowDown: from + 1, ArrowUp: from - 1, Home: 0, End: options.length - 1 };
    /** @type {number | undefined} */
    let target;
    if (event.key in moves) target = Math.min(Math.max(moves[/** @type {keyof moves} */ (event.key)], 0), options.length - 1);
    else if (event.key === "Enter" || event.key === " ") target = from;
    else return;
    event.preventDefault();
    event.stopPropagation(); // hosts that listen in the bubble phase (JupyterLab) stop here too
    options[target].focus();
    commit(Number(options[target].dataset.index));
  }

  // --- search ----------------------------------------------------------------------------------

  function renderMatches() {
    matches = filterClasses(asArray(model.get("class_names")), dom.search.value);
    activeMatch = matches.length > 0 ? 0 : -1;
    dom.results.replaceChildren(
      ...matches.map((match, i) => {
        const item = element("li", "gcw-result", {
          role: "option",
          id: `${idPrefix}-result-${i}`,
          "data-index": String(match.index),
          "data-position": String(i),
        });
        item.append(element("span", "gcw-result-name", {}, match.name), element("span", "gcw-class-index", {}, `#${match.index}`));
        return item;
      }),
    );
    const open = matches.length > 0;
    dom.results.hidden = !open;
    dom.search.setAttribute("aria-expanded", String(open));
    highlightMatch();
  }

  function highlightMatch() {
    [...dom.results.children].forEach((item, i) => item.setAttribute("aria-selected", String(i === activeMatch)));
    if (activeMatch >= 0) dom.search.setAttribute("aria-activedescendant", `${idPrefix}-result-${activeMatch}`);
    else dom.search.removeAttribute("aria-activedescendant");
  }

  /** @param {ClassMatch} match */
  function pickMatch(match) {
    dom.search.value = match.name;
    matches = [];
    dom.results.replaceChildren();
    dom.results.hidden = true;
    dom.search.setAttribute("aria-expanded", "false");
    commit(match.index);
  }

  /** @param {KeyboardEvent} event */
  function onSearchKey(event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (matches.length === 0) return;
      const step = event.key === "ArrowDown" ? 1 : -1;
      activeMatch = (activeMatch + step + matches.length) % matches.length;
      highlightMatch();
    } else if (event.key === "Enter") {
      if (matches.length === 0) renderMatches();
      const match = matches[Math.max(activeMatch, 0)];
      if (match) pickMatch(match);
    } else if (event.key === "Escape") {
      dom.search.value = "";
      renderMatches();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  }

  /** @param {MouseEvent} event */
  function onResultPointerDown(event) {
    const item = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (event.target).closest(".gcw-result"));
    if (!item) return;
    event.preventDefault(); // keep focus in the input
    pickMatch(matches[Number(item.dataset.position)]);
  }

  // --- menus and opacity -----------------------------------------------------------------------

  function renderMethods() {
    fillSelect(dom.method, asArray(model.get("methods")).map(String), String(model.get("method") ?? ""));
  }

  function renderLayers() {
    fillSelect(dom.layer, asArray(model.get("layers")).map(String), String(model.get("layer") ?? ""));
  }

  function renderColormaps() {
    const sent = /** @type {Record<string, unknown>} */ (model.get("colormap_tables") ?? {});
    const decoded = colormapNames(sent).map((name) => /** @type {[string, Uint8Array]} */ ([name, decodeBytes(/** @type {any} */ (sent[name]))]));
    tables = new Map(decoded.filter(([, table]) => table.length === TABLE_SIZE * 3));
    fillSelect(dom.colormap, [...tables.keys()], String(model.get("colormap") ?? ""));
    dom.colormap.disabled = tables.size === 0;
    recolour();
  }

  /** Colormap change: recolour the drawn values and the colour bar, no upsampling. */
  function recolour() {
    dom.colormap.value = String(model.get("colormap") ?? "");
    paint();
    drawColorbar();
  }

  function drawColorbar() {
    const context = dom.colorbar.getContext("2d");
    if (!context) return;
    const ramp = new Float32Array(TABLE_SIZE).map((_, i) => i / TABLE_SIZE);
    context.putImageData(new ImageData(colorize(ramp, currentTable()), TABLE_SIZE, 1), 0, 0);
  }

  function renderOpacity() {
    const value = Math.min(1, Math.max(0, Number(model.get("opacity"))));
    const opacity = Number.isFinite(value) ? value : 0.5;
    if (Number(dom.opacity.value) !== opacity) dom.opacity.value = String(opacity);
    dom.overlay.style.opacity = String(opacity);
    dom.opacityValue.textContent = `${Math.round(opacity * 100)}%`;
  }

  /** Opacity is CSS only: apply at once, then tell Python so to_png() matches. */
  function onOpacityInput() {
    const value = Number(dom.opacity.value);
    dom.overlay.style.opacity = String(value);
    dom.opacityValue.textContent = `${Math.round(value * 100)}%`;
    model.set("opacity", value);
    model.save_changes();
  }

  /** @param {string} trait @param {HTMLSelectElement} select */
  const sendSelect = (trait, select) => () => {
    model.set(trait, select.value);
    model.save_changes();
  };

  // --- wiring ----------------------------------------------------------------------------------

  onModel("change:image", renderImage);
  onModel("change:image_size", resizeStage);
  onModel("change:maps", () => {
    asArray(model.get("maps")).forEach(ingest);
    scheduleUpdate();
  });
  onModel("change:extra_map", () => {
    ingest(model.get("extra_map"));
    scheduleUpdate();
  });
  onModel("change:selected_class", () => {
    syncClassSelection();
    scheduleUpdate();
  });
  onModel("change:method", () => {
    renderMethods();
    scheduleUpdate();
  });
  onModel("change:layer", () => {
    renderLayers();
    scheduleUpdate();
  });
  onModel("change:status", scheduleUpdate);
  onModel("change:top_classes", renderClassList);
  onModel("change:class_names", () => {
    renderClassList();
    if (dom.search.value) renderMatches();
  });
  onModel("change:methods", renderMethods);
  onModel("change:layers", renderLayers);
  onModel("change:colormap_tables", renderColormaps);
  onModel("change:colormap", recolour);
  onModel("change:opacity", renderOpacity);

  onDom(dom.stage, "pointermove", showReading);
  onDom(dom.stage, "pointerleave", onPointerLeave);
  onDom(dom.image, "load", resizeStage);
  onDom(dom.classList, "click", onClassClick);
  onDom(dom.classList, "keydown", onClassKey);
  onDom(dom.search, "input", renderMatches);
  onDom(dom.search, "keydown", onSearchKey);
  onDom(dom.search, "blur", () => {
    dom.results.hidden = true;
    dom.search.setAttribute("aria-expanded", "false");
  });
  onDom(dom.search, "focus", () => dom.search.value && renderMatches());
  onDom(dom.results, "pointerdown", onResultPointerDown);
  onDom(dom.method, "change", sendSelect("method", dom.method));
  onDom(dom.layer, "change", sendSelect("layer", dom.layer));
  onDom(dom.colormap, "change", sendSelect("colormap", dom.colormap));
  onDom(dom.opacity, "input", onOpacityInput);

  // The trust panel (its own section below): a button in the controls, the panel under both columns.
  const trust = createTrustSection({
    model, onModel, onDom, image: dom.image, currentTable, isDisposed: () => disposed, idPrefix,
  });
  dom.controls.append(trust.toggle);
  dom.root.append(trust.panel);

  renderColormaps();
  renderOpacity();
  renderMethods();
  renderLayers();
  renderClassList();
  renderImage(); // also ingests maps and schedules the first draw

  return () => {
    disposed = true;
    for (const [name, callback] of modelListeners) model.off(name, callback);
    for (const [target, type, callback] of domListeners) target.removeEventListener(type, callback);
    if (imageUrl) URL.revokeObjectURL(imageUrl);
    imageUrl = null;
    cache.clear();
    trust.dispose();
    dom.root.remove();
  };
}

// =============================================================================================
// Trust panel ("Can I trust this map?")
//
// The kernel (gradcam_widget/trust.py) computes every number and sentence of the report and sends
// it in the `trust` trait; this section only draws it: the status line, the deletion/insertion
// curves (SVG), the randomisation verdict, the method strip (thumbnails) and the Grad-CAM minus
// HiResCAM difference view. See "Trust panel" in docs/protocol.md.
// =============================================================================================

// ---------------------------------------------------------------------------------------------
// Trust panel: pure helpers
// ---------------------------------------------------------------------------------------------

/**
 * @typedef {object} TrustReport  The `trust` trait; every field may be missing (`{}` at first).
 * @property {number} [class_index]
 * @property {string} [method]
 * @property {string} [layer]
 * @property {string} [state]  "computing" | "ready" | "error"
 * @property {string} [message]
 * @property {Array<Partial<WireMap> & {label?: string}>} [strip]
 * @property {string[]} [strip_pending]
 * @property {{height?: number, width?: number, raw?: BytesLike, max_abs?: number, text?: string}} [difference]
 * @property {Record<string, any>} [faithfulness]
 * @property {Record<string, any>} [randomization]
 *
 * @typedef {{classIndex: number, method: string, layer: string}} Selection
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
/** Method strip order (gradcam_widget.trust.STRIP_METHODS, then Score-CAM). */
export const TRUST_STRIP_ORDER = ["gradcam", "gradcam++", "hirescam", "layercam", "scorecam"];
/** States a report can be in; anything else the kernel sends is treated as "computing". */
const TRUST_STATES = ["computing", "ready", "error"];
/** Method names in words (the same as gradcam_widget.trust.METHOD_LABELS). */
/** @type {Record<string, string>} */
const METHOD_LABELS = {
  gradcam: "Grad-CAM",
  "gradcam++": "Grad-CAM++",
  hirescam: "HiResCAM",
  layercam: "Layer-CAM",
  xgradcam: "XGrad-CAM",
  eigencam: "Eigen-CAM",
  scorecam: "Score-CAM",
};

/**
 * Display name of a method ("gradcam++" -> "Grad-CAM++"); unknown names are returned as they are.
 * @param {string} method
 */
export function methodLabel(method) {
  const name = String(method ?? "");
  return Object.prototype.hasOwnProperty.call(METHOD_LABELS, name) ? METHOD_LABELS[name] : name;
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
 */
export function trustMatches(trust, classIndex, method, layer) {
  if (!trust || !hasTrustTarget(trust)) return false;
  return (
    trust.class_index === Number(classIndex) &&
    String(trust.method ?? "") === String(method) &&
    String(trust.layer ?? "") === String(layer)
  );
}

/**
 * The panel's data-state: the report's state when it describes the selection, else "stale".
 * @param {TrustReport | null | undefined} trust
 * @param {Selection} selection
 * @returns {"computing" | "ready" | "error" | "stale"}
 */
export function trustPanelState(trust, selection) {
  if (!trustMatches(trust, selection.classIndex, selection.method, selection.layer)) return "stale";
  const state = String(trust?.state ?? "");
  return /** @type {any} */ (TRUST_STATES.includes(state) ? state : "computing");
}

/**
 * "elephant (#0) · Grad-CAM · conv2d_2": which map a report is about, in words.
 * @param {ArrayLike<string>} names  class names, index = class index
 * @param {number} classIndex
 * @param {string} method
 * @param {string} layer
 */
export function describeTarget(names, classIndex, method, layer) {
  const name = classIndex >= 0 && classIndex < names.length ? String(names[classIndex]) : `class ${classIndex}`;
  const parts = [`${name} (#${classIndex})`, methodLabel(method)];
  if (layer) parts.push(String(layer));
  return parts.join(" · ");
}

/**
 * The status line of the panel.
 * @param {TrustReport | null | undefined} trust
 * @param {ArrayLike<string>} names
 * @param {Selection} selection
 */
export function trustStatusText(trust, names, selection) {
  const current = describeTarget(names, selection.classIndex, selection.method, selection.layer);
  if (!trust || !hasTrustTarget(trust)) return `Computing the report for ${current}…`;
  const state = trustPanelState(trust, selection);
  const message = String(trust.message ?? "").trim();
  if (state === "stale") {
    const shown = describeTarget(names, Number(trust.class_index), String(trust.method ?? ""), String(trust.layer ?? ""));
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
 * Diverging table index of a signed value d in [-1, 1]: min(255, floor((d + 1) / 2 * 256)),
 * clamped to [0, 255]; not-a-number counts as 0 (the middle, "no difference").
 * @param {number} d
 */
export function divergingIndex(d) {
  const number = Number(d);
  const value = Number.isNaN(number) ? 0 : number;
  const index = Math.floor(((value + 1) / 2) * TABLE_SIZE);
  return index > 0 ? (index < TABLE_SIZE - 1 ? index : TABLE_SIZE - 1) : 0;
}

/**
 * Colour signed values with a 256-entry diverging RGB table into opaque RGBA pixels.
 * @param {ArrayLike<number>} values
 * @param {Uint8Array} table  768 bytes
 * @returns {Uint8ClampedArray<ArrayBuffer>}
 */
export function colorizeDiverging(values, table) {
  const pixels = new Uint8ClampedArray(values.length * 4);
  for (let i = 0; i < values.length; i++) {
    const entry = divergingIndex(values[i]) * 3;
    const p = i * 4;
    pixels[p] = table[entry];
    pixels[p + 1] = table[entry + 1];
    pixels[p + 2] = table[entry + 2];
    pixels[p + 3] = 255;
  }
  return pixels;
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
 * The method strip's slots in display order (TRUST_STRIP_ORDER, then any other method): each
 * received entry, then each pending method without an entry yet (entry null = "computing…").
 * @param {unknown} strip
 * @param {unknown} pending
 * @returns {StripSlot[]}
 */
export function stripSlots(strip, pending) {
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
    const i = TRUST_STRIP_ORDER.indexOf(m);
    return i >= 0 ? i : TRUST_STRIP_ORDER.length;
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
function createTrustSection({ model, onModel, onDom, image, currentTable, isDisposed, idPrefix }) {
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
  let queued = false;

  const report = () => /** @type {TrustReport} */ (model.get("trust") ?? {});
  const names = () => asArray(model.get("class_names")).map(String);
  const selection = () => ({
    classIndex: Number(model.get("selected_class")),
    method: String(model.get("method") ?? ""),
    layer: String(model.get("layer") ?? ""),
  });
  const imageSize = () => {
    const size = asArray(model.get("image_size"));
    return size[0] > 0 && size[1] > 0 ? { width: size[0], height: size[1] } : { width: image.naturalWidth, height: image.naturalHeight };
  };

  function schedule() {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      if (!isDisposed()) render();
    });
  }

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
    dom.status.textContent = trustStatusText(trust, names(), sel);
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
    const slots = stripSlots(trust.strip, trust.strip_pending);
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
    const active = document.activeElement;
    const focused = active instanceof HTMLElement && dom.strip.contains(active) ? active.dataset.method : undefined;
    dom.strip.replaceChildren(...buttons);
    if (focused !== undefined && document.activeElement !== active) {
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
      title: `Show ${methodLabel(method)} in the main view`,
    }));
    suppressNotebookShortcuts(button);
    const label = String(entry?.label ?? "") || methodLabel(method);
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

/**
 * anywidget entry point.
 * @param {{model: AnyModel, el: HTMLElement}} context
 */
function render({ model, el }) {
  return createView(model, el);
}

export default { render };
