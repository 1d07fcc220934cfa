"""Sanity check (Adebayo et al. 2018): does the map change when the model forgets what it learned?

Cascading model-parameter randomisation: re-initialise the weights of the top layer, then the top
two, ... (from the output down), compute the map again each time, and compare it with the map of the
trained model by Spearman rank correlation. A map that still looks the same when the weights are
random cannot be explaining what the model learned; it mostly shows the image (edges, bright areas).

The user's model is never touched: the randomised model is the explainer's ``randomized_copy()``
(see gradcam_widget/explain/randomize.py for what re-initialising means).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import Progress, as_explainer, check_positive_int

#: Largest rank correlation at which the map counts as having changed completely.
PASS_CORRELATION = 0.3
#: Above this the map is mostly the same picture whatever the weights.
FAIL_CORRELATION = 0.6


@dataclass(frozen=True)
class RandomizationResult:
    """Rank correlations between the trained model's map and the maps of increasingly random copies.

    ``layers[i]``: the layers randomised at step i (top first, cascading); ``correlations[i]``: Spearman
    correlation at step i (0.0 when the random copy's map is blank: nothing of the original is left);
    ``maps[i]``: the copy's map at step i; ``passed``/``verdict``: the judgement of the last step,
    in plain words.
    """

    class_index: int
    method: str
    layer: str
    layers: list
    correlations: np.ndarray
    original_map: object
    maps: list
    passed: bool
    verdict: str

    @property
    def final_correlation(self) -> float:
        """The correlation at the most random step, the one the verdict judges."""
        return float(self.correlations[-1])


def spearman(a, b) -> float:
    """Spearman rank correlation of two maps (ties get their average rank); 0.0 if either is flat."""
    ra, rb = _ranks(np.ravel(a)), _ranks(np.ravel(b))
    if ra.size != rb.size:
        raise ValueError(f"the maps have {ra.size} and {rb.size} values; compare maps of the same shape.")
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = np.sqrt(np.sum(ra * ra) * np.sum(rb * rb))
    return float(np.sum(ra * rb) / denominator) if denominator > 0 else 0.0


def _ranks(values: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(np.asarray(values, np.float64), return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + ends - 1) / 2.0)[inverse.ravel()]


def _is_all(layers) -> bool:
    return isinstance(layers, str) and layers == "all"


def _plan(count: int, layers) -> list[int]:
    """After how many randomised layers (top first) to compare maps."""
    if _is_all(layers):
        return [count]
    if layers is None:
        marks = {1, 2, count} | {max(1, round(count * share)) for share in (0.25, 0.5, 0.75)}
        return sorted(m for m in marks if m <= count)
    n = check_positive_int(layers, "layers")
    return list(range(1, min(n, count) + 1))


def _cascade(available: list, layers):
    """The learned layers to randomise (positions in ``available``, (name, layer name) pairs), top
    first, and the step counts to compare at."""
    if not available:
        raise ValueError("the model has no layer with learned weights to randomise.")
    if layers is None or _is_all(layers) or isinstance(layers, (int, np.integer)):
        return list(range(len(available))), _plan(len(available), layers)
    if isinstance(layers, str):
        layers = [layers]
    by_name = {}
    for position, (name, short) in enumerate(available):
        by_name.setdefault(name, position)
        by_name.setdefault(short, position)
    missing = [name for name in layers if name not in by_name]
    if missing:
        raise ValueError(
            f"no learned layer named {', '.join(map(repr, missing))}. Layers with weights, top "
            f"first: {', '.join(repr(n) for n, _ in available[:12])}"
            f"{' ...' if len(available) > 12 else ''}."
        )
    chosen = [by_name[name] for name in layers]
    return chosen, list(range(1, len(chosen) + 1))


def _extent(randomised: list[str], total: int) -> str:
    if len(randomised) == total:
        return f"all {total} learned layers" if total > 1 else "its only learned layer"
    if len(randomised) == 1:
        return f"the layer {randomised[0]!r}"
    return f"{len(randomised)} of its {total} learned layers (down to {randomised[-1]!r})"


def _verdict(correlations: np.ndarray, steps: list[list[str]], total: int, top: str) -> tuple[bool, str]:
    """Judge the most random copy; add what the first step says when it was the output layer alone."""
    final = float(correlations[-1])
    extent = _extent(steps[-1], total)
    if final <= PASS_CORRELATION:
        passed, text = (
            True,
            (
                f"Passed: with {extent} set to random weights, the map no longer resembles the "
                f"real one (rank correlation {final:.2f}). It depends on what the model learned, "
                f"not just on the picture."
            ),
        )
    elif final <= FAIL_CORRELATION:
        passed, text = (
            False,
            (
                f"Unclear: with {extent} set to random weights, the map still partly "
                f"resembles the real one (rank correlation {final:.2f}). Part of what it shows "
                f"comes from the picture itself (edges, bright or colourful areas), not from "
                f"what the model learned."
            ),
        )
    else:
        passed, text = (
            False,
            (
                f"Failed: with {extent} set to random weights, the map looks much the same "
                f"(rank correlation {final:.2f}). It mostly shows the picture's structure, not "
                f"what the model learned: do not read it as the model's reason."
            ),
        )
    first = float(correlations[0])
    if len(steps) > 1 and steps[0] == [top] and first > FAIL_CORRELATION:
        text += (
            f" Randomising only the output layer {top!r} left the map similar ({first:.2f}): it shows "
            f"where the learned features respond, much the same whichever class you ask about."
        )
    return passed, text


def randomization_check(
    model,
    image,
    class_index=None,
    *,
    method: str = "gradcam",
    layers=None,
    layer=None,
    preprocess=None,
    seed: int = 0,
    progress="auto",
    contrast=None,
    output=None,
) -> RandomizationResult:
    """Cascading randomisation sanity check of one map (Adebayo et al. 2018).

    ``model``: a Keras model or an Explainer (never modified). ``class_index``: None = the top class.
    ``layers``: None = every learned layer, from the output down, compared after the top 1 and 2
    layers and after a quarter, half, three quarters and all of them; ``"all"`` = one comparison with
    every learned layer random (the cheapest); an int n = compare after each of the top n layers; a
    list of names = randomise those, in that order, comparing after each. The verdict judges the last
    (most random) step: a faithful map should no longer resemble the original there. Correlations are
    signed: a negative one means the random map is hot where the real one is cold (it changed).
    ``layer``: the layer the map is computed at (default: the Explainer's). Maps are compared at that
    layer's resolution (upsampling adds no information). ``contrast``: another class; the maps
    compared are then the contrastive maps "why class_index rather than contrast". ``output``: the
    output to explain of a model with several (name or index).
    """
    explainer = as_explainer(model, preprocess, output=output)
    prepared = explainer.prepare(image)
    original = explainer.cam(prepared, class_index, method, layer=layer, contrast=contrast)
    if not original.has_evidence:
        raise ValueError(
            f"the {original.method} map of class {original.class_index} has no positive evidence "
            f"at layer {original.layer!r}, so there is nothing to compare. Check the class the "
            f"model predicts, or another layer."
        )
    copy = explainer.randomized_copy(original.layer)
    available = copy.learned
    chosen, marks = _cascade(available, layers)
    maps, correlations, steps = [], [], []
    done = 0
    with Progress(progress, len(marks), "randomised maps") as bar:
        for mark in marks:
            for k in range(done, mark):
                copy.randomize(chosen[k], seed + k)
            done = mark
            cam = copy.explainer().cam(prepared, original.class_index, original.method, contrast=contrast)
            maps.append(cam)
            correlations.append(spearman(original.raw, cam.raw))
            steps.append([available[k][0] for k in chosen[:mark]])
            bar.advance()
    correlations = np.array(correlations)
    passed, verdict = _verdict(correlations, steps, len(available), available[0][0])
    return RandomizationResult(
        original.class_index, original.method, original.layer, steps, correlations, original, maps, passed, verdict
    )
