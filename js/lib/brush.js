// @ts-check
/**
 * The what-if brush's front end, shared by gradcam.js and compare.js: controls (on/off, size, fill,
 * undo, clear), a preview canvas on each picture it is attached to, and the edit sent to the kernel.
 *
 * The page only says *where* it painted: every stroke's points as fractions of the picture's width
 * and height, its radius as a fraction of the width, the fill's name and a sequence number. The
 * kernel fills the pixels, rescores and sends the edited picture back (gradcam_widget/whatif.py);
 * the preview is shown until the kernel's answer for the newest edit arrives. The whole edit is sent
 * each time, so the newest message alone says what the picture is (the last edit wins).
 */

import { element, fillSelect, labelled, suppressNotebookShortcuts } from "./dom.js";

/** Brush diameter range in CSS pixels of the picture on screen. */
export const BRUSH_MIN = 2;
export const BRUSH_MAX = 60;
export const BRUSH_DEFAULT = 16;

/**
 * @typedef {{points: number[][], radius: number}} Stroke
 * @typedef {{strokes: Stroke[], fill: string, seq: number}} Edit
 */

/**
 * A pointer position inside a box as fractions of its size (not clamped: a stroke may leave the
 * picture; the kernel paints only what falls on it).
 * @param {number} offsetX
 * @param {number} offsetY
 * @param {number} boxWidth
 * @param {number} boxHeight
 */
export function fractionAt(offsetX, offsetY, boxWidth, boxHeight) {
  const round = (/** @type {number} */ v) => Math.round(v * 1e5) / 1e5;
  return [round(offsetX / boxWidth), round(offsetY / boxHeight)];
}

/**
 * The edit message: copies of the strokes, the fill and the sequence number.
 * @param {Stroke[]} strokes
 * @param {string} fill
 * @param {number} seq
 * @returns {Edit}
 */
export function editMessage(strokes, fill, seq) {
  return { strokes: strokes.map((s) => ({ points: s.points.map((p) => [p[0], p[1]]), radius: s.radius })), fill, seq };
}

/**
 * Whether the kernel's edit_state answers the newest edit this page sent.
 * @param {any} state
 * @param {number} seq
 */
export function answersEdit(state, seq) {
  return Boolean(state) && Number(state.seq) === seq && state.state !== "computing";
}

/**
 * Brush controls and the pictures they paint on.
 * @param {{fills: string[], send: (edit: Edit) => void, onDom: (target: EventTarget, type: string, callback: (event: any) => void) => void}} context
 */
export function createBrush({ fills, send, onDom }) {
  /** @type {Stroke[]} */
  let strokes = [];
  let seq = 0;
  let enabled = false;
  /** @type {Stroke | null} */
  let drawing = null;
  /** @type {HTMLCanvasElement[]} */
  const previews = [];

  const toggle = element("button", "gcw-brush-toggle", { type: "button", "data-testid": "gcw-brush-toggle", "aria-pressed": "false" }, "Brush");
  const size = /** @type {HTMLInputElement} */ (
    element("input", "gcw-brush-size", { type: "range", min: String(BRUSH_MIN), max: String(BRUSH_MAX), step: "1", "data-testid": "gcw-brush-size" })
  );
  size.value = String(BRUSH_DEFAULT);
  const fill = /** @type {HTMLSelectElement} */ (element("select", "gcw-select", { "data-testid": "gcw-brush-fill" }));
  fillSelect(fill, fills, fills[0] ?? "blur");
  const undo = element("button", "gcw-brush-undo", { type: "button", "data-testid": "gcw-brush-undo" }, "Undo");
  const clear = element("button", "gcw-brush-clear", { type: "button", "data-testid": "gcw-brush-clear" }, "Clear");
  const state = element("div", "gcw-brush-state", { "data-testid": "gcw-brush-state", role: "status", "aria-live": "polite" });
  const buttons = element("div", "gcw-brush-buttons");
  buttons.append(toggle, undo, clear);
  const controls = element("div", "gcw-brush", { "data-testid": "gcw-brush" });
  controls.append(
    element("div", "gcw-heading", {}, "What if? Paint over the image"),
    buttons,
    labelled("Brush size", size),
    labelled("Fill", fill),
    state,
  );
  for (const control of [toggle, size, fill, undo, clear]) suppressNotebookShortcuts(control);

  function commit() {
    seq += 1;
    controls.dataset.seq = String(seq);
    controls.dataset.strokes = String(strokes.length);
    state.textContent = strokes.length ? "rescoring…" : "";
    send(editMessage(strokes, fill.value, seq));
    redraw();
  }

  function redraw() {
    for (const canvas of previews) {
      const context = canvas.getContext("2d");
      if (!context) continue;
      const rect = canvas.getBoundingClientRect();
      const width = Math.max(1, Math.round(rect.width));
      const height = Math.max(1, Math.round(rect.height));
      if (canvas.width !== width || canvas.height !== height) Object.assign(canvas, { width, height });
      context.clearRect(0, 0, width, height);
      const all = drawing ? [...strokes, drawing] : strokes;
      const shown = controls.dataset.answered === String(seq) && !drawing ? [] : all;
      context.fillStyle = "rgba(255, 0, 200, 0.45)";
      for (const stroke of shown) {
        const r = stroke.radius * width;
        context.beginPath();
        for (const [x, y] of stroke.points) {
          context.moveTo(x * width + r, y * height);
          context.arc(x * width, y * height, r, 0, 2 * Math.PI);
        }
        context.fill();
        if (stroke.points.length > 1) {
          context.strokeStyle = context.fillStyle;
          context.lineWidth = 2 * r;
          context.lineCap = "round";
          context.beginPath();
          stroke.points.forEach(([x, y], i) => (i ? context.lineTo(x * width, y * height) : context.moveTo(x * width, y * height)));
          context.stroke();
        }
      }
    }
  }

  /** @param {boolean} on */
  function setEnabled(on) {
    enabled = on;
    toggle.setAttribute("aria-pressed", String(on));
    for (const canvas of previews) canvas.classList.toggle("gcw-brush-on", on);
  }

  onDom(toggle, "click", () => setEnabled(!enabled));
  onDom(undo, "click", () => {
    if (strokes.length) {
      strokes = strokes.slice(0, -1);
      commit();
    }
  });
  onDom(clear, "click", () => {
    strokes = [];
    commit();
  });
  onDom(fill, "change", () => {
    if (strokes.length) commit();
  });

  return {
    controls,
    /**
     * Paint on this picture: a preview canvas over `stage` and its pointer events.
     * @param {HTMLElement} stage
     */
    attach(stage) {
      const canvas = /** @type {HTMLCanvasElement} */ (element("canvas", "gcw-brush-preview", { "aria-hidden": "true", "data-testid": "gcw-brush-preview" }));
      stage.append(canvas);
      previews.push(canvas);
      /** @param {PointerEvent} event */
      const point = (event) => {
        const box = canvas.getBoundingClientRect();
        return { at: fractionAt(event.clientX - box.left, event.clientY - box.top, box.width, box.height), width: box.width };
      };
      onDom(canvas, "pointerdown", (/** @type {PointerEvent} */ event) => {
        if (!enabled || event.button !== 0) return;
        event.preventDefault();
        canvas.setPointerCapture?.(event.pointerId);
        const { at, width } = point(event);
        drawing = { points: [at], radius: Number(size.value) / 2 / Math.max(1, width) };
        redraw();
      });
      onDom(canvas, "pointermove", (/** @type {PointerEvent} */ event) => {
        if (!drawing) return;
        drawing.points.push(point(event).at);
        redraw();
      });
      const finish = () => {
        if (!drawing) return;
        strokes = [...strokes, drawing];
        drawing = null;
        commit();
      };
      onDom(canvas, "pointerup", finish);
      onDom(canvas, "pointercancel", finish);
      canvas.classList.toggle("gcw-brush-on", enabled);
    },
    /**
     * The kernel's answer (edit_state): the preview goes once the newest edit is answered.
     * @param {any} editState
     */
    answered(editState) {
      if (!answersEdit(editState, seq)) return;
      controls.dataset.answered = String(seq);
      state.textContent = editState.state === "error" ? String(editState.message ?? "error") : "";
      state.dataset.state = String(editState.state);
      redraw();
    },
    /** The edit the kernel holds (set from Python): adopt its strokes. @param {any} edit */
    adopt(edit) {
      if (!edit || !Array.isArray(edit.strokes) || Number(edit.seq) === seq) return;
      strokes = edit.strokes;
      if (typeof edit.fill === "string") fill.value = edit.fill;
      if (Number.isFinite(Number(edit.seq))) seq = Number(edit.seq);
      redraw();
    },
    redraw,
  };
}
