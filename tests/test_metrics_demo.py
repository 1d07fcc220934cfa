"""Trust metrics on the shipped demo models: Grad-CAM must beat random maps where the answer is known.

The debiased shortcut model classifies by the animal, so removing the pixels Grad-CAM ranks highest
must hurt it sooner than removing random pixels, and a copy with random weights must give a map
unlike the real one. Test scenes use a seed the models were not trained on (training used seed 0).
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcam_widget import Explainer  # noqa: E402
from gradcam_widget.demo import load_model, make_shortcut_dataset  # noqa: E402
from gradcam_widget.metrics import (
    deletion,
    energy_in_region,
    insertion,
    pointing_game,  # noqa: E402
    randomization_check,
)

N_IMAGES = 50
SEED = 7


def _model(name):
    return load_model(name)  # shipped in the package: a missing file is a failure, not a skip


@pytest.fixture(scope="module")
def scenes():
    return make_shortcut_dataset(N_IMAGES, seed=SEED, background_bias=1 / 3)  # ground gives nothing away


@pytest.fixture(scope="module")
def debiased(scenes):
    explainer = Explainer(_model("shortcut-debiased"))
    return explainer, explainer.cams_batch(scenes.images, None)


def _mean_aucs(explainer, images, maps, classes):
    kw = dict(progress=False)
    dele = [deletion(explainer, x, m, c, **kw).auc for x, m, c in zip(images, maps, classes)]
    ins = [insertion(explainer, x, m, c, **kw).auc for x, m, c in zip(images, maps, classes)]
    return float(np.mean(dele)), float(np.mean(ins))


def test_gradcam_deletes_and_inserts_better_than_random_maps(scenes, debiased):
    explainer, cams = debiased
    classes = [c.class_index for c in cams]
    rng = np.random.default_rng(0)
    randoms = [rng.random(c.shape) for c in cams]
    cam_del, cam_ins = _mean_aucs(explainer, scenes.images, cams, classes)
    rand_del, rand_ins = _mean_aucs(explainer, scenes.images, randoms, classes)
    # measured: deletion about 0.41 vs 0.69, insertion 0.97 vs 0.67
    assert cam_del < rand_del - 0.1, (cam_del, rand_del)
    assert cam_ins > rand_ins + 0.1, (cam_ins, rand_ins)


def test_randomised_copies_give_unrelated_gradcam_maps(scenes, debiased):
    explainer, cams = debiased
    weights = [w.copy() for w in explainer.model.get_weights()]
    results = [
        randomization_check(explainer, x, c.class_index, layers="all", progress=False)
        for x, c in list(zip(scenes.images, cams))[:20]
        if c.has_evidence
    ]
    finals = np.array([r.final_correlation for r in results])
    drawn = np.array([r.maps[-1].has_evidence for r in results])  # about half the random maps are blank
    assert len(finals) >= 15 and drawn.sum() >= 5
    assert finals.mean() <= 0.3 and finals[drawn].mean() <= 0.3, finals  # measured: about 0.01 and 0.02
    assert all(np.array_equal(a, b) for a, b in zip(weights, explainer.model.get_weights()))


def test_pointing_game_tells_the_shortcut_model_from_the_debiased_one(scenes, debiased):
    animals = [i for i in range(N_IMAGES) if scenes.masks[i].any()]
    biased = Explainer(_model("shortcut-biased")).cams_batch(scenes.images[animals], None)
    fair = [debiased[1][i] for i in animals]
    masks = scenes.masks[animals]
    fair_hits = np.mean([pointing_game(m, mask).hit for m, mask in zip(fair, masks)])
    biased_hits = np.mean([pointing_game(m, mask).hit for m, mask in zip(biased, masks)])
    area = masks.mean()
    fair_energy = np.mean([energy_in_region(m, mask) for m, mask in zip(fair, masks)])
    biased_energy = np.mean([energy_in_region(m, mask) for m, mask in zip(biased, masks)])
    # measured: hits about 0.97 vs 0.00; energy 0.31 vs 0.07, the animal covering 10 % of the image
    assert fair_hits > 0.6 and biased_hits < 0.2
    assert fair_energy > 2 * area > biased_energy
