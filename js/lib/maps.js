// @ts-check
/**
 * The drawing rules of gradcam-widget's maps, as pure functions: decoding the kernel's float32
 * bytes, normalising, bilinear upsampling with the pixel-centre convention, colour tables, and the
 * small text and geometry rules of the view. They mirror gradcam_widget/colormaps.py exactly (see
 * docs/protocol.md) and are tested with `node --test` against values computed in Python.
 * Nothing here touches `document` or `window`.
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
 * @property {number} [contrast]  the class explained against (contrastive widgets only)
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
 * @property {(content: any) => void} [send]  a custom message to the kernel's on_msg handlers
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
 * The one key of a map request (gradcam_widget.map_key.MapKey): which class, method and layer it
 * answers, and the class it is explained against (contrast; null/absent for an ordinary map). Maps,
 * statuses and trust reports are matched to the selection through it.
 * @param {number} classIndex
 * @param {string} method
 * @param {string} layer
 * @param {number | null} [contrast]
 */
export function mapKey(classIndex, method, layer, contrast = null) {
  const against = typeof contrast === "number" && Number.isFinite(contrast) ? contrast : null;
  return JSON.stringify([Number(classIndex), String(method), String(layer), against]);
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
    key: mapKey(classIndex, method, layer, entry.contrast ?? null),
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

/** Longest class name drawn in full; longer ones are cut (the full name stays in title/aria-label). */
export const NAME_LIMIT = 80;

/**
 * A name cut to `limit` characters (code points, so a surrogate pair is never split) with "…".
 * @param {unknown} name
 * @param {number} [limit]
 */
export function shortName(name, limit = NAME_LIMIT) {
  const text = String(name ?? "");
  if (text.length <= limit) return text;
  const points = Array.from(text);
  return points.length <= limit ? text : `${points.slice(0, limit - 1).join("")}…`;
}

/** Characters that can reorder text around them: right-to-left scripts and bidi controls. */
const BIDI_SENSITIVE = /[\u0590-\u08FF\u200E\u200F\u202A-\u202E\u2066-\u2069\uFB1D-\uFDFF\uFE70-\uFEFF\u{10800}-\u{10FFF}\u{1E800}-\u{1EFFF}]/u;

/**
 * Text meant to sit inside a sentence, cut to `limit` characters and, when it holds right-to-left
 * text or bidi controls, isolated (FSI ... PDI) so it cannot reorder the words around it.
 * @param {unknown} name
 * @param {number} [limit]
 */
export function isolatedName(name, limit = NAME_LIMIT) {
  const text = shortName(name, limit);
  return BIDI_SENSITIVE.test(text) ? `\u2068${text}\u2069` : text;
}
