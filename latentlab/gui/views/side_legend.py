"""A plot legend that sits beside the plot's view box instead of over the data.

pyqtgraph's own legend floats inside the view box: it hides the points or curves beneath
it (and, on the latent plane, the probe and its label). :func:`add_side_legend` puts one
in the plot item's layout, to the right of the view box, so nothing drawn can be under it.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy

# The PlotItem's layout: title row 0; top axis, view box and bottom axis in rows 1-3;
# left axis, view box and right axis in columns 0-2. Column 3 is free.
_VIEW_ROW, _FREE_COLUMN = 2, 3
_GAP_PX = 6   # between the view box and the legend


class SideLegend(pg.LegendItem):
    """A legend laid out by its plot item (it neither places itself nor can be dragged)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(offset=None, **kwargs)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def updateSize(self) -> None:  # noqa: N802 (pyqtgraph's name)
        # The base class sets its own geometry, which a layout would overwrite at once;
        # here the layout is told the size changed and places the legend itself.
        self.layout.invalidate()
        self.updateGeometry()
        parent = self.parentLayoutItem()
        if parent is not None:
            parent.updateGeometry()

    def mouseDragEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph's name)
        ev.ignore()   # a legend in a layout stays where the layout puts it


def add_side_legend(plot_item: pg.PlotItem, **kwargs: Any) -> SideLegend:
    """A :class:`SideLegend` to the right of ``plot_item``'s view box, top-aligned.

    Like ``PlotItem.addLegend`` it becomes ``plot_item.legend``, so curves plotted later
    with a ``name`` are listed in it.
    """
    legend = SideLegend(**kwargs)
    plot_item.legend = legend
    plot_item.layout.addItem(legend, _VIEW_ROW, _FREE_COLUMN)
    plot_item.layout.setColumnSpacing(_FREE_COLUMN - 1, _GAP_PX)
    plot_item.layout.setAlignment(legend, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    return legend
