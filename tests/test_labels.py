"""Class names: the shipped ImageNet list and the validation of user-given names."""

import json
from importlib import resources

import numpy as np
import pytest

from gradcam_widget.labels import class_names_for, imagenet_class_names


def test_imagenet_names_are_in_keras_order():
    names = imagenet_class_names()
    assert len(names) == 1000
    assert names[0] == "tench"
    assert names[1] == "goldfish"
    assert names[207] == "golden retriever"
    assert names[281] == "tabby"
    assert names[999] == "toilet tissue"


def test_imagenet_names_are_unique_and_clean():
    names = imagenet_class_names()
    assert len(set(names)) == 1000
    assert all(n and n == n.strip() and "," not in n for n in names)
    # The two classes keras calls "crane" are told apart.
    assert names[134] != names[517]


def test_shipped_wnids_are_sorted_like_keras_applications():
    doc = json.loads(resources.files("gradcam_widget").joinpath("data/imagenet_classes.json").read_text())
    assert doc["wnids"][0] == "n01440764"  # tench
    assert doc["wnids"] == sorted(doc["wnids"])
    assert len(set(doc["wnids"])) == 1000


def test_imagenet_names_returns_a_copy():
    imagenet_class_names()[0] = "changed"
    assert imagenet_class_names()[0] == "tench"


def test_default_names_for_1000_classes_are_imagenet():
    assert class_names_for(1000)[:2] == ["tench", "goldfish"]


def test_default_names_for_other_sizes():
    assert class_names_for(3) == ["class 0", "class 1", "class 2"]
    assert class_names_for(np.int64(2)) == ["class 0", "class 1"]


def test_user_names_are_kept_as_strings():
    assert class_names_for(3, ("cat", "dog", 7)) == ["cat", "dog", "7"]
    assert class_names_for(2, np.array(["no", "yes"])) == ["no", "yes"]


def test_user_names_override_imagenet_for_1000_classes():
    names = [f"n{i}" for i in range(1000)]
    assert class_names_for(1000, names) == names


def test_wrong_length_is_rejected_with_counts():
    with pytest.raises(ValueError, match=r"2 names but the model has 3 classes"):
        class_names_for(3, ["a", "b"])


def test_single_string_is_rejected():
    with pytest.raises(TypeError, match="not a single string"):
        class_names_for(3, "abc")


def test_not_iterable_is_rejected():
    with pytest.raises(TypeError, match="list of names"):
        class_names_for(3, 5)


def test_index_to_name_dict():
    assert class_names_for(2, {1: "dog", 0: "cat"}) == ["cat", "dog"]


def test_keras_class_indices_dict():
    assert class_names_for(2, {"dog": 1, "cat": np.int64(0)}) == ["cat", "dog"]


def test_dict_with_gap_is_rejected():
    with pytest.raises(ValueError, match=r"missing \[1\]"):
        class_names_for(3, {0: "a", 2: "c", 5: "x"})


def test_dict_with_duplicate_index_is_rejected():
    with pytest.raises(ValueError, match="exactly once"):
        class_names_for(2, {"a": 0, "b": 0, "c": 1})


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, None])
def test_bad_num_classes(bad):
    with pytest.raises(ValueError, match="positive int"):
        class_names_for(bad)
