"""``latentlab.show(model=..., data=..., labels=...)``: open the window on an in-memory model and data.

Everything that can go wrong with the arguments is checked here, before Qt is imported, so a
script gets one clear :class:`~latentlab.core.errors.LatentLabError` instead of a window that
cannot show anything. The GUI is imported only when the checks pass.

What this asks of the GUI (``latentlab.gui``): a function
``latentlab.gui.adopt.show_window(model, data, *, title, block) -> int`` that makes (or reuses)
the ``QApplication``, builds the main window and its controller, hands it the model and data as
they are (``Session.set_model(model, meta={}, path=None)`` then ``Session.set_data(data)``,
the same calls the start-up code uses; no file is read), and when ``block`` runs the event loop
until the window closes and returns its exit status. The model is any
:class:`~latentlab.core.models.base.LatentModel`, including a wrapped
:class:`~latentlab.core.adapters.ExternalModel`: a generator's ``config.capabilities.encoder``
is False, so data is placed with :func:`~latentlab.core.adapters.grid_search_codes` instead of
encoded; such a model cannot be saved, so "Save model" must say what
``latentlab.save_model`` says.
"""

from __future__ import annotations

import importlib
from typing import Any

from latentlab.core.errors import LatentLabError

__all__ = ["prepare", "show"]

GUI_ENTRY = ("latentlab.gui.adopt", "show_window")


def prepare(model: Any = None, data: Any = None, labels: Any = None, **wrap_options: Any) -> tuple[Any, Any]:
    """Check and convert ``show``'s arguments: ``(LatentModel or None, Dataset or None)``.

    ``model`` is a LatentLab model, a module with ``encode``/``decode`` (wrapped with
    ``wrap_options``, see :class:`~latentlab.core.adapters.ExternalModel`) or a path to a saved
    model; ``data`` anything :func:`latentlab.api.as_dataset` takes.
    """
    import os

    from latentlab import api
    from latentlab.core import inference

    if model is None and data is None:
        raise LatentLabError("show() needs a model, data, or both")
    if isinstance(model, (str, os.PathLike)):
        if wrap_options:
            raise LatentLabError("wrapping options apply to a module, not to a saved model's path")
        model = api.load_model(model)
    elif model is not None:
        model = api.wrap(model, **wrap_options)
    dataset = api.as_dataset(data, labels) if data is not None else None
    if labels is not None and data is None:
        raise LatentLabError("labels were given without data")
    if model is not None and dataset is not None:
        inference.check_compatible(model.config, dataset)
    return model, dataset


def show(model: Any = None, data: Any = None, labels: Any = None, *, title: str | None = None,
         block: bool = True, **wrap_options: Any) -> int:
    """Open LatentLab's window on ``model`` and ``data``; returns when the window closes.

    See :func:`prepare` for what the arguments may be. ``block=False`` returns at once (for an
    interactive session that runs its own Qt event loop).
    """
    model, dataset = prepare(model, data, labels, **wrap_options)
    module_name, function = GUI_ENTRY
    try:
        entry = getattr(importlib.import_module(module_name), function)
    except ImportError as exc:
        if exc.name == module_name:
            raise LatentLabError("this version of the LatentLab window cannot open an in-memory model yet") from None
        raise LatentLabError(f"the LatentLab window cannot be opened here: {exc}. Install the app's "
                             "dependencies (PySide6, pyqtgraph, superqt) or use the command line") from None
    except AttributeError:
        raise LatentLabError("this version of the LatentLab window cannot open an in-memory model yet") from None
    return int(entry(model, dataset, title=title, block=block) or 0)
