"""Save widgets as one self-contained HTML page: no network, no kernel, still interactive.

The page runs the real front end (gradcam.js, joined as for the notebook) against an in-page model
(js/standalone.js) over the saved traits and every map computed so far, so clicking among the top
classes, colormaps, opacity, hover and any method/layer/class already computed work as in the
notebook; anything else says it needs the kernel. A Content-Security-Policy forbids every request
the page could make (only inline code, data: and blob: URLs are allowed).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import anywidget

from .frontend import front_end_source, static_file

_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; "
    "img-src data: blob:; connect-src 'none'; base-uri 'none'; form-action 'none'"
)
_PAGE_CSS = """
:root { color-scheme: light dark; }
body { margin: 16px; font-family: system-ui, sans-serif; background: Canvas; color: CanvasText; }
.gcw-saved-note { font-size: 12px; margin: 0 0 12px; }
.gcw-saved { margin-bottom: 24px; }
"""


def _jsonable(value):
    """Trait values as JSON: bytes become {"$bytes": base64} (js/standalone.js revives them)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def widget_record(widget) -> dict:
    """One widget's saved state: its own synced traits (not ipywidgets' plumbing), the maps it
    has computed, and its finished trust report."""
    base = set(anywidget.AnyWidget.class_trait_names(sync=True))
    own = sorted(n for n in widget.trait_names(sync=True) if n not in base and not n.startswith("_"))
    state = {name: getattr(widget, name) for name in own}
    trust = [state["trust"]] if state.get("trust", {}).get("state") == "ready" else []
    return {"state": _jsonable(state), "maps": _jsonable(widget.computed_maps()), "trust": _jsonable(trust)}


def _script_json(data) -> str:
    """JSON safe inside a <script> element (no '</' or '<!--' can end or confuse it)."""
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")


def page_html(widgets, title: str = "Grad-CAM") -> str:
    """The whole page as text (see :func:`save_html`)."""
    widgets = list(widgets)
    if not widgets:
        raise ValueError("save_html needs at least one GradCAMWidget.")
    from .widget import GradCAMWidget

    for w in widgets:
        if not isinstance(w, GradCAMWidget):
            raise TypeError(f"save_html saves GradCAMWidget objects, got {type(w).__name__}.")
    loader = static_file("standalone.js")
    if loader is None:
        raise FileNotFoundError("js/standalone.js is missing from this installation; reinstall gradcam-widget.")
    data = {"esm": front_end_source("gradcam.js"), "widgets": [widget_record(w) for w in widgets]}
    css_file = static_file("gradcam.css")
    css = css_file.read_text(encoding="utf-8") if css_file is not None else ""
    sections = "\n".join(f'<section class="gcw-saved" id="gcw-saved-{i}"></section>' for i in range(len(widgets)))
    module = loader.read_text(encoding="utf-8").replace("</script", "<\\/script")
    css = css.replace("</style", "<\\/style")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_PAGE_CSS}</style>
<style>{css}</style>
</head>
<body>
<p class="gcw-saved-note">Saved Grad-CAM view: works offline, without Python, for what was computed before saving.</p>
{sections}
<noscript>This page needs JavaScript to show the saved widget.</noscript>
<script type="application/json" id="gcw-saved">{_script_json(data)}</script>
<script type="module">
{module}
mountSavedPage(document);
</script>
</body>
</html>
"""


def save_html(path, *widgets, title: str = "Grad-CAM") -> int:
    """Write one self-contained HTML page showing ``widgets`` (GradCAMWidget objects); returns its
    size in bytes. Open it in any browser, offline: no kernel is needed for what was computed."""
    text = page_html(widgets, title=title)
    data = text.encode("utf-8")
    Path(path).write_bytes(data)
    return len(data)
