// @ts-check
/**
 * gradcam-widget front end: the view of GradCAMWidget. The kernel sends raw float32 maps at the
 * layer's resolution; this module upsamples, colours and draws them (with the rules in
 * lib/maps.js) and owns everything that needs no kernel work (colormap, opacity, hover).
 *
 * anywidget loads `_esm` from a Blob URL, where relative imports cannot resolve, so the kernel
 * sends this module with its local imports inlined (gradcam_widget/frontend.py); node's tests
 * import the files as they are. Nothing touches `document` or `window` until `render` runs.
 */

import { activeElementOf, asArray, coalesced, element, fillSelect, labelled, listenerBook, suppressNotebookShortcuts } from "./lib/dom.js";
import {
  TABLE_SIZE,
  colorize,
  colormapNames,
  decodeBytes,
  filterClasses,
  fitDisplaySize,
  formatPercent,
  formatReadout,
  greyTable,
  mapKey,
  parseMapEntry,
  pixelAt,
  shortName,
  statusMatches,
  upsampleBilinear,
} from "./lib/maps.js";
import { colorizeDiverging, createTrustSection } from "./trust-panel.js";
import { divergingTableOf, drawnMaximum, parseSigned, scaleMode, scaledValues, scaleOptions } from "./lib/scale.js";
import { createStepsSection } from "./lib/steps.js";
import { createBrush } from "./lib/brush.js";

/**
 * @typedef {import("./lib/maps.js").CachedMap} CachedMap
 * @typedef {import("./lib/maps.js").AnyModel} AnyModel
 * @typedef {import("./lib/maps.js").TopClass} TopClass
 * @typedef {import("./lib/maps.js").Status} Status
 * @typedef {import("./lib/maps.js").ClassMatch} ClassMatch
 * @typedef {ReturnType<typeof buildDom>} Dom
 * @typedef {ReturnType<typeof listenerBook>} Listeners
 */

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
  // Shown while the maps on screen were computed for weights the model no longer has.
  const stale = element("div", "gcw-stale", { "data-testid": "gcw-stale", role: "status" });
  const staleText = element("span", "gcw-stale-text", {},
    "Out of date: the model's weights changed after these maps were computed.");
  const refresh = element("button", "gcw-stale-refresh", { "data-testid": "gcw-refresh", type: "button" }, "Refresh");
  stale.append(staleText, refresh);
  stale.hidden = true;
  const picture = element("div", "gcw-picture");
  // How the picture was derived from values outside [0, 1] / [0, 255] (kernel text, shown as text).
  const note = element("div", "gcw-image-note", { "data-testid": "gcw-image-note" });
  picture.append(stale, stage, note, readout, colorbarBox);

  const classList = element("div", "gcw-classes", { role: "listbox", "aria-label": "Top classes" });
  const selected = element("div", "gcw-selected", { "data-testid": "gcw-selected" });
  // Why the kernel refused a value this page sent (the control shows the kernel's value again).
  const notice = element("div", "gcw-notice", { "data-testid": "gcw-notice", role: "status", "aria-live": "polite" });
  notice.hidden = true;
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
  // Teaching (issue 17): the scale mode, and the layer as a slider from shallow to deep.
  const scale = /** @type {HTMLSelectElement} */ (element("select", "gcw-select", { "data-testid": "gcw-scale" }));
  const scrubber = /** @type {HTMLInputElement} */ (
    element("input", "gcw-scrubber", { "data-testid": "gcw-scrubber", type: "range", min: "0", max: "0", step: "1" })
  );
  const scrubberValue = element("output", "gcw-scrubber-value", { "data-testid": "gcw-scrubber-value" });
  const scrubberRow = element("div", "gcw-opacity-row");
  scrubberRow.append(scrubber, scrubberValue);

  const controls = element("div", "gcw-controls");
  controls.append(
    element("div", "gcw-heading", {}, "Top classes"),
    classList,
    selected,
    notice,
    searchBox,
    labelled("Method", method),
    labelled("Layer", layer),
    labelled("Layer depth (shallow to deep)", scrubberRow),
    labelled("Colormap", colormap),
    labelled("Scale", scale),
    labelled("Opacity", opacityRow),
  );
  root.append(picture, controls);
  for (const control of [search, method, layer, colormap, opacity, refresh, scale, scrubber]) suppressNotebookShortcuts(control);
  return {
    root, picture, stage, image, overlay, status, note, readout, colorbar, colorbarMax, stale, refresh, notice,
    classList, selected, search, results, method, layer, colormap, opacity, opacityValue, controls,
    colorbarMin, scale, scrubber, scrubberValue,
  };
}

/**
 * A class name as its own bidirectional island (<bdi>: right-to-left text or override characters in
 * a name cannot reorder the labels around it), cut to NAME_LIMIT characters with the full name in
 * its title.
 * @param {string} className
 * @param {unknown} name
 */
function nameElement(className, name) {
  const full = String(name ?? "");
  const node = element("bdi", className, {}, shortName(full));
  if (node.textContent !== full) node.title = full;
  return node;
}

/** Numbers each view, so element ids stay unique when a model is shown twice. */
let viewCount = 0;

/**
 * The top-k class list (shaped like createTrustSection): options with probability bars, a roving tab
 * stop, aria-selected following `selected_class`, clicks and arrow keys commit a class.
 * @param {{model: AnyModel, dom: Dom, onDom: Listeners["onDom"], commit: (index: number) => void}} context
 */
function createClassList({ model, dom, onDom, commit }) {

  function renderClassList() {
    const focusedIndex = activeElementOf(dom.classList)?.closest?.(".gcw-class")?.getAttribute("data-index");
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
    option.setAttribute("aria-label", `${name} (#${index})`);
    label.append(nameElement("gcw-class-name", name), element("span", "gcw-class-index", {}, `#${index}`));
    // After a what-if edit (issue 18) the kernel adds each class's probability before it.
    const before = /** @type {any} */ (entry).before;
    const percent = before == null ? formatPercent(probability) : `${formatPercent(Number(before))} → ${formatPercent(probability)}`;
    option.append(
      label,
      bar,
      element("span", "gcw-class-percent", {}, percent),
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
    const name = asArray(model.get("class_names"))[index] ?? `class ${index}`;
    dom.selected.replaceChildren("Showing: ", nameElement("gcw-selected-name", name), ` (#${index})`);
    dom.selected.title = `${name} (#${index})`;
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
    const active = activeElementOf(dom.classList);
    const current = options.findIndex((o) => o === active);
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

  onDom(dom.classList, "click", onClassClick);
  onDom(dom.classList, "keydown", onClassKey);
  return { render: renderClassList, sync: syncClassSelection };
}

/**
 * The class search box: matches as a listbox under it, arrow keys/Enter/Escape, a pick commits.
 * @param {{model: AnyModel, dom: Dom, onDom: Listeners["onDom"], commit: (index: number) => void, idPrefix: string}} context
 */
function createSearch({ model, dom, onDom, commit, idPrefix }) {
  /** @type {ClassMatch[]} */
  let matches = [];
  let activeMatch = -1;


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
        item.append(nameElement("gcw-result-name", match.name), element("span", "gcw-class-index", {}, `#${match.index}`));
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

  onDom(dom.search, "input", renderMatches);
  onDom(dom.search, "keydown", onSearchKey);
  onDom(dom.search, "blur", () => {
    dom.results.hidden = true;
    dom.search.setAttribute("aria-expanded", "false");
  });
  onDom(dom.search, "focus", () => dom.search.value && renderMatches());
  onDom(dom.results, "pointerdown", onResultPointerDown);
  /** New class names: the open result list follows them. */
  return { refresh: () => dom.search.value && renderMatches() };
}

/**
 * The menus (method, layer, colormap) and the opacity slider: each shows the kernel's value and sends
 * the user's choice; the colormap tables are decoded here and `table()` gives the current one.
 * @param {{model: AnyModel, dom: Dom, onModel: Listeners["onModel"], onDom: Listeners["onDom"], paint: () => void}} context
 */
function createMenus({ model, dom, onModel, onDom, paint }) {
  /** @type {Map<string, Uint8Array>} */
  let tables = new Map();

  function currentTable() {
    const name = String(model.get("colormap") ?? "");
    return tables.get(name) ?? tables.values().next().value ?? greyTable();
  }


  function renderMethods() {
    fillSelect(dom.method, asArray(model.get("methods")).map(String), String(model.get("method") ?? ""));
  }

  function renderLayers() {
    const layers = asArray(model.get("layers")).map(String);
    const current = String(model.get("layer") ?? "");
    fillSelect(dom.layer, layers, current);
    // The scrubber: candidate layers in the kernel's order (shallow to deep).
    dom.scrubber.max = String(Math.max(0, layers.length - 1));
    dom.scrubber.value = String(Math.max(0, layers.indexOf(current)));
    dom.scrubber.disabled = layers.length <= 1;
    dom.scrubber.setAttribute("aria-valuetext", `${current} (${layers.indexOf(current) + 1} of ${layers.length})`);
    dom.scrubberValue.textContent = `${layers.indexOf(current) + 1}/${layers.length}`;
  }

  function renderScale() {
    const mode = scaleMode(model.get("scale_mode"));
    dom.scale.replaceChildren(
      ...scaleOptions(model.get("scale")).map(([value, words]) => {
        const option = document.createElement("option");
        option.value = value;
        option.textContent = words;
        return option;
      }),
    );
    dom.scale.value = mode;
    drawColorbar();
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
    const signed = scaleMode(model.get("scale_mode")) === "signed";
    const pixels = signed
      ? colorizeDiverging(ramp.map((v) => v * 2 - 1), divergingTableOf(model.get("diverging_table")))
      : colorize(ramp, currentTable());
    context.putImageData(new ImageData(pixels, TABLE_SIZE, 1), 0, 0);
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

  onModel("change:methods", renderMethods);
  onModel("change:layers", renderLayers);
  onModel("change:colormap_tables", renderColormaps);
  onModel("change:colormap", recolour);
  onModel("change:opacity", renderOpacity);
  onDom(dom.method, "change", sendSelect("method", dom.method));
  onDom(dom.layer, "change", sendSelect("layer", dom.layer));
  onDom(dom.scale, "change", sendSelect("scale_mode", dom.scale));
  // A committed position (pointer released, or each arrow key) asks for that layer's maps.
  onDom(dom.scrubber, "change", () => {
    const layers = asArray(model.get("layers")).map(String);
    const layer = layers[Number(dom.scrubber.value)];
    if (layer === undefined || layer === model.get("layer")) return;
    model.set("layer", layer);
    model.save_changes();
  });
  onDom(dom.scrubber, "input", () => {
    const layers = asArray(model.get("layers")).map(String);
    dom.scrubberValue.textContent = `${Number(dom.scrubber.value) + 1}/${layers.length}`;
  });
  onModel("change:scale", renderScale);
  onDom(dom.colormap, "change", sendSelect("colormap", dom.colormap));
  onDom(dom.opacity, "input", onOpacityInput);
  return {
    table: currentTable,
    renderMethods,
    renderLayers,
    renderScale,
    renderAll() {
      renderScale();
      renderColormaps();
      renderOpacity();
      renderMethods();
      renderLayers();
    },
  };
}

/**
 * The hover readout over the overlay: the map's value (normalised and raw) and the image pixel under
 * the pointer; a pointer resting on the picture reads each new map (`reread()`).
 * @param {{model: AnyModel, dom: Dom, onDom: Listeners["onDom"],
 *   shown: () => ({map: CachedMap, values: Float32Array, width: number, height: number, factor?: number} | null)}} context
 */
function createHover({ model, dom, onDom, shown }) {
  /** Last pointer position over the picture, or null when the pointer is elsewhere. */
  /** @type {{clientX: number, clientY: number} | null} */
  let pointer = null;


  /** @param {{clientX: number, clientY: number}} event */
  function showReading(event) {
    pointer = { clientX: event.clientX, clientY: event.clientY };
    const drawn = shown();
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
    const raw = normalised * (drawn.factor ?? drawn.map.maximum);
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

  onDom(dom.stage, "pointermove", showReading);
  onDom(dom.stage, "pointerleave", onPointerLeave);
  return {
    reread() {
      if (pointer) showReading(pointer);
    },
  };
}

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
  /** Each cached map's values before ReLU (the signed scale mode), by the same key. */
  /** @type {Map<string, import("./lib/scale.js").SignedMap>} */
  const signedCache = new Map();
  /** What the overlay currently shows, kept so a colormap change only recolours. */
  /** @type {{map: CachedMap, values: Float32Array, width: number, height: number, signed?: boolean, factor?: number} | null} */
  let drawn = null;
  let display = fitDisplaySize(0, 0);
  /** @type {string | null} */
  let imageUrl = null;
  let disposed = false;

  const listeners = listenerBook(model);
  const { onModel, onDom } = listeners;

  const selection = () => ({
    classIndex: Number(model.get("selected_class")),
    method: String(model.get("method") ?? ""),
    layer: String(model.get("layer") ?? ""),
    contrast: /** @type {number | null} */ (model.get("contrast") ?? null),
  });
  const currentKey = () => {
    const s = selection();
    return mapKey(s.classIndex, s.method, s.layer, s.contrast);
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
    const signed = map && parseSigned(entry);
    if (map && signed) signedCache.set(map.key, signed);
  }

  function ingestTraits() {
    asArray(model.get("maps")).forEach(ingest);
    ingest(model.get("extra_map"));
  }

  /** Coalesce the several change events of one kernel message into one update. */
  const scheduleUpdate = coalesced(() => updateMap(), () => disposed);

  function currentError() {
    const status = /** @type {Status} */ (model.get("status") ?? {});
    if (status.state !== "error") return null;
    const s = selection();
    return statusMatches(status, s.classIndex, s.method, s.layer) ? String(status.message ?? "Error") : null;
  }

  function currentTable() {
    return menus.table();
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
    hover.reread(); // a pointer resting on the picture reads the new map
  }

  /** @param {CachedMap} map */
  function drawMap(map) {
    const started = performance.now();
    const mode = scaleMode(model.get("scale_mode"));
    const scaled = scaledValues(map, signedCache.get(map.key) ?? null, mode, Number(model.get("scale")?.maximum ?? 0));
    const values = upsampleBilinear(scaled.values, map.height, map.width, display.width, display.height);
    drawn = { map, values, width: display.width, height: display.height, signed: scaled.signed, factor: scaled.factor };
    paint();
    dom.overlay.dataset.drawMs = (performance.now() - started).toFixed(2);
    dom.overlay.dataset.scale = scaled.signed ? "signed" : mode === "signed" ? "per_map" : mode;
    dom.overlay.dataset.drawnMax = String(drawnMaximum(scaled.values));
    dom.colorbarMin.textContent = scaled.low;
    dom.colorbarMax.textContent = scaled.high;
  }

  /** Colour the drawn values with the current table (all a colormap change costs). The time of
   * the last draw is left in the canvas's data-draw-ms for benchmarks. */
  function paint() {
    if (!drawn) return;
    const started = performance.now();
    const context = dom.overlay.getContext("2d");
    if (!context) return;
    const pixels = drawn.signed
      ? colorizeDiverging(drawn.values, divergingTableOf(model.get("diverging_table")))
      : colorize(drawn.values, currentTable());
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
    // While computing, the kernel's progress ("scorecam: 32/64 masked passes") when it sent one.
    const progress = state === "computing" && status.message ? String(status.message) : "computing…";
    dom.status.textContent = state === "error" ? error : state === "computing" ? progress : "";
  }

  function renderStale() {
    dom.stale.hidden = !model.get("stale");
    dom.root.dataset.stale = String(Boolean(model.get("stale")));
  }

  function renderNotice() {
    const text = String(model.get("notice") ?? "");
    dom.notice.textContent = text;
    dom.notice.hidden = text === "";
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
    signedCache.clear();
    drawn = null;
    dom.overlay.getContext("2d")?.clearRect(0, 0, dom.overlay.width, dom.overlay.height);
    dom.colorbarMax.textContent = "–";
    ingestTraits();
    resizeStage();
    scheduleUpdate();
  }

  function renderNote() {
    const text = String(model.get("image_note") ?? "");
    dom.note.textContent = text;
    dom.note.hidden = text === "";
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

  // --- wiring ----------------------------------------------------------------------------------

  const classes = createClassList({ model, dom, onDom, commit });
  const search = createSearch({ model, dom, onDom, commit, idPrefix });
  const menus = createMenus({ model, dom, onModel, onDom, paint });
  const hover = createHover({ model, dom, onDom, shown: () => drawn });

  onModel("change:image", renderImage);
  onModel("change:image_size", resizeStage);
  onModel("change:image_note", renderNote);
  onModel("change:maps", () => {
    asArray(model.get("maps")).forEach(ingest);
    scheduleUpdate();
  });
  onModel("change:extra_map", () => {
    ingest(model.get("extra_map"));
    scheduleUpdate();
  });
  onModel("change:selected_class", () => {
    classes.sync();
    scheduleUpdate();
  });
  onModel("change:method", () => {
    menus.renderMethods();
    scheduleUpdate();
  });
  onModel("change:layer", () => {
    menus.renderLayers();
    scheduleUpdate();
  });
  onModel("change:status", scheduleUpdate);
  // A new scale mode or common maximum: the same map drawn again on its new scale.
  const redraw = () => {
    if (drawn) drawMap(drawn.map);
    scheduleUpdate();
  };
  onModel("change:scale_mode", () => {
    menus.renderScale();
    redraw();
  });
  onModel("change:scale", redraw);
  onModel("change:stale", renderStale);
  onModel("change:notice", renderNotice);
  onModel("change:top_classes", classes.render);
  onModel("change:class_names", () => {
    classes.render();
    search.refresh();
  });

  onDom(dom.image, "load", resizeStage);
  onDom(dom.refresh, "click", () => model.send?.({ type: "refresh" }));

  // The trust panel (its own section below): a button in the controls, the panel under both columns.
  const trust = createTrustSection({
    model, onModel, onDom, image: dom.image, currentTable, isDisposed: () => disposed, idPrefix,
  });
  dom.controls.append(trust.toggle);
  dom.root.append(trust.panel);
  const steps = createStepsSection({
    model, onModel, onDom, image: dom.image, currentTable,
    divergingTable: () => divergingTableOf(model.get("diverging_table")), isDisposed: () => disposed, idPrefix,
  });
  dom.controls.append(steps.toggle);
  dom.root.append(steps.panel);

  // The what-if brush (lib/brush.js): the page sends strokes, the kernel answers with the edited
  // picture (as `image`), the probabilities before -> after and `edit_state`.
  const brush = createBrush({
    fills: asArray(model.get("edit_fills")).map(String),
    onDom,
    send: (edit) => {
      model.set("edit", edit);
      model.save_changes();
    },
  });
  brush.attach(dom.stage);
  dom.controls.append(brush.controls);
  onModel("change:edit_state", () => brush.answered(model.get("edit_state")));
  onModel("change:edit", () => brush.adopt(model.get("edit")));

  menus.renderAll();
  classes.render();
  renderNote();
  renderStale();
  renderNotice();
  renderImage(); // also ingests maps and schedules the first draw

  return () => {
    disposed = true;
    listeners.removeAll();
    if (imageUrl) URL.revokeObjectURL(imageUrl);
    imageUrl = null;
    cache.clear();
    signedCache.clear();
    trust.dispose();
    steps.dispose();
    dom.root.remove();
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
