// @ts-check
/**
 * Misclassification explorer front end: the confusion matrix, the filters and one page of the
 * gallery. The kernel sends counts and one PNG sprite per page; this module lays them out and turns
 * clicks into trait changes (filters, page, selected). The detail maps are ordinary Grad-CAM widgets
 * composed next to this one by the kernel (gradcam_widget/explore.py). On an audit table the kernel
 * also sends the orders it can sort by and, for a chosen confusion cell, that cell's mean stored map
 * (numbers); this module only colours that map. Only one page of rows ever reaches the browser.
 *
 * The kernel inlines the local imports (gradcam_widget/frontend.py; anywidget loads `_esm` from a
 * Blob URL). Pure helpers are named exports tested with `node --test`; nothing touches `document`
 * until `render` runs. User strings (class names) only ever go in via textContent or attributes.
 */

import { asArray, element, listenerBook, suppressNotebookShortcuts } from "./lib/dom.js";
import { colorize, decodeBytes, decodeFloat32, formatPercent, greyTable, upsampleBilinear } from "./lib/maps.js";

/**
 * @typedef {{filter_status: string, filter_true: number, filter_pred: number, page: number,
 *   sort_by?: string, min_score?: number}} Filters
 */
/**
 * @typedef {object} CellMap  A confusion cell's mean stored map, as the kernel sends it.
 * @property {number} true
 * @property {number} pred
 * @property {number} count
 * @property {number} [height]
 * @property {number} [width]
 * @property {any} [values]  float32 little-endian, row-major, in [0, 1]
 * @property {number} [peak]
 * @property {any} [table]  768-byte RGB colour table
 * @property {string} [message]  why there is no map
 */
/**
 * @typedef {object} Gallery  One page as the kernel sends it, tagged with the request it answers.
 * @property {string} status
 * @property {number} true
 * @property {number} pred
 * @property {number} page
 * @property {string} [sort]
 * @property {number} [min]
 * @property {number} total
 * @property {number} pages
 * @property {number[]} indices
 * @property {number[]} labels
 * @property {number[]} predicted
 * @property {number[]} confidence
 * @property {any} sprite
 * @property {number} thumb
 * @property {number} columns
 */

export const STATUSES = ["wrong", "correct", "all"];
/** Side of the drawn mean map of a confusion cell, in CSS pixels. */
export const CELL_MAP_SIDE = 112;
const STATUS_TEXT = { wrong: "Wrong only", correct: "Correct only", all: "All" };

// ---------------------------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------------------------

/**
 * Identity of a gallery request: a reply is drawn only when its key equals the current filters'.
 * @param {string} status @param {number} trueClass @param {number} predClass @param {number} page
 */
export function requestKey(status, trueClass, predClass, page) {
  return JSON.stringify([String(status), Number(trueClass), Number(predClass), Number(page)]);
}

/** @param {Filters} filters */
export function filtersKey(filters) {
  return requestKey(filters.filter_status, filters.filter_true, filters.filter_pred, filters.page);
}

/**
 * Whether a kernel reply answers the current filters (stale replies are dropped).
 * @param {Partial<Gallery> | null | undefined} gallery
 * @param {Filters} filters
 */
export function galleryMatches(gallery, filters) {
  if (!gallery || typeof gallery !== "object" || !Array.isArray(gallery.indices)) return false;
  if (filters.sort_by !== undefined && String(gallery.sort ?? "") !== String(filters.sort_by)) return false;
  if (filters.min_score !== undefined && Number(gallery.min ?? 0) !== Number(filters.min_score)) return false;
  return requestKey(/** @type {string} */ (gallery.status), Number(gallery.true), Number(gallery.pred),
    Number(gallery.page)) === filtersKey(filters);
}

/** What each audit order ranks first (the gallery heading and the sort menu). */
export const SORT_TEXT = {
  mistakenness: "most mistaken first (1 − p(label))",
  hardness: "hardest first (entropy)",
  confidence: "most confident first",
  margin: "smallest margin first",
  energy_outside: "most energy outside the box first",
};

/** @param {string} sort */
export function sortText(sort) {
  return SORT_TEXT[/** @type {keyof SORT_TEXT} */ (sort)] ?? sort;
}

/**
 * Whether a mean map from the kernel belongs to the current filters' confusion cell.
 * @param {Partial<CellMap> | null | undefined} cellMap @param {Filters} filters
 */
export function cellMapMatches(cellMap, filters) {
  if (!cellMap || typeof cellMap !== "object" || filters.filter_true < 0 || filters.filter_pred < 0) return false;
  return Number(cellMap.true) === filters.filter_true && Number(cellMap.pred) === filters.filter_pred;
}

/**
 * Filters after a click on confusion cell (t, p): show exactly that cell; a second click on the
 * active cell goes back to all mistakes.
 * @param {Filters} filters @param {number} t @param {number} p
 * @returns {Filters}
 */
export function filtersForCell(filters, t, p) {
  if (isActiveCell(filters, t, p)) return { filter_status: "wrong", filter_true: -1, filter_pred: -1, page: 0 };
  return { filter_status: "all", filter_true: t, filter_pred: p, page: 0 };
}

/** @param {Filters} filters @param {number} t @param {number} p */
export function isActiveCell(filters, t, p) {
  return filters.filter_status === "all" && filters.filter_true === t && filters.filter_pred === p;
}

/**
 * Top-left pixel of thumbnail `position` in a sprite of `columns` columns of `size`-pixel cells.
 * @param {number} position @param {number} columns @param {number} size
 */
export function spriteOffset(position, columns, size) {
  const cols = Math.max(1, Math.floor(columns));
  return { x: (position % cols) * size, y: Math.floor(position / cols) * size };
}

/**
 * Share of a row's images in one cell, in [0, 1] (0 for an empty row): the cell's colour strength.
 * @param {number} count @param {number} rowTotal
 */
export function cellShade(count, rowTotal) {
  if (!(rowTotal > 0) || !(count > 0)) return 0;
  return Math.min(1, count / rowTotal);
}

/** @param {number[][]} matrix */
export function rowTotals(matrix) {
  return matrix.map((row) => row.reduce((sum, v) => sum + Number(v), 0));
}

/**
 * "61–120 of 143" (or "none" for an empty selection).
 * @param {number} page @param {number} pageSize @param {number} total
 */
export function rangeLabel(page, pageSize, total) {
  if (!(total > 0)) return "none";
  const first = page * pageSize + 1;
  const last = Math.min(total, (page + 1) * pageSize);
  return `${first}–${last} of ${total}`;
}

/** @param {{total?: number, wrong?: number}} summary */
export function summaryText(summary) {
  const total = Number(summary?.total ?? 0);
  const wrong = Number(summary?.wrong ?? 0);
  const share = total > 0 ? formatPercent(wrong / total) : "0.0%";
  return `${total} images · ${total - wrong} correct · ${wrong} wrong (${share})`;
}

/**
 * Tooltip of a thumbnail.
 * @param {string[]} names @param {number} index @param {number} t @param {number} p @param {number} confidence
 */
export function thumbTitle(names, index, t, p, confidence) {
  const name = (/** @type {number} */ k) => names[k] ?? `class ${k}`;
  const verdict = t === p ? "correct" : `true ${name(t)}`;
  return `#${index}: predicted ${name(p)} (${formatPercent(confidence)}), ${verdict}`;
}

// ---------------------------------------------------------------------------------------------
// The view
// ---------------------------------------------------------------------------------------------

/**
 * @param {HTMLSelectElement} select @param {Array<[string, string]>} options value/label pairs @param {string} current
 */
function fillOptionPairs(select, options, current) {
  select.replaceChildren(...options.map(([value, label]) => {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = label;
    return option;
  }));
  select.value = current;
}

/**
 * @param {any} model
 * @param {HTMLElement} el
 */
function createView(model, el) {
  const root = element("div", "gcx-root", { "data-testid": "gcx-root", "data-ready": "false" });
  const summary = element("div", "gcx-summary", { "data-testid": "gcx-summary" });
  const matrixBox = element("div", "gcx-matrix-box");
  const galleryBox = element("div", "gcx-gallery-box");
  const body = element("div", "gcx-body");
  const side = element("div", "gcx-side");
  body.append(side, galleryBox);
  root.append(summary, body);

  const statusSelect = /** @type {HTMLSelectElement} */ (suppressNotebookShortcuts(element("select", "gcx-select", { "data-testid": "gcx-status" })));
  const trueSelect = /** @type {HTMLSelectElement} */ (suppressNotebookShortcuts(element("select", "gcx-select", { "data-testid": "gcx-true" })));
  const predSelect = /** @type {HTMLSelectElement} */ (suppressNotebookShortcuts(element("select", "gcx-select", { "data-testid": "gcx-pred" })));
  const sortSelect = /** @type {HTMLSelectElement} */ (suppressNotebookShortcuts(element("select", "gcx-select", { "data-testid": "gcx-sort" })));
  const minInput = /** @type {HTMLInputElement} */ (suppressNotebookShortcuts(element("input", "gcx-select gcx-min", {
    "data-testid": "gcx-min", type: "number", min: "0", max: "1", step: "0.05",
    title: "keep the images whose score for this order is at least this (0 keeps all)",
  })));
  const filterRow = element("div", "gcx-filters");
  const auditRow = element("div", "gcx-filters gcx-audit-filters", { "data-testid": "gcx-audit-filters" });
  for (const [row, text, control] of /** @type {Array<[HTMLElement, string, HTMLElement]>} */ ([
    [filterRow, "Show", statusSelect], [filterRow, "True", trueSelect], [filterRow, "Predicted", predSelect],
    [auditRow, "Sort", sortSelect], [auditRow, "Score ≥", minInput]])) {
    const label = element("label", "gcx-field");
    label.append(element("span", "gcx-field-label", {}, text), control);
    row.append(label);
  }
  const cellMapBox = element("div", "gcx-cellmap", { "data-testid": "gcx-cell-map", "data-state": "none" });
  const cellMapCaption = element("div", "gcx-cellmap-caption", { "data-testid": "gcx-cell-map-caption" });
  const cellMapCanvas = /** @type {HTMLCanvasElement} */ (element("canvas", "gcx-cellmap-canvas", {
    "data-testid": "gcx-cell-map-canvas", width: String(CELL_MAP_SIDE), height: String(CELL_MAP_SIDE),
  }));
  cellMapBox.append(element("div", "gcx-heading", {}, "Mean map of the chosen cell"), cellMapCaption, cellMapCanvas);
  side.append(matrixBox, cellMapBox);
  const gallery = element("div", "gcx-gallery", { "data-testid": "gcx-gallery", role: "list", "data-state": "pending" });
  const prev = /** @type {HTMLButtonElement} */ (suppressNotebookShortcuts(element("button", "gcx-button", { "data-testid": "gcx-prev", type: "button" }, "‹ Prev")));
  const next = /** @type {HTMLButtonElement} */ (suppressNotebookShortcuts(element("button", "gcx-button", { "data-testid": "gcx-next", type: "button" }, "Next ›")));
  const range = element("span", "gcx-range", { "data-testid": "gcx-range", "aria-live": "polite" });
  const pager = element("div", "gcx-pager");
  pager.append(prev, range, next);
  const galleryHeading = element("div", "gcx-heading", { "data-testid": "gcx-gallery-heading" });
  galleryBox.append(galleryHeading, filterRow, auditRow, gallery, pager);
  el.append(root);

  /** @type {string | null} */
  let spriteUrl = null;
  let disposed = false;
  const listeners = listenerBook(model);
  const { onModel, onDom } = listeners;

  /** @returns {Filters} */
  const filters = () => ({
    filter_status: String(model.get("filter_status")),
    filter_true: Number(model.get("filter_true")),
    filter_pred: Number(model.get("filter_pred")),
    page: Number(model.get("page")),
    sort_by: String(model.get("sort_by") ?? ""),
    min_score: Number(model.get("min_score") ?? 0),
  });
  const sorts = () => asArray(model.get("sorts")).map(String);
  const names = () => asArray(model.get("class_names")).map(String);

  /** Write several traits in one message, so the kernel answers once. @param {Record<string, any>} values */
  function send(values) {
    for (const [name, value] of Object.entries(values)) model.set(name, value);
    model.save_changes();
  }

  // --- matrix ----------------------------------------------------------------------------------

  function renderMatrix() {
    const matrix = asArray(model.get("matrix"));
    const classNames = names();
    if (matrix.length === 0) return renderPairs();
    const totals = rowTotals(matrix);
    const table = element("table", "gcx-matrix", { "data-testid": "gcx-matrix" });
    const head = element("tr", "");
    head.append(element("th", "gcx-corner", { scope: "col", title: "rows: true class, columns: predicted class" }, "true ↓ pred →"));
    classNames.forEach((name) => head.append(element("th", "gcx-col", { scope: "col", title: `predicted ${name}` }, name)));
    const thead = element("thead", "");
    thead.append(head);
    const tbody = element("tbody", "");
    matrix.forEach((row, t) => {
      const tr = element("tr", "");
      tr.append(element("th", "gcx-row", { scope: "row", title: `true ${classNames[t] ?? t}` }, classNames[t] ?? String(t)));
      asArray(row).forEach((count, p) => {
        const td = element("td", "");
        const cell = suppressNotebookShortcuts(element("button", `gcx-cell ${t === p ? "gcx-diagonal" : "gcx-off"}`, {
          type: "button",
          "data-testid": `gcx-cell-${t}-${p}`,
          "data-true": String(t),
          "data-pred": String(p),
          "data-count": String(count),
          title: `true ${classNames[t] ?? t}, predicted ${classNames[p] ?? p}: ${count}`,
        }, String(count)));
        cell.style.setProperty("--gcx-shade", String(cellShade(Number(count), totals[t])));
        if (Number(count) === 0) cell.classList.add("gcx-zero");
        td.append(cell);
        tr.append(td);
      });
      tbody.append(tr);
    });
    table.append(thead, tbody);
    matrixBox.replaceChildren(element("div", "gcx-heading", {}, "Confusion matrix — click a cell to filter"), table);
    markActiveCell();
  }

  /** Too many classes for a table: the most frequent confusions as a clickable list. */
  function renderPairs() {
    const classNames = names();
    const list = element("ol", "gcx-pairs", { "data-testid": "gcx-pairs" });
    for (const pair of asArray(model.get("pairs"))) {
      const item = element("li", "");
      const t = Number(pair.true);
      const p = Number(pair.pred);
      item.append(suppressNotebookShortcuts(element("button", "gcx-cell gcx-pair", {
        type: "button", "data-testid": `gcx-cell-${t}-${p}`, "data-true": String(t), "data-pred": String(p),
      }, `${classNames[t] ?? t} → ${classNames[p] ?? p}: ${pair.count}`)));
      list.append(item);
    }
    matrixBox.replaceChildren(element("div", "gcx-heading", {}, "Most frequent confusions (true → predicted)"), list);
    markActiveCell();
  }

  function markActiveCell() {
    const f = filters();
    for (const cell of /** @type {NodeListOf<HTMLElement>} */ (matrixBox.querySelectorAll(".gcx-cell"))) {
      cell.setAttribute("aria-pressed", String(isActiveCell(f, Number(cell.dataset.true), Number(cell.dataset.pred))));
    }
  }

  /** @param {MouseEvent} event */
  function onMatrixClick(event) {
    const cell = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (event.target).closest(".gcx-cell"));
    if (!cell) return;
    send(filtersForCell(filters(), Number(cell.dataset.true), Number(cell.dataset.pred)));
  }

  // --- filters ---------------------------------------------------------------------------------

  function renderFilters() {
    const f = filters();
    fillOptionPairs(statusSelect, STATUSES.map((s) => [s, STATUS_TEXT[/** @type {keyof STATUS_TEXT} */ (s)]]), f.filter_status);
    /** @type {Array<[string, string]>} */
    const classes = [["-1", "any"], ...names().map((name, k) => /** @type {[string, string]} */ ([String(k), name]))];
    fillOptionPairs(trueSelect, classes, String(f.filter_true));
    fillOptionPairs(predSelect, classes, String(f.filter_pred));
    const orders = sorts();
    auditRow.hidden = orders.length === 0;
    fillOptionPairs(sortSelect, orders.map((s) => /** @type {[string, string]} */ ([s, s])), String(f.sort_by));
    minInput.value = String(f.min_score);
    renderHeading();
  }

  function renderHeading() {
    const sort = String(model.get("sort_by") ?? "");
    const order = sort ? sortText(sort) : "most confident mistakes first";
    galleryHeading.textContent = `Gallery (${order}) — click an image`;
  }

  function syncFilterValues() {
    const f = filters();
    statusSelect.value = f.filter_status;
    trueSelect.value = String(f.filter_true);
    predSelect.value = String(f.filter_pred);
    sortSelect.value = String(f.sort_by);
    if (Number(minInput.value) !== f.min_score) minInput.value = String(f.min_score);
    renderHeading();
    markActiveCell();
  }

  // --- mean map of the chosen confusion cell (audit tables) --------------------------------------

  function renderCellMap() {
    const cellMap = /** @type {CellMap} */ (model.get("cell_map") ?? {});
    const f = filters();
    if (f.filter_true < 0 || f.filter_pred < 0 || sorts().length === 0) {
      cellMapBox.hidden = true;
      cellMapBox.dataset.state = "none";
      return;
    }
    cellMapBox.hidden = false;
    const classNames = names();
    const cell = `true ${classNames[f.filter_true] ?? f.filter_true} → predicted ${classNames[f.filter_pred] ?? f.filter_pred}`;
    if (!cellMapMatches(cellMap, f)) {
      cellMapBox.dataset.state = "pending";
      cellMapCaption.textContent = `${cell}: computing…`;
      return;
    }
    Object.assign(cellMapBox.dataset, { true: String(cellMap.true), pred: String(cellMap.pred) });
    if (cellMap.values == null) {
      cellMapBox.dataset.state = "message";
      cellMapCanvas.hidden = true;
      cellMapCaption.textContent = `${cell}: ${cellMap.message ?? "no map"}`;
      return;
    }
    const h = Number(cellMap.height);
    const w = Number(cellMap.width);
    const values = upsampleBilinear(decodeFloat32(cellMap.values), h, w, CELL_MAP_SIDE, CELL_MAP_SIDE);
    const table = decodeBytes(cellMap.table);
    const pixels = colorize(values, table.byteLength === 768 ? table : greyTable());
    const context = cellMapCanvas.getContext("2d");
    if (context) context.putImageData(new ImageData(pixels, CELL_MAP_SIDE, CELL_MAP_SIDE), 0, 0);
    cellMapCanvas.hidden = false;
    cellMapCaption.textContent = `${cell}: mean of ${cellMap.count} stored maps (${h}×${w}), peak ${Number(cellMap.peak).toFixed(2)} on the 0–1 scale`;
    cellMapBox.dataset.state = "ready";
  }

  // --- gallery ---------------------------------------------------------------------------------

  function renderGallery() {
    const reply = /** @type {Gallery} */ (model.get("gallery") ?? {});
    const current = filters();
    if (!galleryMatches(reply, current)) {
      gallery.dataset.state = "pending"; // a newer request is on its way; keep the old page dimmed
      gallery.classList.add("gcx-pending");
      return;
    }
    if (spriteUrl) URL.revokeObjectURL(spriteUrl);
    const bytes = decodeBytes(reply.sprite);
    spriteUrl = bytes.byteLength ? URL.createObjectURL(new Blob([bytes], { type: "image/png" })) : null;
    const classNames = names();
    const size = Number(reply.thumb);
    const thumbs = asArray(reply.indices).map((index, i) => {
      const t = Number(reply.labels[i]);
      const p = Number(reply.predicted[i]);
      const confidence = Number(reply.confidence[i]);
      const button = suppressNotebookShortcuts(element("button", `gcx-thumb ${t === p ? "gcx-correct" : "gcx-wrong"}`, {
        type: "button",
        role: "listitem",
        "data-testid": `gcx-thumb-${index}`,
        "data-index": String(index),
        "data-true": String(t),
        "data-pred": String(p),
        title: thumbTitle(classNames, Number(index), t, p, confidence),
        "aria-pressed": "false",
      }));
      const picture = element("span", "gcx-thumb-img", { "aria-hidden": "true" });
      const offset = spriteOffset(i, Number(reply.columns), size);
      Object.assign(picture.style, {
        width: `${size}px`,
        height: `${size}px`,
        backgroundImage: spriteUrl ? `url("${spriteUrl}")` : "none",
        backgroundPosition: `-${offset.x}px -${offset.y}px`,
      });
      button.append(picture, element("span", "gcx-thumb-caption", {}, `${classNames[p] ?? p} ${formatPercent(confidence)}`));
      return button;
    });
    if (thumbs.length === 0) thumbs.push(element("div", "gcx-empty", {}, "No images match these filters."));
    gallery.replaceChildren(...thumbs);
    gallery.classList.remove("gcx-pending");
    Object.assign(gallery.dataset, {
      state: "ready",
      key: filtersKey(current),
      count: String(asArray(reply.indices).length),
      total: String(reply.total),
    });
    range.textContent = rangeLabel(current.page, Number(model.get("page_size")), Number(reply.total));
    prev.disabled = current.page <= 0;
    next.disabled = current.page >= Number(reply.pages) - 1;
    markSelected();
    root.dataset.ready = "true";
  }

  function markSelected() {
    const selected = model.get("selected");
    for (const thumb of /** @type {NodeListOf<HTMLElement>} */ (gallery.querySelectorAll(".gcx-thumb"))) {
      thumb.setAttribute("aria-pressed", String(selected != null && Number(thumb.dataset.index) === Number(selected)));
    }
    if (selected == null) delete root.dataset.selected;
    else root.dataset.selected = String(selected);
  }

  /** @param {MouseEvent} event */
  function onGalleryClick(event) {
    const thumb = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (event.target).closest(".gcx-thumb"));
    if (thumb) send({ selected: Number(thumb.dataset.index) });
  }

  /** @param {number} step */
  const turnPage = (step) => () => send({ page: Math.max(0, filters().page + step) });

  // --- wiring ----------------------------------------------------------------------------------

  onModel("change:matrix", renderMatrix);
  onModel("change:pairs", renderMatrix);
  onModel("change:class_names", () => { renderMatrix(); renderFilters(); renderGallery(); });
  onModel("change:summary", () => { summary.textContent = summaryText(model.get("summary")); });
  onModel("change:gallery", renderGallery);
  for (const name of ["filter_status", "filter_true", "filter_pred", "page"]) {
    onModel(`change:${name}`, () => { syncFilterValues(); renderGallery(); renderCellMap(); });
  }
  onModel("change:selected", markSelected);
  onModel("change:cell_map", renderCellMap);
  onModel("change:sorts", () => { renderFilters(); renderCellMap(); });
  for (const name of ["sort_by", "min_score"]) {
    onModel(`change:${name}`, () => { syncFilterValues(); renderGallery(); });
  }
  onDom(matrixBox, "click", onMatrixClick);
  onDom(gallery, "click", onGalleryClick);
  onDom(statusSelect, "change", () => send({ filter_status: statusSelect.value, page: 0 }));
  onDom(trueSelect, "change", () => send({ filter_true: Number(trueSelect.value), page: 0 }));
  onDom(predSelect, "change", () => send({ filter_pred: Number(predSelect.value), page: 0 }));
  onDom(sortSelect, "change", () => send({ sort_by: sortSelect.value, page: 0 }));
  function applyMinScore() {
    const value = Number(minInput.value);
    if (!Number.isFinite(value) || value < 0 || value > 1) {
      minInput.value = String(filters().min_score); // out of range: back to the kernel's value
    } else if (value !== filters().min_score) {
      send({ min_score: value, page: 0 });
    }
  }
  onDom(minInput, "change", applyMinScore);
  onDom(minInput, "keydown", (/** @type {KeyboardEvent} */ event) => { if (event.key === "Enter") applyMinScore(); });
  onDom(prev, "click", turnPage(-1));
  onDom(next, "click", turnPage(1));

  summary.textContent = summaryText(model.get("summary"));
  renderMatrix();
  renderFilters();
  renderGallery();
  renderCellMap();

  return () => {
    if (disposed) return;
    disposed = true;
    listeners.removeAll();
    if (spriteUrl) URL.revokeObjectURL(spriteUrl);
    root.remove();
  };
}

/** anywidget entry point. @param {{model: any, el: HTMLElement}} context */
function render({ model, el }) {
  return createView(model, el);
}

export default { render };
