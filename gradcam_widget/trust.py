"""How far can the map on screen be trusted? The numbers and sentences behind the widget's trust panel.

One report answers four questions about one map (class, method, layer) of one image, each with the
tests of :mod:`gradcam_widget.metrics`, sized to finish in seconds:

- *Do other methods agree?* The map of each method in :data:`STRIP_METHODS` (Score-CAM on request).
- *Where do Grad-CAM and HiResCAM disagree?* Grad-CAM weights each channel by its gradient averaged
  over the whole map, HiResCAM multiplies gradient and activation position by position; where they
  differ, Grad-CAM shows weight the model's gradient does not put there (Draelos & Carin).
- *Does the model use the highlighted pixels?* Deletion and insertion curves (blurred baseline) next
  to the mean curves of random maps of the same resolution.
- *Does the map depend on what the model learned?* The cascading randomisation check on a copy.

:func:`trust_sections` yields the sections one by one, so the widget can show each as soon as it
is ready and stop between them when the user moves on. For a contrastive map ("why k rather than
b", a widget with ``contrast=``) the strip and the randomisation check use contrastive maps, and the
deletion/insertion curves follow the probability of k as that map's pixels go. No UI code here: the widget turns the
sections into its ``trust`` trait (docs/protocol.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterator

import numpy as np

from . import registry

# Methods compared in the strip, in order (the registry's ``in_strip``): ``STRIP_METHODS``, then the
# slow ones on request (``SLOW_STRIP_METHODS``; Score-CAM's 64 masked passes). ``METHOD_LABELS`` are
# the registry's names in words. All three are module attributes read from the registry at each use.
#: Curve resolution for the panel: 26 points per curve draw a smooth small chart; 50 (the metrics'
#: default) doubles the cost for AUCs that moved by < 0.01 on the demo scenes.
PANEL_STEPS = 25
#: Random maps whose mean curve is the "random" reference (each costs two curves).
RANDOM_MAPS = 3
#: AUC differences smaller than this count as "no better than random".
AUC_MARGIN = 0.05
#: A curve whose probability moves less than this is flat: the perturbation did not matter.
FLAT_RANGE = 0.05
#: Largest |Grad-CAM - HiResCAM| (each normalised to its maximum) read as "the same map".
SAME_MAP = 0.05


@dataclass(frozen=True)
class Faithfulness:
    """Deletion/insertion of one map against the mean of random maps, with a verdict in words."""

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    random_deletion: np.ndarray
    random_insertion: np.ndarray
    deletion_auc: float
    insertion_auc: float
    random_deletion_auc: float
    random_insertion_auc: float
    random_maps: int
    baseline: str
    flat: bool  # every curve (this map's and the random ones') moved by less than FLAT_RANGE
    verdict: str = ""


@dataclass(frozen=True)
class Difference:
    """Grad-CAM / its maximum - HiResCAM / its maximum, signed, at the layer's resolution."""

    values: np.ndarray
    max_abs: float
    text: str


@dataclass(frozen=True)
class Randomization:
    """The randomisation check as the panel shows it: correlation per step, steps in words, verdict."""

    correlations: np.ndarray
    steps: list
    final: float
    passed: bool
    verdict: str


def method_label(method: str) -> str:
    return registry.label(method)


def random_maps(shape: tuple[int, int], count: int, seed: int = 0) -> list[np.ndarray]:
    """Uniform random maps at the map's own resolution: as smooth as a real map once upsampled."""
    rng = np.random.default_rng(seed)
    return [rng.random(shape).astype(np.float32) for _ in range(count)]


def difference(gradcam, hirescam) -> Difference:
    """Where Grad-CAM and HiResCAM disagree, and what that means, for a student."""
    if gradcam.raw.shape != hirescam.raw.shape:
        raise ValueError("the Grad-CAM and HiResCAM maps have different shapes; compute both at one layer.")
    values = gradcam.normalized.astype(np.float32) - hirescam.normalized.astype(np.float32)
    max_abs = float(np.abs(values).max()) if values.size else 0.0
    if not gradcam.has_evidence and not hirescam.has_evidence:
        text = "Neither Grad-CAM nor HiResCAM finds positive evidence for this class at this layer."
    elif max_abs <= SAME_MAP:
        by = "less than 0.01" if max_abs < 0.01 else f"at most {max_abs:.2f}"
        text = (
            f"Grad-CAM and HiResCAM agree (they differ by {by} of the maximum). "
            f"This happens when the model averages the layer's maps before deciding (global "
            f"average pooling): then Grad-CAM is exact."
        )
    else:
        red = float(np.clip(values, 0, None).sum())
        share = red / float(np.abs(values).sum())
        text = (
            f"Grad-CAM and HiResCAM differ by up to {max_abs:.2f} of the maximum. Red marks weight "
            f"Grad-CAM puts where HiResCAM, which follows the gradient position by position, puts less "
            f"({share:.0%} of the difference): Grad-CAM averages the gradient over the whole map, so "
            f"red areas may not be what the model used. Blue marks the reverse."
        )
    return Difference(values, max_abs, text)


def faithfulness_verdict(
    class_name: str, d: float, rd: float, i: float, ri: float, *, flat: bool, has_evidence: bool, baseline: str = "blur"
) -> str:
    """The deletion/insertion comparison in one or two plain sentences."""
    numbers = f"(deletion area {d:.2f} vs {rd:.2f} for random maps; insertion {i:.2f} vs {ri:.2f})"
    if flat:
        how = "blurring" if baseline == "blur" else "blacking out"
        return (
            f"Inconclusive: {how} or restoring pixels in any order barely moves the probability of "
            f"{class_name} {numbers}, so this test cannot rank the map. The model may decide from the "
            f"whole scene rather than from any region."
        )
    note = "" if has_evidence else " This map has no positive evidence, so its pixel order is random."
    better_d, better_i = d < rd - AUC_MARGIN, i > ri + AUC_MARGIN
    if better_d and better_i:
        return (
            f"Faithful: removing the pixels this map ranks highest lowers the probability of {class_name} "
            f"faster than removing pixels in random order, and restoring them first brings it back "
            f"faster {numbers}. The model does rely on what the map highlights.{note}"
        )
    if better_d or better_i:
        which = "removing" if better_d else "restoring"
        return (
            f"Partly faithful: for {class_name}, only {which} the highlighted pixels first beats random "
            f"order {numbers}. The model uses some of what the map highlights, but not all of its reasons are there.{note}"
        )
    return (
        f"Not better than random: the pixels this map ranks highest matter no more to the probability "
        f"of {class_name} than random pixels {numbers}. Do not read this map as the model's reason.{note}"
    )


def faithfulness(
    explainer,
    image,
    cam,
    *,
    class_name: str,
    steps: int = PANEL_STEPS,
    random_count: int = RANDOM_MAPS,
    seed: int = 0,
    progress: Callable | None = None,
) -> Faithfulness:
    """Deletion and insertion of ``cam`` and of ``random_count`` random maps.

    Blur first (see :mod:`gradcam_widget.metrics.faithfulness`). When every blurred curve is flat,
    the model ignored the detail blur removes (the demo's biased model reads the ground's colour), so
    the curves are measured again with black, which removes colour too, and the verdict says both.
    ``progress(done, total)`` counts images through the model; raising from it stops the run.
    """
    maps = [cam.raw] + random_maps(cam.raw.shape, random_count, seed)
    counter = _Counter(progress, 2 * len(maps) * (steps + 1))
    result, note = _curves(explainer, image, cam, maps, steps, "blur", counter), ""
    if result.flat:
        counter.total *= 2
        black = _curves(explainer, image, cam, maps, steps, "black", counter)
        if not black.flat:
            result = black
            note = (
                f"With blurred pixels every curve stayed flat: blur keeps colours, and this model's decision "
                f"for {class_name} does not depend on the detail blur removes (it may read colour or the "
                f"whole scene). The curves below paint removed pixels black instead, which removes colour "
                f"too. "
            )
    verdict = faithfulness_verdict(
        class_name,
        result.deletion_auc,
        result.random_deletion_auc,
        result.insertion_auc,
        result.random_insertion_auc,
        flat=result.flat,
        has_evidence=bool(cam.has_evidence),
        baseline=result.baseline,
    )
    return replace(result, verdict=note + verdict)


class _Counter:
    """Images through the model over several curves, as one ``progress(done, total)`` count."""

    def __init__(self, progress, total: int):
        self.progress, self.total, self.done = progress, total, 0

    def for_curve(self):
        start = self.done

        def report(n, _total):
            self.done = start + n
            if self.progress is not None:
                self.progress(self.done, self.total)

        return report


def _curves(explainer, image, cam, maps, steps, baseline, counter) -> Faithfulness:
    """Deletion and insertion of ``maps[0]`` and the mean curves of the others (random maps); no verdict."""
    from .metrics import auc, deletion, insertion

    results = [
        tuple(
            fn(explainer, image, m, cam.class_index, steps=steps, baseline=baseline, progress=counter.for_curve())
            for fn in (deletion, insertion)
        )
        for m in maps
    ]
    fractions = results[0][0].fractions
    own_d, own_i = results[0][0].probabilities, results[0][1].probabilities
    rand_d = np.mean([r[0].probabilities for r in results[1:]], axis=0)
    rand_i = np.mean([r[1].probabilities for r in results[1:]], axis=0)
    return Faithfulness(
        fractions,
        own_d,
        own_i,
        rand_d,
        rand_i,
        *(auc(fractions, c) for c in (own_d, own_i, rand_d, rand_i)),
        random_maps=len(maps) - 1,
        baseline=baseline,
        flat=all(float(np.ptp(c.probabilities)) < FLAT_RANGE for r in results for c in r),
    )


def _step_words(randomised: list, total: int) -> str:
    if len(randomised) == total:
        return f"all {total} learned layers" if total > 1 else "the only learned layer"
    if len(randomised) == 1:
        return f"the output layer {randomised[0]!r}"
    return f"the top {len(randomised)} of {total} learned layers"


def randomization(explainer, image, cam, *, progress: Callable | None = None) -> Randomization:
    """The cascading randomisation check of ``cam`` (a copy of the model; the user's is untouched).

    Slow methods get one comparison (every learned layer random) instead of the cascade. A
    contrastive ``cam`` (``cam.contrast`` set) is compared with contrastive maps of the copies.
    """
    from .metrics import randomization_check

    if not cam.has_evidence:
        return Randomization(
            np.zeros(0),
            [],
            0.0,
            False,
            "Not run: this map has no positive evidence, so there is nothing to compare with "
            "a randomised model. Try the class the model predicts, or another layer.",
        )
    layers = "all" if registry.is_slow(cam.method) else None
    result = randomization_check(
        explainer,
        image,
        cam.class_index,
        method=cam.method,
        layer=cam.layer,
        layers=layers,
        progress=progress if progress is not None else False,
        contrast=getattr(cam, "contrast", None),
    )
    total = len(result.layers[-1])  # the cascade and "all" both end with every learned layer random
    return Randomization(
        np.asarray(result.correlations, dtype=np.float64),
        [_step_words(step, total) for step in result.layers],
        float(result.final_correlation),
        bool(result.passed),
        result.verdict,
    )


def trust_sections(
    explainer,
    image,
    class_index: int,
    method: str,
    layer: str,
    *,
    class_name: str,
    scorecam: bool = False,
    cam_for: Callable | None = None,
    progress: Callable | None = None,
    cancel: Callable | None = None,
    skip: frozenset = frozenset(),
) -> Iterator[tuple[str, object]]:
    """Yield ``(name, value)`` for each section of the report, cheapest first.

    ``("strip", (method, CamMap))`` once per strip method, ``("difference", Difference)``,
    ``("randomization", Randomization)``, ``("faithfulness", Faithfulness)``. ``cam_for(k,
    method, layer, **hooks)`` returns a CamMap (default: the explainer's ``cam``; the widget passes its
    cached lookup). ``progress(section, done, total)`` reports long sections; ``cancel()`` returning
    True stops the run with :class:`~gradcam_widget.explain.Cancelled` at the next batch. Sections
    or strip methods named in ``skip`` (already known to the caller) are not computed again.
    """
    from .explain import Cancelled

    if cam_for is None:

        def cam_for(k, m, lay, **hooks):
            return explainer.cam(image, k, method=m, layer=lay, **hooks)

    def check():
        if cancel is not None and cancel():
            raise Cancelled("superseded")

    def hook(section):
        def report(done, total):
            check()
            if progress is not None:
                progress(section, done, total)

        return report

    strip = {}
    for m in registry.strip_names():
        check()
        strip[m] = cam_for(class_index, m, layer)
        if m not in skip:
            yield "strip", (m, strip[m])
    if "difference" not in skip:
        yield "difference", difference(strip["gradcam"], strip["hirescam"])
    current = strip.get(method) or cam_for(
        class_index, method, layer, **({"progress": hook(method), "cancel": cancel} if registry.is_slow(method) else {})
    )
    if "randomization" not in skip:  # before faithfulness: a few maps, cheaper than 200+ images
        check()
        yield "randomization", randomization(explainer, image, current, progress=hook("randomization"))
    if "faithfulness" not in skip:
        check()
        yield (
            "faithfulness",
            faithfulness(explainer, image, current, class_name=class_name, progress=hook("faithfulness")),
        )
    if scorecam:
        for m in registry.strip_names(slow=True):
            if m not in skip:
                check()
                yield "strip", (m, cam_for(class_index, m, layer, progress=hook(m), cancel=cancel))


def __getattr__(name):
    if name == "STRIP_METHODS":
        return registry.strip_names()
    if name == "SLOW_STRIP_METHODS":
        return registry.strip_names(slow=True)
    if name == "METHOD_LABELS":
        return registry.labels()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
