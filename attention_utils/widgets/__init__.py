"""Interactive explorers for the lessons (ipywidgets), one module per concept.

Each explorer is a function that builds an :class:`Explorer` from plain data (tensors, lists, a
trained model), so a unit test can set a control's ``value`` and assert what the output now shows
(``explorer.state``) without a browser. A lesson's widget cell is one or two lines, for example::

    from attention_utils.widgets import kernels
    kernels.width_explorer(x_train, y_train, x_test)

Every explorer has a static twin in its lesson (a figure drawn from the same function), for readers on
GitHub, nbviewer or the book, where widgets do not run. This package is not imported by
``attention_utils`` itself, so importing the helpers never needs ipywidgets.

Only API that ipywidgets 7.7 (Colab) and 8 both have is used: ``observe(..., names="value")``,
``Image``, ``HTML``, ``Output``, the ordinary controls, ``VBox``/``HBox``.
"""

from ._base import Explorer, LiveFigure, figure_png

__all__ = ["Explorer", "LiveFigure", "figure_png"]
