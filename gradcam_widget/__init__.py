"""gradcam-widget: see where a convolutional image classifier looks.

TensorFlow is imported on first use of the engine, not on ``import gradcam_widget``.
"""

from __future__ import annotations

from ._quiet import quiet_tensorflow_startup

quiet_tensorflow_startup()  # before anything can import TensorFlow; respects a user-set level

__version__ = "0.1.0"

_LAZY = {
    "Explainer": ("gradcam_widget.explain", "Explainer"),
    "compute_cam": ("gradcam_widget.explain", "compute_cam"),
    "CamMap": ("gradcam_widget.explain", "CamMap"),
    "Scores": ("gradcam_widget.explain", "Scores"),
    "load_image": ("gradcam_widget.images", "load_image"),
    "GradCAMWidget": ("gradcam_widget.widget", "GradCAMWidget"),
    "show_gradcam": ("gradcam_widget.widget", "show_gradcam"),
    "compare_gradcam": ("gradcam_widget.compare", "compare_gradcam"),
    "save_html": ("gradcam_widget.standalone", "save_html"),
    "class_names_for": ("gradcam_widget.labels", "class_names_for"),
    "audit": ("gradcam_widget.audit", "audit"),
    "read_audit": ("gradcam_widget.audit", "read_audit"),
    "iter_cams": ("gradcam_widget.batch", "iter_cams"),
    "explore_misclassifications": ("gradcam_widget.explore", "explore_misclassifications"),
    "load_ipython_extension": ("gradcam_widget.magic", "load_ipython_extension"),
}

__all__ = ["METHODS", *_LAZY]


def __getattr__(name):
    if name == "METHODS":  # the registry's names, read at each use (a method registered later is in it)
        from .registry import names

        return names()
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gradcam_widget' has no attribute {name!r}")
