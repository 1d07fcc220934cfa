// @ts-check
/**
 * The main view's scale modes (gradcam_widget/scale_modes.py is the reference): which values are
 * drawn for a map, on which colour table, and what the colour bar says. The kernel sends the numbers
 * (each map's raw values and maximum, its values before ReLU, the shared mode's common maximum);
 * these rules only divide and pick colours. Nothing here touches `document` or `window`.
 */

import { decodeBytes, decodeFloat32, formatRaw, TABLE_SIZE } from "./maps.js";
import { fallbackDivergingTable } from "../trust-panel.js";

/** The modes in menu order (scale_modes.MODES). */
export const SCALE_MODES = ["per_map", "shared", "signed"];

/**
 * @typedef {{values: Float32Array, maxAbs: number}} SignedMap  A map before ReLU, as sent.
 * @typedef {{values: Float32Array, factor: number, signed: boolean, low: string, high: string}} Scaled
 *   What to draw at the layer's resolution: values in [0, 1] (or [-1, 1] when signed), the number a
 *   drawn 1 stands for, and the colour bar's two ends.
 */

/**
 * The map before ReLU from a `maps` entry / `extra_map` (its `signed` bytes); null when absent.
 * @param {any} entry
 * @returns {SignedMap | null}
 */
export function parseSigned(entry) {
  if (!entry || typeof entry !== "object" || entry.signed == null) return null;
  const values = decodeFloat32(entry.signed);
  if (values.length !== Number(entry.height) * Number(entry.width)) return null;
  const maxAbs = Number(entry.signed_max);
  return { values, maxAbs: Number.isFinite(maxAbs) && maxAbs > 0 ? maxAbs : 0 };
}

/**
 * The scale mode the kernel holds (per_map for anything unknown).
 * @param {unknown} mode
 */
export function scaleMode(mode) {
  return SCALE_MODES.includes(String(mode)) ? String(mode) : "per_map";
}

/**
 * What to draw for one map in `mode`: per_map = raw / own maximum (today's view); shared = raw /
 * the common maximum of the classes shown (a weak class looks weak); signed = the map before ReLU
 * / its largest magnitude, in [-1, 1].
 * @param {{normalised: Float32Array, maximum: number, hasEvidence: boolean}} map
 * @param {SignedMap | null} signed
 * @param {string} mode
 * @param {number} commonMaximum
 * @returns {Scaled}
 */
export function scaledValues(map, signed, mode, commonMaximum) {
  if (mode === "signed" && signed) {
    const top = signed.maxAbs;
    const values = new Float32Array(signed.values.length);
    if (top > 0) for (let i = 0; i < values.length; i++) values[i] = Math.min(1, Math.max(-1, signed.values[i] / top));
    return { values, factor: top, signed: true, low: top > 0 ? `−${formatRaw(top)}` : "0", high: top > 0 ? `+${formatRaw(top)}` : "0" };
  }
  if (mode === "shared") {
    const common = Number(commonMaximum);
    const values = new Float32Array(map.normalised.length);
    if (map.hasEvidence && common > 0) {
      const ratio = map.maximum / common;
      for (let i = 0; i < values.length; i++) values[i] = Math.min(1, map.normalised[i] * ratio);
    }
    const high = common > 0 ? `shared max ${formatRaw(common)}` : "0 · no positive evidence";
    return { values, factor: common > 0 ? common : 0, signed: false, low: "0", high };
  }
  // The signed mode without the values before ReLU (a saved page made in another mode; a moment
  // while the kernel sends them): drawn per map, and the colour bar says so.
  const missing = mode === "signed" ? " · per map: no values before ReLU here" : "";
  const high = (map.hasEvidence ? formatRaw(map.maximum) : "0 · no positive evidence") + missing;
  return { values: map.normalised, factor: map.maximum, signed: false, low: "0", high };
}

/**
 * The diverging table the kernel sent (768 bytes), or the fallback blue-white-red ramp.
 * @param {any} bytes
 */
export function divergingTableOf(bytes) {
  const table = decodeBytes(bytes);
  return table.length === TABLE_SIZE * 3 ? table : fallbackDivergingTable();
}

/**
 * The menu's options [value, words] from the `scale` trait (the kernel's words), else the modes.
 * @param {any} scale
 * @returns {Array<[string, string]>}
 */
export function scaleOptions(scale) {
  const sent = Array.isArray(scale?.modes) ? scale.modes : [];
  const options = sent
    .filter((/** @type {any} */ m) => Array.isArray(m) && SCALE_MODES.includes(String(m[0])))
    .map((/** @type {any} */ m) => /** @type {[string, string]} */ ([String(m[0]), String(m[1] ?? m[0])]));
  return options.length > 0 ? options : SCALE_MODES.map((m) => /** @type {[string, string]} */ ([m, m]));
}

/**
 * The largest drawn value (what the shared mode's test reads back from the page).
 * @param {ArrayLike<number>} values
 */
export function drawnMaximum(values) {
  let top = 0;
  for (let i = 0; i < values.length; i++) if (Math.abs(values[i]) > top) top = Math.abs(values[i]);
  return top;
}
