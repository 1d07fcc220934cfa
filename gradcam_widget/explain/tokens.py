"""Vision-transformer token layers as maps: patch tokens (N, T, D) read as an (N, h, w, D) grid.

A token layer's output holds ``skip`` leading class/register tokens, then h x w patch tokens in row-major
order (ViT, DeiT, DINOv2 and the keras.io ViT all put them so). The grid comes from the model when it
says: a layer with a ``patch_size`` (the patch embedding) and the model's input size give h and w, the
rest of the tokens are the leading extras; else a spatial (N, h, w, c) tensor of the graph (a strided
conv that made the patches) must have the grid's size. Only a model with neither is read from the
token count alone: an h x w grid of the input's aspect ratio plus at most :data:`MAX_EXTRA` leading
tokens. The CAM methods then run on
the grid unchanged; the explainer keeps the full token tensor (the class token feeds the head) and only
reshapes activations and gradients for the methods.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Most leading non-patch tokens accepted (a class token, a distillation token, a few registers).
MAX_EXTRA = 8


@dataclass(frozen=True)
class TokenGrid:
    """Where the patch tokens sit in a token tensor: ``skip`` leading tokens, then height x width."""

    height: int
    width: int
    skip: int

    def to_grid(self, tokens):
        """(N, T, D) tokens -> (N, height, width, D) patch grid (extra tokens dropped)."""
        import tensorflow as tf

        patches = tokens[:, self.skip : self.skip + self.height * self.width]
        return tf.reshape(patches, (-1, self.height, self.width, tokens.shape[-1]))


def patch_size_of(graph):
    """(ph, pw) from the first layer of the graph that declares a ``patch_size``, or None."""
    for flat in graph.nodes:
        size = getattr(flat.operation, "patch_size", None)
        if isinstance(size, int) and not isinstance(size, bool) and size > 0:
            return (size, size)
        if isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(d, int) and d > 0 for d in size):
            return (int(size[0]), int(size[1]))
    return None


def spatial_sizes(graph) -> set:
    """(h, w) of every spatial (N, h, w, c) tensor of the graph smaller than its input (the image itself,
    rescaled or augmented, says nothing about patches), known sizes only."""
    image = tuple(graph.inputs[0].shape[1:3])
    sizes = set()
    for flat in graph.nodes:
        for tensor in flat.node.outputs:
            shape = tuple(tensor.shape)
            if len(shape) == 4 and shape[1] is not None and shape[2] is not None:
                sizes.add((int(shape[1]), int(shape[2])))
    return sizes - {image}


def find_grid(tokens: int | None, image_size, patch, sizes=frozenset()) -> TokenGrid | None:
    """The patch grid of a layer with ``tokens`` tokens, or None when it is not a patch-token layer.

    ``patch``: the model's patch size, if a layer declares one; ``sizes``: the (h, w) of the graph's
    spatial tensors (see :func:`spatial_sizes`)."""
    if tokens is None or tokens < 4:
        return None
    height, width = image_size if image_size is not None else (None, None)
    if patch is not None and height is not None and width is not None:
        gh, gw = height // patch[0], width // patch[1]
        if gh * gw > 1 and 0 <= tokens - gh * gw <= MAX_EXTRA:
            return TokenGrid(gh, gw, tokens - gh * gw)
        return None  # the model says where its patches are, and this layer does not hold them
    for skip in range(MAX_EXTRA + 1):
        if sizes:  # the grid of a spatial tensor of the model (its patch embedding)
            found = [s for s in sizes if s[0] * s[1] == tokens - skip and s[0] * s[1] > 1]
            grid = found[0] if len(found) == 1 else None
        else:
            grid = _grid_of(tokens - skip, height, width)
        if grid is not None:
            return TokenGrid(grid[0], grid[1], skip)
    return None


def _grid_of(count: int, height, width):
    """(h, w) with h * w == count and h : w the image's aspect ratio (square when it is unknown)."""
    if count < 4:
        return None
    for gh in range(2, count + 1):
        if count % gh:
            continue
        gw = count // gh
        if (height is None or width is None) and gh == gw:
            return gh, gw
        if height is not None and width is not None and gh * width == gw * height:
            return gh, gw
    return None
