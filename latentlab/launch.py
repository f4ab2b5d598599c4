"""``latentlab.show(model=..., data=..., labels=...)``: open the window on an in-memory model and data.

Everything that can go wrong with the arguments is checked here, before Qt is imported, so a
script gets one clear :class:`~latentlab.core.errors.LatentLabError` instead of a window that
cannot show anything. The GUI is imported only when the checks pass.

The window's half is :func:`latentlab.gui.adopt.show_window` (``show_window(model, data, *,
title, block) -> int``): it makes (or reuses) the ``QApplication``, builds the main window and
its :class:`~latentlab.gui.controller.AppController` and hands them the model and data as they
are (``set_data(data)``, then ``set_model(model, meta=..., path=None)``, the calls the app's
start-up makes after reading files; nothing is read here). In a plain script it runs the event
loop until the window closes and returns its exit status; with ``block=False``, or when a Qt
loop already runs (IPython or Jupyter with ``%gui qt``), it returns 0 at once and keeps the
window alive until it closes. A Jupyter kernel without a Qt loop is given one rather than blocked.

The model is any :class:`~latentlab.core.models.base.LatentModel`, including a wrapped
:class:`~latentlab.core.adapters.ExternalModel`. A generator (``config.capabilities.encoder``
False) has its data placed by search rather than encoded. A wrapped model cannot be written
as a LatentLab model file: the window's Save says what :func:`latentlab.save_model` says
(:func:`latentlab.core.adapters.save_refusal`: its weights as safetensors, its code the
person's own).
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
    elif model is not None or wrap_options:   # show(decoder=g, latent_dim=2): a generator alone
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

    See :func:`prepare` for what the arguments may be. ``block=False`` returns at once and the
    window stays open (for an interactive session that runs its own Qt event loop); so does a
    call made while a Qt event loop runs already (IPython or Jupyter with ``%gui qt``).
    ``title`` names the model in the window's title.
    """
    model, dataset = prepare(model, data, labels, **wrap_options)
    module_name, function = GUI_ENTRY
    try:
        entry = getattr(importlib.import_module(module_name), function)
    except ImportError as exc:
        raise LatentLabError(f"the LatentLab window cannot be opened here: {exc}. Install the app's "
                             "dependencies (PySide6, pyqtgraph, superqt) or use the command line") from None
    return int(entry(model, dataset, title=title, block=block) or 0)
