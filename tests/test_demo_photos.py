"""The real demo photos, the numpy reader of the legacy torch file, and the composite maker (no model)."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from gradcam_widget.demo import OBJECTS, PHOTO_SOURCES, imagenet_crop, make_composites, photos, textures
from gradcam_widget.demo import composites as comp
from gradcam_widget.demo.imagenet import weights_file
from gradcam_widget.demo.torch_pickle import read_state_dict


# --- photos and textures ---------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the demo data tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_every_photo_and_texture_is_shipped_and_read_offline(no_network):
    shots = photos()
    assert list(shots) == list(PHOTO_SOURCES)
    for name, img in {**shots, **textures()}.items():
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, name
        assert min(img.shape[:2]) >= 256 and img.std() > 10, name  # a real picture, big enough to crop
    assert set(textures()) == {"grass", "gravel", "brick"}


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="chelsea"):
        photos("garfield")
    with pytest.raises(ValueError, match="gravel"):
        textures("sand")


def test_imagenet_crop_is_the_centre_of_the_short_side_resize():
    img = photos("chelsea")["chelsea"]  # 300 x 451
    crop = imagenet_crop(img)
    assert crop.shape == (224, 224, 3) and crop.dtype == np.uint8
    # a photo already 256 on its short side is only cropped: the centre pixels come out unchanged
    tall = np.random.default_rng(0).integers(0, 256, (300, 256, 3), dtype=np.uint8)
    assert np.array_equal(imagenet_crop(tall), tall[38:262, 16:240])
    with pytest.raises(ValueError, match="uint8 RGB"):
        imagenet_crop(img / 255.0)


# --- the numpy reader of the legacy torch file -----------------------------------------------------


def test_reader_finds_every_tensor_of_the_lite0_file():
    path, version = weights_file()
    state = read_state_dict(path)
    assert version == "0.1.0"
    assert len(state) == 296
    assert sum(v.size for v in state.values()) == 4_694_073
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280) and state["_fc.weight"].dtype == np.float32
    assert state["_bn0.num_batches_tracked"].dtype == np.int64
    # trained BatchNorm statistics, not zeros / ones
    assert np.all(state["_bn1.running_var"] > 1) and np.ptp(state["_bn0.running_mean"]) > 0.1


def test_reader_refuses_a_file_that_is_not_a_legacy_torch_file(tmp_path):
    import pickle

    bad = tmp_path / "x.pth"
    bad.write_bytes(pickle.dumps(12345) * 3)
    with pytest.raises(ValueError, match="magic number"):
        read_state_dict(bad)


# --- composites ------------------------------------------------------------------------------------


def test_composites_have_the_object_where_their_box_says():
    scenes = make_composites(8, seed=3)
    assert [c.object for c in scenes] == [*OBJECTS, *OBJECTS]
    for c in scenes:
        assert c.image.shape == (224, 224, 3) and c.image.dtype == np.uint8
        x0, y0, x1, y1 = c.box
        ys, xs = np.nonzero(c.mask)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x0, y0, x1, y1)
        assert c.mask.sum() > 0.1 * 224 * 224 * 0.45**2  # a real object, not a speck
        assert c.texture in ("grass", "gravel", "brick")


def test_paste_puts_the_cut_object_at_the_given_place():
    background = np.zeros((224, 224, 3), np.uint8)
    image, mask = comp.paste(background, "cup", 30, 50, 100)
    patch, _ = comp.cut("cup")
    ys, xs = np.nonzero(mask)
    assert xs.min() >= 30 and ys.min() >= 50 and xs.max() < 130 and ys.max() < 150
    assert np.all(image[~mask].astype(int) <= image[mask].max())
    assert image[0, 0].tolist() == [0, 0, 0] and image[100, 80].any()  # untouched outside, object inside
    # the object's colours: the middle of the pasted cup matches the middle of the cut patch
    h, w = patch.shape[:2]
    mid = patch[h // 2 - 5 : h // 2 + 5, w // 2 - 5 : w // 2 + 5].reshape(-1, 3).mean(0)
    cy, cx = int(ys.mean()), int(xs.mean())
    pasted = image[cy - 3 : cy + 3, cx - 3 : cx + 3].reshape(-1, 3).mean(0)
    assert np.abs(mid - pasted).max() < 25
    with pytest.raises(ValueError, match="does not fit"):
        comp.paste(background, "cup", 200, 0, 100)


def test_composites_are_reproducible_per_seed_and_differ_across_seeds():
    a, b, c = (make_composites(3, seed=s) for s in (5, 5, 6))
    assert all(np.array_equal(x.image, y.image) and x.box == y.box for x, y in zip(a, b))
    assert any(x.box != z.box for x, z in zip(a, c))


def test_label_for_uses_the_family():
    scene = make_composites(1, seed=0, objects="cat face")[0]
    assert scene.label_for(285) == 285  # Egyptian cat names a cat: correct
    assert scene.label_for(849) == OBJECTS["cat face"].canonical  # teapot: wrong, shown against tiger cat
    with pytest.raises(ValueError, match="unknown object"):
        make_composites(1, objects="dog")


def test_missing_scikit_image_is_a_clear_error(monkeypatch):
    import importlib

    photos_module = importlib.import_module("gradcam_widget.demo.photos")  # the module, not the function

    real = photos_module.resources.files

    def files(package):
        if package == "skimage":
            raise ModuleNotFoundError("No module named 'skimage'")
        return real(package)

    monkeypatch.setattr(photos_module.resources, "files", files)
    with pytest.raises(ModuleNotFoundError, match="pip install scikit-image"):
        photos("coffee")
    assert photos("grace_hopper")["grace_hopper"].shape == (600, 512, 3)  # matplotlib's still works
