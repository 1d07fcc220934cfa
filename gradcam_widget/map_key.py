"""Which map a request asks for: one value used by the widget's caches, its status, the payloads it
sends and the trust report, instead of (class, method, layer) passed by hand (see docs/protocol.md)."""

from __future__ import annotations

from typing import NamedTuple


class MapKey(NamedTuple):
    """One map request: the class explained, the method, the layer; ``contrast`` the class explained
    against (a contrastive map), ``output`` room for the output of a multi-output model (None: the
    model's only or chosen one). Hashable, so it keys caches directly."""

    class_index: int
    method: str
    layer: str
    contrast: int | None = None
    output: str | None = None

    def wire(self) -> dict:
        """The fields the browser matches a map, status or report on. ``contrast``/``output`` only when
        set, so an ordinary widget's messages stay exactly as docs/protocol.md lists them."""
        fields = {"class_index": int(self.class_index), "method": str(self.method), "layer": str(self.layer)}
        if self.contrast is not None:
            fields["contrast"] = int(self.contrast)
        if self.output is not None:
            fields["output"] = str(self.output)
        return fields

    def for_class(self, class_index: int) -> MapKey:
        """The same request for another class."""
        return self._replace(class_index=int(class_index))

    def view(self) -> tuple:
        """(method, layer, contrast, output): what the top-k batch of maps has in common."""
        return self.method, self.layer, self.contrast, self.output
