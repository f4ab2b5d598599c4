"""Latent tools for the GUI: interpolation, traversal, attribute vectors, bookmarks, export.

:class:`ToolsController` keeps the state and talks to the host through plain callables;
the panels are self-contained widgets over one controller, ready to sit in dock widgets:

- :class:`InterpolationPanel` (``"interpolationPanel"``)
- :class:`TraversalPanel` (``"traversalPanel"``)
- :class:`AttributePanel` (``"attributePanel"``)
- :class:`BookmarksPanel` (``"bookmarksPanel"``)

:mod:`.export_dialogs` asks for a file and writes with the core exporters;
:func:`collect_session` / :func:`apply_session` convert to and from a core session.
"""

from __future__ import annotations

from latentlab.gui.tools.attributes import AttributePanel
from latentlab.gui.tools.bookmarks import BookmarksPanel
from latentlab.gui.tools.interpolation import InterpolationPanel
from latentlab.gui.tools.session_io import apply_session, collect_session
from latentlab.gui.tools.strip import FrameStrip
from latentlab.gui.tools.tools_controller import NamedCode, ToolsController
from latentlab.gui.tools.traversal import TraversalPanel

__all__ = [
    "AttributePanel",
    "BookmarksPanel",
    "FrameStrip",
    "InterpolationPanel",
    "NamedCode",
    "ToolsController",
    "TraversalPanel",
    "apply_session",
    "collect_session",
]
