"""Exported notebooks show the widget's still picture even when the notebook saved widget state.

``jupyter nbconvert --to html`` renders an output's widget view whenever the notebook's metadata
holds that widget's state (nbclient and ``nbconvert --execute`` save it; JupyterLab and Notebook 7
do not, unless "Save widget state" is on). The page then loads a widget renderer from a CDN, and
offline the reader sees nothing. This preprocessor drops the widget view from GradCAMWidget
outputs (recognised by the still picture they carry), so the exported page shows the picture::

    jupyter nbconvert --to html --Exporter.preprocessors=gradcam_widget.still_pictures.StillPictures nb.ipynb

Other widgets' outputs are left alone.
"""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: The marker of the still picture GradCAMWidget puts in its text/html (gradcam_widget/static_view.py).
MARKER = 'data-testid="gcw-static"'


class StillPictures(Preprocessor):
    """Remove the widget view from outputs that carry a gradcam-widget still picture."""

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and MARKER in str(data.get("text/html", "")):
                del data[WIDGET_VIEW]
        return cell, resources
