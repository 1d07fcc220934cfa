"""``%gradcam model img [options]``: the widget in one line, after ``%load_ext gradcam_widget``.

Arguments are *names* of notebook variables, looked up in the user namespace (dotted attribute names
allowed). Nothing is ever evaluated, so a typo gives a clear "not defined" message, never code
execution.
"""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring


def _lookup(namespace: dict, name: str, role: str):
    """Value of a variable name or dotted attribute path (``data.images``) in ``namespace``."""
    parts = name.split(".")
    if not all(part.isidentifier() for part in parts):
        raise UsageError(
            f"%gradcam: {role} must be a variable name, got {name!r}. Assign it first, e.g. "
            f"`x = ...`, then `%gradcam model x`."
        )
    if parts[0] not in namespace:
        raise UsageError(
            f"%gradcam: name {parts[0]!r} ({role}) is not defined in the notebook. Define it "
            f"in a cell first, or check the spelling."
        )
    value = namespace[parts[0]]
    for depth, part in enumerate(parts[1:], start=1):
        if not hasattr(value, part):
            raise UsageError(f"%gradcam: {'.'.join(parts[:depth])!r} has no attribute {part!r} ({role}).")
        value = getattr(value, part)
    return value


@magics_class
class GradCAMMagics(Magics):
    """Holds the ``%gradcam`` line magic."""

    @magic_arguments()
    @argument("model", help="name of a Keras model (or a gradcam_widget.Explainer) variable")
    @argument("image", help="name of an image variable (path, PIL image, array or tensor)")
    @argument(
        "--top-k", type=int, default=None, help="number of top classes precomputed (default 5, or all when fewer)"
    )
    @argument("--method", default="gradcam", help="CAM method (default gradcam)")
    @argument("--layer", default=None, help="target layer name (default: chosen automatically)")
    @argument("--colormap", default="jet", help="jet, viridis, inferno or turbo (default jet)")
    @argument("--opacity", type=float, default=0.4, help="overlay opacity in [0, 1] (default 0.4)")
    @argument("--class-names", default=None, help="name of a variable holding the class names")
    @argument("--preprocess", default=None, help="name of the model's preprocessing function variable")
    @argument(
        "--display-image",
        default=None,
        help="name of a variable holding the picture to show (e.g. the original of a preprocessed array)",
    )
    @argument(
        "--output",
        default=None,
        help="the output to explain of a model with several: its name, or its index as a number",
    )
    @line_magic
    def gradcam(self, line: str):
        """Show the Grad-CAM widget: ``%gradcam model img [--top-k 5] [--method gradcam] ...``."""
        try:
            args = parse_argstring(self.gradcam, line)
        except UsageError as err:
            raise UsageError(
                f"%gradcam: {err}. Usage: %gradcam MODEL IMAGE [--top-k N] [--method M] "
                f"[--layer NAME] [--colormap C] [--opacity X] [--class-names NAME] "
                f"[--preprocess NAME] [--display-image NAME] [--output NAME|INDEX]"
            ) from None
        ns = self.shell.user_ns
        model = _lookup(ns, args.model, "model")
        image = _lookup(ns, args.image, "image")
        class_names = None if args.class_names is None else _lookup(ns, args.class_names, "--class-names")
        preprocess = None if args.preprocess is None else _lookup(ns, args.preprocess, "--preprocess")
        shown = None if args.display_image is None else _lookup(ns, args.display_image, "--display-image")
        output = int(args.output) if args.output is not None and args.output.lstrip("-").isdigit() else args.output
        from .widget import show_gradcam

        try:
            return show_gradcam(
                model,
                image,
                class_names=class_names,
                top_k=args.top_k,
                layer=args.layer,
                method=args.method,
                preprocess=preprocess,
                colormap=args.colormap,
                opacity=args.opacity,
                display_image=shown,
                output=output,
            )
        except (ValueError, TypeError, FileNotFoundError) as err:
            raise UsageError(f"%gradcam: {err}") from None


def load_ipython_extension(ipython) -> None:
    """Register ``%gradcam`` (called by ``%load_ext gradcam_widget``)."""
    ipython.register_magics(GradCAMMagics)
