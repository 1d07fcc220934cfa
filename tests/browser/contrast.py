"""WCAG contrast of every visible text in a rendered widget, from the browser's computed styles.

For each visible element under the widget's root that shows text (its own text nodes, a form
control's value, an SVG <text>), the text colour is taken with its alpha times the opacity of the
element and its ancestors, and laid over the effective background: the background colours of the
element and its ancestors (crossing shadow roots to their hosts), composited from the page down.
"""

from __future__ import annotations

MIN_RATIO = 4.5

_SCRIPT = r"""
(root) => {
  // Computed colours come as rgb()/rgba(), or as color(srgb r g b / a) for color-mix() results.
  const parse = (c) => {
    if (c === "transparent") return { r: 0, g: 0, b: 0, a: 0 };
    let m = c.match(/^rgba?\(([^)]+)\)$/);
    if (m) {
      const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
    }
    m = c.match(/^color\(srgb ([^)]+)\)$/);
    if (m) {
      const p = m[1].split(/[ /]+/).filter(Boolean).map(Number);
      return { r: p[0] * 255, g: p[1] * 255, b: p[2] * 255, a: p.length > 3 ? p[3] : 1 };
    }
    throw new Error(`cannot read the colour ${c}`);
  };
  const parent = (node) => node.parentElement ?? node.getRootNode()?.host ?? null;
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a), a: 1,
  });
  const background = (node) => {
    const layers = [];
    for (let n = node; n; n = parent(n)) {
      const s = getComputedStyle(n);
      const c = parse(s.backgroundColor);
      if (c.a > 0) layers.push({ ...c, a: c.a * Number(s.opacity) });
    }
    let colour = { r: 255, g: 255, b: 255, a: 1 };  // the canvas when nothing paints
    for (const layer of layers.reverse()) colour = over(layer, colour);
    return colour;
  };
  const opacity = (node) => {
    let o = 1;
    for (let n = node; n; n = parent(n)) o *= Number(getComputedStyle(n).opacity);
    return o;
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const shows = (el) => {
    if (el.matches("select, input[type=search], input[type=text], output")) return el.value || el.textContent;
    if (el.matches("option, script, style")) return "";
    return [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join("").trim();
  };
  const results = [];
  for (const el of [root, ...root.querySelectorAll("*")]) {
    const text = shows(el);
    if (!text || !text.trim()) continue;
    if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 || rect.height === 0) continue;
    const s = getComputedStyle(el);
    const raw = parse(el instanceof SVGElement ? s.fill : s.color);
    const bg = background(el);
    const fg = over({ ...raw, a: raw.a * opacity(el) }, bg);
    const selected = el.closest("[aria-selected=true], [aria-pressed=true], [aria-expanded=true]") !== null;
    results.push({ selected, text: text.trim().slice(0, 40), tag: el.tagName.toLowerCase(), cls: String(el.className?.baseVal ?? el.className),
                   ratio: ratio(fg, bg), color: s.color, background: `rgb(${bg.r.toFixed(0)}, ${bg.g.toFixed(0)}, ${bg.b.toFixed(0)})` });
  }
  return results;
}
"""


def text_contrasts(locator) -> list[dict]:
    """Contrast of every visible text under ``locator`` (the widget's root)."""
    return locator.evaluate(_SCRIPT)


def assert_readable(locator, *, must_include: tuple[str, ...] = ()) -> list[dict]:
    """Every visible text under ``locator`` at >= 4.5:1; ``must_include``: classes of selected
    (aria-selected/-pressed/-expanded) items that must have been checked, so a test cannot pass by
    checking nothing."""
    results = text_contrasts(locator)
    assert results, "no visible text found"
    low = [r for r in results if r["ratio"] < MIN_RATIO]
    assert not low, "text below 4.5:1:\n" + "\n".join(
        f"  {r['ratio']:.2f}:1 <{r['tag']} class={r['cls']!r}> {r['text']!r} {r['color']} on {r['background']}"
        for r in low
    )
    lowest = min(results, key=lambda r: r["ratio"])
    print(f"[contrast] {len(results)} texts, lowest {lowest['ratio']:.2f}:1 ({lowest['cls']!r} {lowest['text']!r})")
    checked = " ".join(r["cls"] for r in results if r["selected"])
    for name in must_include:
        assert name in checked, f"{name} was not among the checked texts"
    return results
