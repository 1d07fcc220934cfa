"""Two versions of gradcam_widget in one process, interleaved round by round (an engine change's A/B).

    mkdir -p /tmp/ab/base /tmp/ab/patched
    cp -r gradcam_widget js /tmp/ab/base/ && cp -r gradcam_widget js /tmp/ab/patched/
    (cd /tmp/ab/patched && git -C /path/to/repo diff | patch -p1)   # your change, e.g. the working tree
    .venv/bin/python -m benchmarks.ab_engines /tmp/ab/base /tmp/ab/patched MobileNetV2 [--quick]

Each directory must hold a ``gradcam_widget`` package. The copies are imported under the names
``gw_a``/``gw_b`` so both run side by side on the same model object. Cold start, a class switch
through the widget, top-5, a new image and a batch of 16 are timed, next to the physical limits.
Prints a markdown table (B / A ratios, wall and CPU time) and writes ``ab-<model>.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

import numpy as np  # noqa: E402

from benchmarks.harness import Contender, interleave, once  # noqa: E402


def load_copy(alias: str, root: Path):
    """Import ``root/gradcam_widget`` as the top-level package ``alias``."""
    init = root / "gradcam_widget" / "__init__.py"
    if not init.is_file():
        raise SystemExit(f"{root} holds no gradcam_widget package")
    spec = importlib.util.spec_from_file_location(alias, init, submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    spec.loader.exec_module(module)
    lazy = getattr(module, "_LAZY", None)  # its lazy names import "gradcam_widget.<module>": redirect them
    if lazy is not None:
        module._LAZY = {k: (m.replace("gradcam_widget", alias, 1), a) for k, (m, a) in lazy.items()}
    explainer = importlib.import_module(alias + ".explain.explainer")
    assert Path(explainer.__file__).resolve().is_relative_to(root.resolve()), explainer.__file__
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="directory holding version A's gradcam_widget (e.g. HEAD)")
    parser.add_argument("b", type=Path, help="directory holding version B's gradcam_widget (e.g. patched)")
    parser.add_argument("model", help="a keras.applications name (weights=None)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from benchmarks import contenders as ctd
    from benchmarks.run import build_model

    keras.config.disable_interactive_logging()
    pkgs = {"a": load_copy("gw_a", args.a), "b": load_copy("gw_b", args.b)}
    model, preprocess = build_model(args.model)
    size = tuple(int(d) for d in model.inputs[0].shape[1:3])
    rng = np.random.default_rng(0)

    def new_image():
        return rng.integers(0, 256, size + (3,), dtype=np.uint8)

    image = new_image()
    forward = ctd.compiled_forward(model)
    forward(tf.constant(image[None].astype(np.float32))).numpy()
    out = {"meta": {"a": str(args.a), "b": str(args.b), "model": args.model, "load_average": list(os.getloadavg())}}
    few = args.quick
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731

    # cold start: a new explainer + widget each time; background compilation (if any) is waited for
    # in the untimed check, so it never overlaps the other version's measurement
    def cold(tag):
        def check(_, w):
            wait = getattr(w.explainer, "wait_compiled", None)
            if wait is not None:
                wait(120)

        return Contender(
            f"{tag}_cold", lambda _: pkgs[tag].show_gradcam(model, image, preprocess=preprocess), check=check
        )

    out["cold"] = {k: v.summary() for k, v in once([cold("a"), cold("b")], rounds=2 if few else 3).items()}

    warm = {}
    for tag, pkg in pkgs.items():
        ex = pkg.Explainer(model, preprocess=preprocess)
        w = pkg.show_gradcam(ex, image)
        ex.cam(w._input, 9)
        ex.cam(new_image())
        ex.cams_batch(np.stack([new_image(), new_image()]), None)
        warm[tag] = (ex, w, w._input)
    head = ctd.head_forward_backward(warm["a"][0])
    a0 = ctd.cached_activations(warm["a"][0], warm["a"][2])
    top = [t["index"] for t in warm["a"][1].top_classes]
    outside = [c for c in range(warm["a"][0].num_classes) if c not in top]
    streams = {}

    def next_class(key):
        it = streams.setdefault(key, iter(outside * 100))
        return next(it)

    def switch(tag):
        w = warm[tag][1]

        def run(c):
            w.selected_class = c
            assert w.extra_map["class_index"] == c

        return Contender(f"{tag}_widget_switch", run, lambda: next_class(tag + "w"))

    def engine(tag, name, fn, setup=None):
        return Contender(f"{tag}_{name}", fn, setup)

    lim = lambda c: head(a0, c).numpy()  # noqa: E731
    lim_setup = lambda: tf.constant([next_class("lim")], tf.int32)  # noqa: E731
    rounds = dict(min_rounds=5 if few else 15, max_rounds=5 if few else 25, budget_s=30, log=log)
    out["switch"] = {
        k: v.summary()
        for k, v in interleave([switch("a"), switch("b"), Contender("limit_head", lim, lim_setup)], **rounds).items()
    }
    a5, c5 = tf.repeat(a0, len(top), 0), tf.constant(top, tf.int32)
    out["top5"] = {
        k: v.summary()
        for k, v in interleave(
            [engine(t, "top5", lambda _, t=t: warm[t][0].cams(warm[t][2], top)) for t in "ab"]
            + [
                engine(t, "single", lambda c, t=t: warm[t][0].cam(warm[t][2], c), lambda t=t: next_class(t + "e"))
                for t in "ab"
            ]
            + [Contender("limit_head_top5", lambda _: head(a5, c5).numpy())],
            **rounds,
        ).items()
    }
    x_setup = lambda: tf.constant(warm["a"][0].prepare(new_image()).model_input[None])  # noqa: E731
    out["new"] = {
        k: v.summary()
        for k, v in interleave(
            [engine(t, "new_image", lambda i, t=t: warm[t][0].cam(i), new_image) for t in "ab"]
            + [
                Contender("limit_forward", lambda x: forward(x).numpy(), x_setup),
                Contender("limit_head", lim, lim_setup),
            ],
            min_rounds=5 if few else 9,
            max_rounds=5 if few else 15,
            budget_s=40,
            log=log,
        ).items()
    }
    batch = lambda: np.stack([new_image() for _ in range(16)])  # noqa: E731
    a16 = tf.repeat(a0, 16, 0)
    out["batch16"] = {
        k: v.summary()
        for k, v in interleave(
            [engine(t, "batch16", lambda b, t=t: warm[t][0].cams_batch(b, None), batch) for t in "ab"]
            + [
                Contender(
                    "limit_forward16",
                    lambda x: forward(x).numpy(),
                    lambda: tf.constant(np.stack([warm["a"][0].prepare(i).model_input for i in batch()])),
                ),
                Contender(
                    "limit_head16",
                    lambda c: head(a16, c).numpy(),
                    lambda: tf.constant(rng.integers(0, len(outside), 16), tf.int32),
                ),
            ],
            min_rounds=2 if few else 3,
            max_rounds=3 if few else 5,
            budget_s=60,
            log=log,
        ).items()
    }

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"ab-{args.model}.json").write_text(json.dumps(out, indent=1) + "\n")
    print(table(args.model, out))


def table(name: str, o: dict) -> str:
    def med(s, k, key="median"):
        return o[s][k][key]

    rows = ["| model | metric | A | B | B / A | A (CPU) | B (CPU) |", "|---|---|---|---|---|---|---|"]

    def fmt(v, ratio):
        return f"{v:.2f}x" if ratio else (f"{v:.0f} ms" if v >= 100 else f"{v:.2f} ms")

    def add(metric, s, ka, kb, denominator=None):
        values = []
        for key in ("median", "cpu_median"):
            va, vb = med(s, ka, key), med(s, kb, key)
            if denominator is not None:
                d = denominator(key)
                va, vb = va / d, vb / d
            values.append((va, vb))
        (wa, wb), (ca, cb) = values
        r = denominator is not None
        rows.append(
            f"| {name} | {metric} | {fmt(wa, r)} | {fmt(wb, r)} | {wb / wa:.2f}x | {fmt(ca, r)} | {fmt(cb, r)} |"
        )

    add("cold start: show_gradcam(model, image)", "cold", "a_cold", "b_cold")
    add("class switch through the widget", "switch", "a_widget_switch", "b_widget_switch")
    add(
        "class switch / head limit",
        "switch",
        "a_widget_switch",
        "b_widget_switch",
        lambda key: med("switch", "limit_head", key),
    )
    add("top-5 (engine)", "top5", "a_top5", "b_top5")
    for tag in "ab":
        o["top5"][f"{tag}_ratio"] = {
            k: med("top5", f"{tag}_top5", k) / med("top5", f"{tag}_single", k) for k in ("median", "cpu_median")
        }
    add("top-5 / one class", "top5", "a_ratio", "b_ratio", lambda key: 1.0)
    add(
        "new image / (forward + head)",
        "new",
        "a_new_image",
        "b_new_image",
        lambda key: med("new", "limit_forward", key) + med("new", "limit_head", key),
    )
    add(
        "batch of 16 / (forward + head)",
        "batch16",
        "a_batch16",
        "b_batch16",
        lambda key: med("batch16", "limit_forward16", key) + med("batch16", "limit_head16", key),
    )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
