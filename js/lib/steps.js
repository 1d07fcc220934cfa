// @ts-check
/**
 * The "How was this map made?" panel: draws the kernel's `steps` trait (gradcam_widget/steps_panel.py)
 * as five steps, each with its one-line equation (kernel text, set as text): the channels A^k that
 * contribute most (thumbnails; a click shows one over the image), the channel weights (a sorted bar
 * chart with how many are positive and negative), the weighted sum before ReLU (diverging colours),
 * after ReLU, and upsampled over the image. The kernel computes every number; this module divides
 * by the maxima it sends, upsamples and colours.
 */

import { asArray, coalesced, element, suppressNotebookShortcuts } from "./dom.js";
import { colorize, decodeFloat32, fitDisplaySize, formatRaw, upsampleBilinear } from "./maps.js";
import { colorizeDiverging } from "../trust-panel.js";

/** Size of the bar chart canvas (CSS pixels = canvas pixels). */
export const STEPS_CHART = Object.freeze({ width: 240, height: 90 });
/** Longest side of the "over the image" view. */
export const STEPS_OVER_SIDE = 224;
/** CSS side of a channel thumbnail (drawn at the layer's resolution, scaled up pixelated). */
export const STEPS_THUMB_SIDE = 56;

/**
 * @typedef {object} StepsChannel
 * @property {number} channel
 * @property {number} weight
 * @property {number} contribution
 * @property {Float32Array} values
 * @property {number} low
 * @property {number} high
 * @property {number} [gain]
 *
 * @typedef {object} ParsedSteps
 * @property {number} classIndex
 * @property {string} method
 * @property {string} layer
 * @property {number} height
 * @property {number} width
 * @property {string} weighting
 * @property {Record<string, string>} equations
 * @property {StepsChannel[]} channels
 * @property {Float32Array} weightsSorted
 * @property {number} weightsMax
 * @property {number} positive
 * @property {number} negative
 * @property {number} numChannels
 * @property {Float32Array} signed
 * @property {number} signedMax
 * @property {Float32Array} relu
 * @property {number} reluMax
 */

/**
 * Decode a ready `steps` trait; null when it is not ready or its sizes do not add up.
 * @param {any} steps
 * @returns {ParsedSteps | null}
 */
export function parseSteps(steps) {
  if (!steps || typeof steps !== "object" || steps.state !== "ready") return null;
  const height = Number(steps.height);
  const width = Number(steps.width);
  if (!(height >= 1) || !(width >= 1)) return null;
  const cells = height * width;
  const signed = decodeFloat32(steps.signed);
  const relu = decodeFloat32(steps.relu);
  if (signed.length !== cells || relu.length !== cells) return null;
  const channels = asArray(steps.channels)
    .map((/** @type {any} */ c) => ({
      channel: Number(c.channel),
      weight: Number(c.weight),
      contribution: Number(c.contribution),
      values: decodeFloat32(c.values),
      low: Number(c.low),
      high: Number(c.high),
      ...(c.gain != null ? { gain: Number(c.gain) } : {}),
    }))
    .filter((/** @type {StepsChannel} */ c) => c.values.length === cells);
  const equations = /** @type {Record<string, string>} */ ({});
  for (const [name, text] of Object.entries(steps.equations ?? {})) equations[name] = String(text);
  return {
    classIndex: Number(steps.class_index),
    method: String(steps.method ?? ""),
    layer: String(steps.layer ?? ""),
    height,
    width,
    weighting: String(steps.weighting ?? ""),
    equations,
    channels,
    weightsSorted: decodeFloat32(steps.weights_sorted),
    weightsMax: Number(steps.weights_max) || 0,
    positive: Number(steps.positive) || 0,
    negative: Number(steps.negative) || 0,
    numChannels: Number(steps.num_channels) || 0,
    signed,
    signedMax: Number(steps.signed_max) || 0,
    relu,
    reluMax: Number(steps.relu_max) || 0,
  };
}

/**
 * Whether the kernel's `steps` are for the current selection.
 * @param {any} steps
 * @param {{classIndex: number, method: string, layer: string}} selection
 */
export function stepsMatch(steps, selection) {
  return Boolean(steps) && Number(steps.class_index) === selection.classIndex
    && String(steps.method) === selection.method && String(steps.layer) === selection.layer;
}

/**
 * Values divided by `top` (clamped to [-1, 1]); zeros when top is 0.
 * @param {ArrayLike<number>} values
 * @param {number} top
 */
export function scaledBy(values, top) {
  const out = new Float32Array(values.length);
  if (top > 0) for (let i = 0; i < values.length; i++) out[i] = Math.min(1, Math.max(-1, values[i] / top));
  return out;
}

/**
 * A channel's values stretched to [0, 1] between the low and high the kernel sent.
 * @param {StepsChannel} channel
 */
export function channelValues(channel) {
  const span = channel.high - channel.low;
  const out = new Float32Array(channel.values.length);
  if (span > 0) for (let i = 0; i < out.length; i++) out[i] = (channel.values[i] - channel.low) / span;
  return out;
}

/**
 * The sorted bar chart: one bar per weight from a zero line in the middle (up: positive).
 * @param {ArrayLike<number>} sorted  weights, largest first
 * @param {number} maxAbs
 * @param {{width: number, height: number}} [chart]
 * @returns {Array<{x: number, y: number, w: number, h: number, positive: boolean}>}
 */
export function barRects(sorted, maxAbs, chart = STEPS_CHART) {
  const n = sorted.length;
  if (n === 0 || !(maxAbs > 0)) return [];
  const middle = chart.height / 2;
  const w = chart.width / n;
  /** @type {Array<{x: number, y: number, w: number, h: number, positive: boolean}>} */
  const rects = [];
  for (let i = 0; i < n; i++) {
    const v = Math.max(-1, Math.min(1, sorted[i] / maxAbs));
    const h = Math.abs(v) * middle;
    rects.push({ x: i * w, y: v >= 0 ? middle - h : middle, w: Math.max(w, 0.5), h, positive: v >= 0 });
  }
  return rects;
}

/**
 * A signed number with its sign and two significant digits ("+3.4e-2").
 * @param {number} value
 */
export function signedText(value) {
  if (!Number.isFinite(value)) return String(value);
  return value > 0 ? `+${formatRaw(value)}` : value < 0 ? `−${formatRaw(-value)}` : "0";
}

/**
 * What a channel button says to a screen reader.
 * @param {StepsChannel} channel
 * @param {string} bars  the weights' symbol (the kernel's `equations.bars`)
 */
export function channelLabel(channel, bars) {
  const gain = channel.gain != null && Number.isFinite(channel.gain) ? `, masked score ${signedText(channel.gain)}` : "";
  return `Channel ${channel.channel}: ${bars} ${signedText(channel.weight)}, contribution ${signedText(channel.contribution)}${gain}. Show it over the image.`;
}

/**
 * The panel's DOM (all text via textContent).
 */
function buildStepsDom() {
  const toggle = element("button", "gcw-steps-toggle", {
    type: "button", "data-testid": "gcw-steps-toggle", "aria-expanded": "false",
  }, "How was this map made?");
  const panel = element("section", "gcw-steps", { "data-testid": "gcw-steps", "aria-label": "How was this map made?" });
  panel.hidden = true;
  const status = element("div", "gcw-steps-status", { "data-testid": "gcw-steps-status", role: "status", "aria-live": "polite" });
  /** @param {string} n @param {string} title */
  const step = (n, title) => {
    const box = element("div", "gcw-steps-step", { "data-testid": `gcw-steps-step-${n}` });
    const heading = element("div", "gcw-steps-title", {}, `${n}. ${title}`);
    const equation = element("div", "gcw-steps-equation");
    box.append(heading, equation);
    return { box, equation };
  };
  const one = step("1", "Activations A^k");
  const channels = element("div", "gcw-steps-channels", { role: "group", "aria-label": "Channels that contribute most" });
  one.box.append(channels);
  const two = step("2", "Channel weights");
  const chart = /** @type {HTMLCanvasElement} */ (element("canvas", "gcw-steps-chart", {
    "data-testid": "gcw-steps-chart", role: "img", width: String(STEPS_CHART.width), height: String(STEPS_CHART.height),
  }));
  const counts = element("div", "gcw-steps-counts", { "data-testid": "gcw-steps-counts" });
  two.box.append(chart, counts);
  /** @param {string} testid @param {string} label */
  const mapCanvas = (testid, label) => /** @type {HTMLCanvasElement} */ (
    element("canvas", "gcw-steps-map", { "data-testid": testid, role: "img", "aria-label": label }));
  const three = step("3", "Weighted sum, before ReLU");
  const signed = mapCanvas("gcw-steps-signed", "Weighted sum before ReLU: red for the class, blue against");
  const signedRange = element("div", "gcw-steps-range");
  three.box.append(signed, signedRange);
  const four = step("4", "After ReLU");
  const relu = mapCanvas("gcw-steps-relu", "The map after ReLU");
  const reluRange = element("div", "gcw-steps-range");
  four.box.append(relu, reluRange);
  const five = step("5", "Upsampled over the image");
  // The image is the stage's background (the widget's own blob URL), the map a canvas on top.
  const overStage = element("div", "gcw-steps-over", { "data-testid": "gcw-steps-over-stage" });
  const over = /** @type {HTMLCanvasElement} */ (element("canvas", "gcw-steps-over-map", { "data-testid": "gcw-steps-over", role: "img" }));
  overStage.append(over);
  const overCaption = element("div", "gcw-steps-range", { "data-testid": "gcw-steps-over-caption" });
  const showMap = element("button", "gcw-steps-show-map", { type: "button", "data-testid": "gcw-steps-show-map" }, "Show the map again");
  five.box.append(overStage, overCaption, showMap);
  const grid = element("div", "gcw-steps-grid");
  grid.append(one.box, two.box, three.box, four.box, five.box);
  panel.append(status, grid);
  for (const control of [toggle, showMap]) suppressNotebookShortcuts(control);
  return {
    toggle, panel, status, channels, chart, counts, signed, signedRange, relu, reluRange, overStage, over, overCaption, showMap,
    equations: { activations: one.equation, weights: two.equation, sum: three.equation, relu: four.equation, upsample: five.equation },
  };
}

/**
 * The panel section (shaped like createTrustSection): a toggle for the controls, the panel for under
 * the two columns.
 * @param {{model: import("./maps.js").AnyModel, onModel: (name: string, cb: Function) => void,
 *   onDom: (target: EventTarget, type: string, cb: (event: any) => void) => void, image: HTMLImageElement,
 *   currentTable: () => Uint8Array, divergingTable: () => Uint8Array, isDisposed: () => boolean, idPrefix: string}} context
 */
export function createStepsSection({ model, onModel, onDom, image, currentTable, divergingTable, isDisposed, idPrefix }) {
  const dom = buildStepsDom();
  dom.panel.id = `${idPrefix}-steps`;
  dom.toggle.setAttribute("aria-controls", dom.panel.id);
  /** @type {ParsedSteps | null} */
  let parsed = null;
  /** @type {any} */
  let parsedFrom = null;

  const selection = () => ({
    classIndex: Number(model.get("selected_class")),
    method: String(model.get("method") ?? ""),
    layer: String(model.get("layer") ?? ""),
  });

  const schedule = coalesced(() => render(), isDisposed);

  function render() {
    const open = Boolean(model.get("steps_open"));
    dom.toggle.setAttribute("aria-expanded", String(open));
    dom.panel.hidden = !open;
    if (!open) return;
    const steps = model.get("steps") ?? {};
    if (steps !== parsedFrom) {
      parsedFrom = steps;
      parsed = parseSteps(steps);
    }
    const current = stepsMatch(steps, selection());
    const state = !current ? "computing" : steps.state === "error" ? "error" : parsed ? "ready" : "computing";
    dom.panel.dataset.state = state;
    dom.status.dataset.state = state;
    dom.status.textContent = state === "error" ? String(steps.message ?? "Error")
      : state === "computing" ? (steps.message ? String(steps.message) : "computing the steps…") : "";
    if (state !== "ready" || !parsed) {
      dom.panel.querySelector(".gcw-steps-grid")?.setAttribute("hidden", "");
      return;
    }
    dom.panel.querySelector(".gcw-steps-grid")?.removeAttribute("hidden");
    dom.panel.dataset.class = String(parsed.classIndex);
    drawAll(parsed);
  }

  /** @param {HTMLCanvasElement} canvas @param {number} width @param {number} height @param {Uint8ClampedArray<ArrayBuffer>} pixels */
  function put(canvas, width, height, pixels) {
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
    canvas.getContext("2d")?.putImageData(new ImageData(pixels, width, height), 0, 0);
  }

  /** @param {ParsedSteps} steps */
  function drawAll(steps) {
    for (const [name, node] of Object.entries(dom.equations)) node.textContent = steps.equations[name] ?? "";
    const bars = steps.equations.bars ?? "weight";
    const chosen = Number(model.get("steps_channel"));
    // 1. thumbnails (the focused one keeps the focus across a redraw)
    const focused = dom.channels.contains(document.activeElement)
      ? /** @type {HTMLElement} */ (document.activeElement).dataset.channel : undefined;
    dom.channels.replaceChildren(...steps.channels.map((channel) => {
      const button = element("button", "gcw-steps-channel", {
        type: "button",
        "data-testid": `gcw-steps-channel-${channel.channel}`,
        "data-channel": String(channel.channel),
        "aria-pressed": String(channel.channel === chosen),
        "aria-label": channelLabel(channel, bars),
      });
      suppressNotebookShortcuts(button);
      const canvas = /** @type {HTMLCanvasElement} */ (element("canvas", "gcw-steps-thumb", { "aria-hidden": "true" }));
      canvas.style.width = `${STEPS_THUMB_SIDE}px`;
      canvas.style.height = `${Math.round((STEPS_THUMB_SIDE * steps.height) / steps.width)}px`;
      put(canvas, steps.width, steps.height, colorize(channelValues(channel), currentTable()));
      button.append(canvas, element("span", "gcw-steps-caption", { "aria-hidden": "true" }, `k ${channel.channel} · ${signedText(channel.weight)}`));
      return button;
    }));
    if (focused !== undefined) /** @type {HTMLElement | null} */ (dom.channels.querySelector(`[data-channel="${focused}"]`))?.focus();
    // 2. weights
    const context = dom.chart.getContext("2d");
    if (context) {
      context.clearRect(0, 0, STEPS_CHART.width, STEPS_CHART.height);
      const table = divergingTable();
      const colour = (/** @type {number} */ i) => `rgb(${table[i * 3]}, ${table[i * 3 + 1]}, ${table[i * 3 + 2]})`;
      for (const r of barRects(steps.weightsSorted, steps.weightsMax)) {
        context.fillStyle = r.positive ? colour(230) : colour(25);
        context.fillRect(r.x, r.y, r.w, r.h);
      }
    }
    const counts = `${steps.numChannels} channels: ${steps.positive} positive, ${steps.negative} negative; largest |${bars}| ${formatRaw(steps.weightsMax)}`;
    dom.counts.textContent = counts;
    dom.chart.setAttribute("aria-label", `Bar chart of the channel weights ${bars}, sorted: ${counts}`);
    // 3. and 4. the sum before and after ReLU
    put(dom.signed, steps.width, steps.height, colorizeDiverging(scaledBy(steps.signed, steps.signedMax), divergingTable()));
    dom.signedRange.textContent = `range ±${formatRaw(steps.signedMax)}`;
    put(dom.relu, steps.width, steps.height, colorize(scaledBy(steps.relu, steps.reluMax), currentTable()));
    dom.reluRange.textContent = steps.reluMax > 0 ? `0 … ${formatRaw(steps.reluMax)}` : "0 · no positive evidence";
    // 5. over the image: the map, or the channel picked
    const channel = steps.channels.find((c) => c.channel === chosen) ?? null;
    const values = channel ? channelValues(channel) : scaledBy(steps.relu, steps.reluMax);
    const size = imageDisplaySize();
    const up = upsampleBilinear(values, steps.height, steps.width, size.width, size.height);
    put(dom.over, size.width, size.height, colorize(up, currentTable()));
    dom.over.style.width = `${size.width}px`;
    dom.over.style.opacity = String(Number(model.get("opacity")) || 0.4);
    dom.overStage.style.width = `${size.width}px`;
    dom.overStage.style.height = `${size.height}px`;
    const background = image.src ? `url("${image.src}")` : "";
    if (dom.overStage.style.backgroundImage !== background) dom.overStage.style.backgroundImage = background;
    dom.over.dataset.channel = channel ? String(channel.channel) : "";
    const caption = channel ? `channel ${channel.channel} (A^k from ${formatRaw(channel.low)} to ${formatRaw(channel.high)}) over the image` : "the map over the image";
    dom.overCaption.textContent = caption;
    dom.over.setAttribute("aria-label", caption);
    dom.showMap.hidden = channel === null;
  }

  function imageDisplaySize() {
    const sent = asArray(model.get("image_size"));
    const fit = fitDisplaySize(sent[0] > 0 ? sent[0] : image.naturalWidth, sent[1] > 0 ? sent[1] : image.naturalHeight);
    const scale = STEPS_OVER_SIDE / Math.max(fit.width, fit.height);
    return { width: Math.max(1, Math.round(fit.width * scale)), height: Math.max(1, Math.round(fit.height * scale)) };
  }

  /** @param {number} channel */
  function pick(channel) {
    model.set("steps_channel", channel);
    model.save_changes();
  }

  onDom(dom.toggle, "click", () => {
    model.set("steps_open", !model.get("steps_open"));
    model.save_changes();
  });
  onDom(dom.channels, "click", (/** @type {MouseEvent} */ event) => {
    const button = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (event.target).closest(".gcw-steps-channel"));
    if (!button) return;
    const channel = Number(button.dataset.channel);
    pick(channel === Number(model.get("steps_channel")) ? -1 : channel);
  });
  onDom(dom.showMap, "click", () => pick(-1));
  for (const name of ["steps", "steps_open", "steps_channel", "selected_class", "method", "layer", "colormap", "opacity", "diverging_table"]) {
    onModel(`change:${name}`, schedule);
  }
  onDom(image, "load", schedule);
  schedule();
  return { toggle: dom.toggle, panel: dom.panel, dispose() { parsed = null; } };
}
