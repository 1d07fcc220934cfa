"""A debugging session runs for hours in one kernel: no retracing, no growing memory, nothing kept alive."""

from __future__ import annotations

import gc
import os
import weakref

import numpy as np
import psutil

from gradcam_widget import Explainer
from gradcam_widget.widget import GradCAMWidget
from engine_models import gap_classifier, random_image


def _rss_mb() -> float:
    return psutil.Process(os.getpid()).memory_info().rss / 2**20


def test_500_class_switches_no_retracing_and_bounded_memory():
    model = gap_classifier(num_classes=40, size=48)
    explainer = Explainer(model)
    widget = GradCAMWidget(explainer, random_image(size=48, seed=1), top_k=5)
    classes = [c for c in range(40) if c not in widget._top_indices]
    # warm-up: every code path once (top-k switch, outside class, a method change and back)
    widget.selected_class = classes[0]
    widget.selected_class = widget._top_indices[1]
    widget.method = "gradcam++"
    widget.method = "gradcam"
    gc.collect()
    traces, rss = explainer.trace_count, _rss_mb()
    for i in range(500):
        widget.selected_class = classes[i % len(classes)] if i % 3 else widget._top_indices[i % 5]
        assert widget.status["state"] == "ready"
    gc.collect()
    growth = _rss_mb() - rss
    print(f"\n500 class switches: traces after warm-up {explainer.trace_count - traces}, RSS growth {growth:.1f} MB")
    assert explainer.trace_count == traces
    assert growth <= 20.0
    widget.close()


def test_closed_widgets_release_models_and_images():
    refs = []
    for i in range(20):  # a leak keeps every one of them: 20 show it as surely as 50
        model = gap_classifier(num_classes=4, size=24, seed=i % 3)
        image = random_image(size=24, seed=i)
        widget = GradCAMWidget(Explainer(model), image, top_k=2)
        widget.selected_class = 3 if 3 not in widget._top_indices else 2
        refs.append((weakref.ref(model), weakref.ref(widget), weakref.ref(widget.explainer)))
        widget.close()
        del model, image, widget
    gc.collect()
    alive = [i for i, (m, w, e) in enumerate(refs) if m() is not None or w() is not None or e() is not None]
    assert alive == [], f"{len(alive)} of 20 closed widgets still keep their model, widget or explainer alive"


def test_explainer_feature_cache_is_bounded():
    model = gap_classifier(size=32)
    explainer = Explainer(model, cache_size=4)
    for seed in range(30):
        explainer.cam(random_image(seed=seed), 0)
    assert len(explainer._cache) == 4
    explainer.clear_cache()
    assert len(explainer._cache) == 0
    assert np.all(np.isfinite(explainer.cam(random_image(seed=99), 1).normalized))
