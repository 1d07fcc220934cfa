"""The widget's current view as a still picture, for wherever widgets cannot run.

An exported notebook (``jupyter nbconvert --to html``), a viewer that ignores widgets, or a kernel
that is gone: they show the output's ``text/html`` or ``image/png`` instead of the widget. Both are
made here from the kernel's own numbers: the overlay drawn at the size the live widget displays
(``DISPLAY_MIN_SIDE``..``DISPLAY_MAX_SIDE``, as ``fitDisplaySize`` in js/lib/maps.js), and the top
classes as escaped text (class names are user strings: never markup).
"""

from __future__ import annotations

import base64
import html

import numpy as np

from . import colormaps

#: The live widget's display size rule (js/lib/maps.js: DISPLAY_MIN_SIDE, DISPLAY_MAX_SIDE).
DISPLAY_MIN_SIDE = 256
DISPLAY_MAX_SIDE = 512


def display_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) the widget shows an image at: aspect kept, longest side in [256, 512]."""
    if width <= 0 or height <= 0:
        return DISPLAY_MIN_SIDE, DISPLAY_MIN_SIDE
    longest = max(width, height)
    scale = min(DISPLAY_MAX_SIDE, max(DISPLAY_MIN_SIDE, longest)) / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def picture(
    image: np.ndarray,
    heatmap: np.ndarray,
    colormap: str,
    opacity: float,
    *,
    cam=None,
    mode: str = "per_map",
    common_maximum: float = 0.0,
) -> np.ndarray:
    """The overlay as the widget shows it, at display size (uint8 RGB). With ``cam``, drawn in the
    widget's scale ``mode`` (gradcam_widget/scale_modes.py; ``heatmap`` is the per-map view)."""
    import cv2

    height, width = image.shape[:2]
    size = display_size(width, height)
    if size != (width, height):
        shrink = size[0] < width
        image = cv2.resize(
            np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        )
    if cam is not None and mode != "per_map":
        from . import scale_modes

        return scale_modes.overlay(image, cam, mode, common_maximum, colormap, opacity)
    return colormaps.overlay(image, heatmap, colormap, opacity)


def class_lines(top_classes: list[dict], selected: int, class_names: list[str]) -> list[tuple[bool, str]]:
    """The class list as (is_selected, text) lines; a selection outside the top-k comes last."""
    lines = [
        (int(t["index"]) == selected, f"{t['name']} (#{int(t['index'])}) {float(t['probability']) * 100:.1f}%")
        for t in top_classes
    ]
    if not any(is_selected for is_selected, _ in lines):
        name = class_names[selected] if 0 <= selected < len(class_names) else f"class {selected}"
        lines.append((True, f"{name} (#{selected})"))
    return lines


def static_html(png: bytes, width: int, height: int, *, lines: list[tuple[bool, str]], shown: str, note: str) -> str:
    """A small HTML block: the picture as a data URI and the class list as escaped text.

    No scripts, no external resources, colours inherited from the page (light or dark)."""
    src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    items = "".join(
        f'<li data-selected="true"><strong>{html.escape(text)}</strong></li>'
        if is_selected
        else f"<li>{html.escape(text)}</li>"
        for is_selected, text in lines
    )
    return (
        '<div class="gcw-static" data-testid="gcw-static" style="display:flex;flex-wrap:wrap;gap:16px;'
        'align-items:flex-start;font-family:system-ui,sans-serif;font-size:13px;line-height:1.4">'
        f'<img src="{src}" width="{width}" height="{height}" alt="{html.escape(shown, quote=True)}" '
        'style="max-width:100%;height:auto;image-rendering:auto">'
        '<div style="min-width:200px;max-width:360px">'
        '<div style="font-weight:600">Top classes</div>'
        f'<ol style="margin:4px 0 8px;padding-left:22px">{items}</ol>'
        f"<div>{html.escape(shown)}</div>"
        f'<div style="font-size:12px;margin-top:4px">{html.escape(note)}</div>'
        "</div></div>"
    )
