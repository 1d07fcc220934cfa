"""Teaching panel cost (issue 17): opening "How was this map made?" and the layer scrubber's visits,
as ratios to a class switch and to a full forward pass measured in the same process.

    PYTHONPATH=. python -m benchmarks.teach_panel [--models vgg16,imagenet-lite0] [--repeat 3]

Eager explainers (compiled=False: no tracing in the numbers). ``panel`` is Explainer.map_steps on an
image whose map is on show (features cached: one head forward + backward, no new forward pass);
``class switch`` is one more class's map (the same head work); ``forward`` is model scores of a new
image. The scrubber: the widget moved to a shallower layer (first visit: one forward to that layer
and the top-k maps), then back and there again (cached: nothing computed). Nothing is downloaded:
VGG16 has weights=None; imagenet-lite0 ships with the demo extra. Best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _model(name):
    import keras

    if name == "vgg16":
        return keras.applications.VGG16(weights=None)
    if name == "imagenet-lite0":
        from gradcam_widget.demo import load_model

        return load_model("imagenet-lite0")
    raise SystemExit(f"unknown model {name!r}")


def _best(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(name: str, repeat: int) -> dict:
    from gradcam_widget import Explainer
    from gradcam_widget.demo.photos import imagenet_crop, photos
    from gradcam_widget.widget import GradCAMWidget

    model = _model(name)
    pictures = list(photos().values())
    image = imagenet_crop(pictures[0])
    others = [imagenet_crop(p) for p in pictures[1 : 1 + repeat + 1]]
    explainer = Explainer(model, compiled=False)
    explainer.cam(image)  # warm-up, and the map on show: features cached
    top = np.argsort(-explainer.scores(image).logits)[:8].tolist()
    explainer.map_steps(image, top[0])  # warm-up of the panel's code path
    classes = iter(top[1:] * 10)
    switch = _best(lambda: explainer.cam(image, next(classes)), repeat)
    panel = _best(lambda: explainer.map_steps(image, top[0]), repeat)
    fresh = iter(others * 10)
    forward = _best(lambda: explainer.scores(next(fresh)), repeat)

    forwards = []  # the layers a forward pass (image -> layer -> scores) was run to
    run = explainer.backend.features  # the one call that runs the backbone for uncached images

    def counted(inputs, layer):
        forwards.append(layer.name)
        return run(inputs, layer)

    explainer.backend.features = counted
    panel_forwards = len(forwards)
    explainer.map_steps(image, top[1])
    panel_forwards = len(forwards) - panel_forwards
    widget = GradCAMWidget(explainer, image)
    deep = widget.layer
    layers = widget.layers
    shallow = layers[max(0, layers.index(deep) - len(layers) // 3)]
    before = len(forwards)
    start = time.perf_counter()
    widget.layer = shallow
    first_visit = time.perf_counter() - start
    first_forwards = forwards[before:]
    widget.layer = deep
    before = len(forwards)
    start = time.perf_counter()
    widget.layer = shallow
    second_visit = time.perf_counter() - start
    again_forwards = forwards[before:]
    widget.close()
    del explainer.backend.features
    return {
        "model": name,
        "layer": deep,
        "panel_s": panel,
        "class_switch_s": switch,
        "forward_s": forward,
        "panel_over_switch": panel / switch,
        "panel_over_forward": panel / forward,
        "scrub_layer": shallow,
        "scrub_first_s": first_visit,
        "scrub_again_s": second_visit,
        "scrub_first_over_forward": first_visit / forward,
        "panel_forwards": panel_forwards,
        "scrub_first_forwards": len(first_forwards),
        "scrub_again_forwards": len(again_forwards),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="vgg16,imagenet-lite0")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    for name in args.models.split(","):
        r = measure(name, args.repeat)
        print(
            f"{r['model']} at {r['layer']}: panel {r['panel_s'] * 1000:.0f} ms = {r['panel_over_switch']:.2f}x a class "
            f"switch ({r['class_switch_s'] * 1000:.0f} ms), {r['panel_over_forward']:.2f}x a forward "
            f"({r['forward_s'] * 1000:.0f} ms); scrubber to {r['scrub_layer']}: first visit "
            f"{r['scrub_first_s'] * 1000:.0f} ms ({r['scrub_first_over_forward']:.2f}x a forward), again "
            f"{r['scrub_again_s'] * 1000:.1f} ms; forward passes: panel {r['panel_forwards']}, scrubber first "
            f"visit {r['scrub_first_forwards']}, again {r['scrub_again_forwards']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
