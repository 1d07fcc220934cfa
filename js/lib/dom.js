// @ts-check
/**
 * Small DOM helpers shared by the front ends (gradcam.js, trust-panel.js, explore.js). Called only
 * while rendering; text always goes in via textContent, never innerHTML.
 */

/**
 * Create an element with a class, optional test id and attributes. Text goes in via textContent.
 * @param {string} tag
 * @param {string} className
 * @param {Record<string, string>} [attributes]
 * @param {string} [text]
 */
export function element(tag, className, attributes = {}, text) {
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
export function suppressNotebookShortcuts(node) {
  node.setAttribute("data-lm-suppress-shortcuts", "true");
  return node;
}

/**
 * A labelled control row: <label><span>text</span>control</label>.
 * @param {string} text
 * @param {HTMLElement} control
 */
export function labelled(text, control) {
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
export function fillSelect(select, values, current) {
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
export function asArray(value) {
  return Array.isArray(value) ? value : [];
}

/**
 * Listeners a view adds to its model and to DOM nodes, remembered so that `removeAll` (called when
 * the view is removed) leaves nothing behind that would keep the view alive.
 * @param {{on: (name: string, callback: Function) => void, off: (name: string, callback: Function) => void}} model
 */
export function listenerBook(model) {
  /** @type {Array<[string, Function]>} */
  const modelListeners = [];
  /** @type {Array<[EventTarget, string, EventListener]>} */
  const domListeners = [];
  return {
    /** @param {string} name @param {Function} callback */
    onModel(name, callback) {
      model.on(name, callback);
      modelListeners.push([name, callback]);
    },
    /** @param {EventTarget} target @param {string} type @param {(event: any) => void} callback */
    onDom(target, type, callback) {
      target.addEventListener(type, callback);
      domListeners.push([target, type, callback]);
    },
    removeAll() {
      for (const [name, callback] of modelListeners.splice(0)) model.off(name, callback);
      for (const [target, type, callback] of domListeners.splice(0)) target.removeEventListener(type, callback);
    },
  };
}

/**
 * The focused element as seen from `node`'s tree. Inside a shadow root (marimo renders widgets in
 * one) `document.activeElement` is the shadow host, not the focused control; the root node's
 * `activeElement` is the control. Detached nodes fall back to the document.
 * @param {Node} node
 * @returns {Element | null}
 */
export function activeElementOf(node) {
  const root = /** @type {any} */ (node.getRootNode?.() ?? null);
  if (root && root !== node && "activeElement" in root) return root.activeElement ?? null;
  return typeof document === "undefined" ? null : document.activeElement;
}

/**
 * A function that runs ``run`` once, in a microtask, however often it is called before then: the
 * several change events of one kernel message become one redraw. Nothing runs once ``isDisposed()``.
 * @param {() => void} run
 * @param {() => boolean} isDisposed
 * @returns {() => void}
 */
export function coalesced(run, isDisposed) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      if (!isDisposed()) run();
    });
  };
}
