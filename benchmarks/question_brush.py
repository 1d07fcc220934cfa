"""What a what-if brush stroke costs, against the least work it needs (issue 18).

A stroke must rescore the edited image and recompute the maps on screen: one forward pass and one
batched map per model. Measured side by side in one process (benchmarks/harness.py, interleaved
rounds), per model:

- ``forward``: ``Explainer.scores_batch`` of a new image (one compiled forward pass, nothing cached);
- ``limit``: ``Explainer.cams`` of a new image for the widget's top-k classes (forward pass + one
  batched map): the least a stroke can cost;
- ``stroke``: a new edit set on a ``GradCAMWidget`` until it has answered (fill, prepare, scores,
  maps, PNG and trait payloads), and the same on a two-model ``compare_gradcam``
  (``compare stroke``, against the sum of both models' limits).

Models: MobileNetV2 (``weights=None``, offline) and the real ImageNet model
(``gradcam_widget.demo.load_model("imagenet-lite0")``). Run ``python -m benchmarks.question_brush``;
results go to ``benchmarks/results/question-brush-<time>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

import numpy as np

from benchmarks.harness import Contender, interleave, machine_info, ratio

RESULTS = Path(__file__).resolve().parent / "results"


def _models():
    import keras

    from gradcam_widget.demo import load_model

    keras.utils.set_random_seed(0)
    return {
        "mobilenetv2": keras.applications.MobileNetV2(weights=None),
        "imagenet-lite0": load_model("imagenet-lite0"),
    }


def _edits():
    """A new stroke every call (a new edited image, so nothing is served from a cache)."""
    state = {"i": 0}

    def next_edit():
        state["i"] += 1
        i = state["i"]
        x = 0.1 + 0.8 * ((i * 0.37) % 1.0)
        return {"strokes": [{"points": [[x, 0.2], [1.0 - x, 0.8]], "radius": 0.08}], "fill": "grey", "seq": i}

    return next_edit


def _images(size=224):
    rng = np.random.default_rng(0)
    return lambda: rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def measure(budget_s: float, log=print) -> dict:
    from gradcam_widget import compare_gradcam
    from gradcam_widget.explain import Explainer
    from gradcam_widget.widget import GradCAMWidget

    models = _models()
    image = _images()()
    new_image = _images()
    out: dict = {"machine": machine_info(), "models": {}}
    widgets = []
    for name, model in models.items():
        explainer = Explainer(model)
        w = GradCAMWidget(explainer, image)
        widgets.append(w)
        top = [t["index"] for t in w.top_classes]
        edit = _edits()

        def stroke(e, w=w):
            w.edit = e
            assert w.wait(120)
            return w

        def answered(e, w):
            assert w.edit_state.get("seq") == e["seq"] and w.edit_state.get("state") == "ready", w.edit_state

        log(f"  {name}")
        timings = interleave(
            [
                Contender("forward", lambda x, ex=explainer: ex.scores_batch([x]), setup=new_image),
                Contender("limit", lambda x, ex=explainer, top=top: ex.cams(x, top), setup=new_image),
                Contender("stroke", stroke, setup=edit, check=answered),
            ],
            warmup=2,
            min_rounds=5,
            max_rounds=15,
            budget_s=budget_s,
            log=log,
        )
        s = {k: t.summary() for k, t in timings.items()}
        out["models"][name] = {
            **s,
            "stroke_over_limit": ratio(s["stroke"], s["limit"]),
            "stroke_over_forward": ratio(s["stroke"], s["forward"]),
            "top_k": len(top),
        }
    # Both models compared: one stroke = one forward pass and one map per model.
    c = compare_gradcam(list(models.values()), image, names=list(models))
    explainers = [w.explainer for w in c.widgets.values()]
    tops = [[t["index"] for t in w.top_classes] for w in c.widgets.values()]
    edit = _edits()

    def compare_stroke(e):
        c.edit = e
        assert c.wait(120)

    log("  compare (both models)")
    timings = interleave(
        [
            Contender("limit", lambda x: [ex.cams(x, t) for ex, t in zip(explainers, tops)], setup=new_image),
            Contender("compare stroke", compare_stroke, setup=edit),
        ],
        warmup=2,
        min_rounds=5,
        max_rounds=15,
        budget_s=budget_s,
        log=log,
    )
    s = {k: t.summary() for k, t in timings.items()}
    out["compare"] = {**s, "stroke_over_limit": ratio(s["compare stroke"], s["limit"])}
    c.close()
    for w in widgets:
        w.close()
    return out


def report(result: dict) -> str:
    lines = [
        "# What-if brush stroke cost (issue 18)",
        "",
        "| model | forward ms | limit ms | stroke ms | stroke / limit | stroke / forward |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in result["models"].items():
        lines.append(
            f"| {name} | {r['forward']['median']:.1f} | {r['limit']['median']:.1f} | {r['stroke']['median']:.1f} | "
            f"{r['stroke_over_limit']:.2f} | {r['stroke_over_forward']:.2f} |"
        )
    c = result["compare"]
    lines.append(
        f"| compare (both) | | {c['limit']['median']:.1f} | {c['compare stroke']['median']:.1f} | {c['stroke_over_limit']:.2f} | |"
    )
    lines += ["", "Medians of interleaved rounds in one process; limit = one forward pass + one batched map (top-k)."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=30.0, help="seconds of timed rounds per scenario")
    args = parser.parse_args(argv)
    result = measure(args.budget)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"question-brush-{stamp}.json").write_text(json.dumps(result, indent=1))
    text = report(result)
    (RESULTS / f"question-brush-{stamp}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
