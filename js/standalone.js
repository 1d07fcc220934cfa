// @ts-check
/**
 * A saved widget page (GradCAMWidget.save_html) runs the real front end, gradcam.js, against a
 * small in-page model instead of a kernel. The model implements the part of anywidget's model API
 * the front end uses (get, set, on, off, save_changes, send) over the state saved with the page,
 * and answers requests as the kernel would, from what was computed before saving: the top-k maps
 * and every map computed on demand. A request for anything else shows the "needs the kernel"
 * message in place of the map (the widget stays usable). Nothing here reaches the network: the
 * front end is imported from a Blob URL, as anywidget does.
 */

/** Bytes travel in the saved JSON as {"$bytes": base64}; the front end receives DataViews, as from anywidget. */
const BYTES_KEY = "$bytes";

/**
 * Turn the saved JSON's {"$bytes": ...} leaves into DataViews.
 * @param {any} value
 * @returns {any}
 */
export function reviveBytes(value) {
  if (Array.isArray(value)) return value.map(reviveBytes);
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === BYTES_KEY) {
      const text = atob(String(value[BYTES_KEY]));
      const bytes = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
      return new DataView(bytes.buffer);
    }
    return Object.fromEntries(keys.map((k) => [k, reviveBytes(value[k])]));
  }
  return value;
}

/** @param {number} k @param {string} method @param {string} layer */
const keyOf = (k, method, layer) => `${k}|${method}|${layer}`;

/**
 * What a saved page says in place of the map when a choice was not computed before saving.
 * @param {string} what
 */
export function kernelNeeded(what) {
  return `${what} was not computed before this page was saved: it needs the Python kernel. ` +
    "Open the notebook and run it to explore further; here, the choices computed before saving " +
    "(the top classes, colormaps, opacity) still work.";
}

/**
 * The in-page model of one saved widget.
 * @param {{state: Record<string, any>, maps: any[], trust: any[]}} saved  state: the widget's traits;
 *   maps: every map computed before saving (as the kernel sends them); trust: finished trust reports.
 */
export function savedModel(saved) {
  /** @type {Record<string, any>} */
  const state = { ...saved.state };
  /** @type {Map<string, Set<Function>>} */
  const listeners = new Map();
  /** @type {Set<string>} */
  const changed = new Set();
  const maps = new Map();
  // The maps shown at saving last, so the top-k entries are the very objects in `state.maps`.
  for (const m of [...saved.maps, ...(Array.isArray(state.maps) ? state.maps : [])]) {
    maps.set(keyOf(Number(m.class_index), String(m.method), String(m.layer)), m);
  }
  const reports = new Map(saved.trust.map((r) => [keyOf(Number(r.class_index), String(r.method), String(r.layer)), r]));
  const topIndices = () => (Array.isArray(state.top_classes) ? state.top_classes : []).map((t) => Number(t.index));

  /** @param {string} name @param {any} value */
  function update(name, value) {
    state[name] = value;
    for (const callback of [...(listeners.get(`change:${name}`) ?? [])]) callback(model, value);
    for (const callback of [...(listeners.get("change") ?? [])]) callback(model);
  }

  /** @param {string} state_ @param {string} message @param {number} k @param {string} method @param {string} layer */
  const status = (state_, message, k, method, layer) => ({ state: state_, message, class_index: k, method, layer });

  /** Answer a selection as GradCAMWidget._show does, from the saved maps only. */
  function answerSelection() {
    const k = Number(state.selected_class);
    const method = String(state.method);
    const layer = String(state.layer);
    const top = topIndices().map((c) => maps.get(keyOf(c, method, layer)));
    if (top.some((m) => m === undefined)) {
      update("status", status("error", kernelNeeded(`The ${method} map of layer ${layer}`), k, method, layer));
      return;
    }
    const shown = Array.isArray(state.maps) ? state.maps : [];
    if (shown.length !== top.length || shown.some((m, i) => m !== top[i])) update("maps", top);
    if (!topIndices().includes(k)) {
      const extra = maps.get(keyOf(k, method, layer));
      if (!extra) {
        const name = (Array.isArray(state.class_names) ? state.class_names[k] : undefined) ?? `class ${k}`;
        update("status", status("error", kernelNeeded(`The map of ${name} (#${k})`), k, method, layer));
        return;
      }
      update("extra_map", extra);
    }
    update("status", status("ready", "", k, method, layer));
  }

  /** The trust panel's report for the selection, when it was computed before saving. */
  function answerTrust() {
    if (!state.trust_open) return;
    const k = Number(state.selected_class);
    const method = String(state.method);
    const layer = String(state.layer);
    const report = reports.get(keyOf(k, method, layer));
    update("trust", report ?? {
      class_index: k, method, layer, state: "error", message: kernelNeeded("The trust report of this selection"),
      strip: [], strip_pending: [], difference: {}, faithfulness: {}, randomization: {},
    });
  }

  const model = {
    /** @param {string} name */
    get(name) {
      return state[name];
    },
    /** @param {string} name @param {any} value */
    set(name, value) {
      changed.add(name);
      update(name, value);
    },
    /** @param {string} name @param {Function} callback */
    on(name, callback) {
      if (!listeners.has(name)) listeners.set(name, new Set());
      listeners.get(name)?.add(callback);
    },
    /** @param {string} [name] @param {Function} [callback] */
    off(name, callback) {
      if (name === undefined) listeners.clear();
      else if (callback === undefined) listeners.delete(name);
      else listeners.get(name)?.delete(callback);
    },
    /** Send the changes to the "kernel": answered after the current task, as a reply would be. */
    save_changes() {
      const names = new Set(changed);
      changed.clear();
      queueMicrotask(() => {
        if (["selected_class", "method", "layer"].some((n) => names.has(n))) answerSelection();
        if (["selected_class", "method", "layer", "trust_open", "trust_scorecam"].some((n) => names.has(n))) answerTrust();
      });
    },
    /** Custom messages have no kernel to go to on a saved page. */
    send() {},
  };
  return model;
}

/**
 * Mount every saved widget of the page: the front end is imported once from a Blob URL.
 * @param {Document} doc
 */
export async function mountSavedPage(doc) {
  const data = JSON.parse(doc.getElementById("gcw-saved")?.textContent ?? "{}");
  const url = URL.createObjectURL(new Blob([String(data.esm ?? "")], { type: "text/javascript" }));
  const frontEnd = (await import(url)).default;
  const models = [];
  for (const [i, widget] of (data.widgets ?? []).entries()) {
    const el = doc.getElementById(`gcw-saved-${i}`);
    if (!el) continue;
    const model = savedModel({ state: reviveBytes(widget.state), maps: reviveBytes(widget.maps), trust: reviveBytes(widget.trust) });
    frontEnd.render({ model, el });
    models.push(model);
  }
  /** @type {any} */ (doc.defaultView).gcwSavedModels = models; // for tests and the curious
  return models;
}
