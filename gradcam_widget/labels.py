"""Class names for a model's outputs.

Why here: a 1000-output model is almost always an ImageNet classifier, and keras would download the
names at run time, which a notebook without internet cannot do. So the ImageNet-1k names ship as
package data (``data/imagenet_classes.json``, see ``data/make_imagenet_classes.py`` for the source),
and every other size gets neutral names the user can replace.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources

IMAGENET_NUM_CLASSES = 1000


@lru_cache(maxsize=1)
def _imagenet_names() -> tuple[str, ...]:
    text = resources.files("gradcam_widget").joinpath("data/imagenet_classes.json").read_text("utf-8")
    names = tuple(json.loads(text)["names"])
    if len(names) != IMAGENET_NUM_CLASSES:
        raise RuntimeError(
            f"imagenet_classes.json holds {len(names)} names instead of 1000: the "
            f"installation is damaged; reinstall gradcam-widget."
        )
    return names


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names in keras.applications output order (index 0 = "tench")."""
    return list(_imagenet_names())


def _is_index(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _from_mapping(names: Mapping, num_classes: int) -> list[str]:
    """Accept ``{index: name}`` or keras' ``class_indices`` style ``{name: index}``."""
    items = list(names.items())
    if all(_is_index(k) for k, _ in items):
        index_to_name = {int(k): v for k, v in items}
    elif all(_is_index(v) for _, v in items):
        index_to_name = {int(v): k for k, v in items}
    else:
        raise TypeError(
            "a class_names dict must map class index -> name (or name -> index, like keras' class_indices)."
        )
    missing = [i for i in range(num_classes) if i not in index_to_name]
    extra = sorted(k for k in index_to_name if not 0 <= k < num_classes)
    if missing or extra or len(index_to_name) != len(items):
        raise ValueError(
            f"class_names must name each class index 0..{num_classes - 1} exactly once; "
            f"missing {missing[:5]}, out of range {extra[:5]}."
        )
    return [str(index_to_name[i]) for i in range(num_classes)]


def class_names_for(num_classes: int, class_names=None) -> list[str]:
    """Return one display name per class index.

    ``class_names`` given: validated (one name per model output, in output order; a list, tuple,
    array or dict). Not given: the ImageNet names for 1000 classes, else ``"class 0"``, ``"class 1"``...
    """
    if not _is_index(num_classes) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}.")
    if class_names is None:
        if num_classes == IMAGENET_NUM_CLASSES:
            return imagenet_class_names()
        return [f"class {i}" for i in range(int(num_classes))]
    if isinstance(class_names, (str, bytes)):
        raise TypeError(f"class_names must be a list of names, one per class, not a single string ({class_names!r}).")
    if isinstance(class_names, Mapping):
        return valid_unicode(_from_mapping(class_names, num_classes))
    try:
        names = [str(n) for n in class_names]
    except TypeError:
        raise TypeError(f"class_names must be a list of names, got {type(class_names).__name__}.") from None
    if len(names) != num_classes:
        raise ValueError(
            f"class_names has {len(names)} names but the model has {num_classes} classes. "
            f"Pass one name per model output, in output order."
        )
    return valid_unicode(names)


def valid_unicode(names: list[str]) -> list[str]:
    """The names with invalid Unicode (lone surrogates, e.g. from bytes decoded with
    ``surrogateescape``) replaced by U+FFFD, with a warning naming them: such text cannot be sent to
    the browser or written to a notebook."""
    bad = [i for i, name in enumerate(names) if not _encodes(name)]
    if not bad:
        return names
    import warnings

    shown = ", ".join(f"class_names[{i}]" for i in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    warnings.warn(
        f"{shown} contain{'s' if len(bad) == 1 else ''} invalid Unicode (a lone surrogate), "
        f"shown as \ufffd (U+FFFD). Decode the names as UTF-8 text before passing class_names.",
        UserWarning,
        stacklevel=3,
    )
    cleaned = list(names)
    for i in bad:
        cleaned[i] = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in names[i])
    return cleaned


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
