"""A small marimo app for the browser tests (tests/browser/test_marimo_browser.py).

The widget is wrapped with ``mo.ui.anywidget`` so marimo re-runs the cell that reads it when a click
in the browser changes ``selected_class``.
"""

import marimo

app = marimo.App()


@app.cell
def _():
    import keras
    import marimo as mo
    import numpy as np

    from gradcam_widget import show_gradcam

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64, 64, 3)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    img = (np.stack([xx, yy, 0.5 * (xx + yy)], axis=-1) * 255).astype(np.uint8)
    names = ["apple", "banana", "cherry", "date", "elderberry", "fig", "grape", "honeydew", "kiwi", "lemon"]
    view = mo.ui.anywidget(show_gradcam(model, img, class_names=names, top_k=5))
    view  # noqa: B018 - marimo shows a cell's last expression
    return mo, view


@app.cell
def _(mo, view):
    mo.Html(
        f'<p data-testid="py-selected">selected in Python: {int(view.selected_class)} '
        f"opacity {float(view.opacity):.2f}</p>"
    )
    return  # noqa: PLR1711 - marimo's cell form


if __name__ == "__main__":
    app.run()
