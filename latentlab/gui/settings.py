"""Remembered preferences: window layout, the training panel's choices and recent models.

Everything lives in one INI-format ``QSettings`` (organisation and application
"LatentLab"), so it reads the same on every platform and tests can point it at a
temporary folder with ``QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, dir)``.
Structured values are stored as JSON text: ``QSettings`` turns lists and dicts into
platform-dependent types otherwise (a one-item list comes back as a string).
"""

from __future__ import annotations

import json
import os
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "LatentLab"
APPLICATION = "LatentLab"
MAX_RECENT = 8

_RECENT_KEY = "files/recentModels"
# The person's own choices in the training panel. Kept apart from any model's description:
# a model opened or loaded at start-up never overwrites what the person chose to train next.
_CHOICES_KEY = "training/choices"
_OLD_TRAINING_KEY = "training/lastSettings"   # written by earlier versions on Start
_GEOMETRY_KEY = "window/geometry"
_STATE_KEY = "window/state"


SETTINGS_DIR_ENV = "LATENTLAB_SETTINGS_DIR"


def app_settings() -> QSettings:
    """The application's settings store (INI format, per user).

    With ``LATENTLAB_SETTINGS_DIR`` set, the store is ``LatentLab.ini`` in that folder instead:
    benchmarks and smoke checks use it so they never touch a person's own preferences.
    """
    folder = os.environ.get(SETTINGS_DIR_ENV)
    if folder:
        return QSettings(os.path.join(folder, f"{APPLICATION}.ini"), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)


def _read_json(settings: QSettings, key: str, default: Any) -> Any:
    raw = settings.value(key, None)
    if not isinstance(raw, str) or not raw:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        # A hand-edited or damaged entry must not stop the app from starting.
        return default


def _write_json(settings: QSettings, key: str, value: Any) -> None:
    settings.setValue(key, json.dumps(value))


def recent_models(settings: QSettings | None = None) -> list[str]:
    """Recently opened or saved model paths, newest first, only those that still exist."""
    settings = settings or app_settings()
    paths = _read_json(settings, _RECENT_KEY, [])
    if not isinstance(paths, list):
        return []
    return [p for p in paths if isinstance(p, str) and os.path.exists(p)]


def add_recent_model(path: str, settings: QSettings | None = None) -> list[str]:
    """Put ``path`` first in the recent list (no duplicates, at most ``MAX_RECENT``)."""
    settings = settings or app_settings()
    path = os.path.abspath(path)
    paths = [p for p in recent_models(settings) if os.path.abspath(p) != path]
    paths = [path, *paths][:MAX_RECENT]
    _write_json(settings, _RECENT_KEY, paths)
    settings.sync()
    return paths


def clear_recent_models(settings: QSettings | None = None) -> None:
    """Forget every recent model."""
    settings = settings or app_settings()
    settings.remove(_RECENT_KEY)
    settings.sync()


def training_choices(settings: QSettings | None = None) -> dict[str, Any]:
    """The training panel's last choices (see :func:`save_training_choices`), or ``{}``.

    Falls back to what earlier versions remembered at each Start.
    """
    settings = settings or app_settings()
    for key in (_CHOICES_KEY, _OLD_TRAINING_KEY):
        value = _read_json(settings, key, None)
        if isinstance(value, dict):
            return value
    return {}


def save_training_choices(values: dict[str, Any], settings: QSettings | None = None) -> None:
    """Remember the training panel's choices (a JSON-able dict) for the next launch."""
    settings = settings or app_settings()
    _write_json(settings, _CHOICES_KEY, {k: v for k, v in values.items() if k != "resume"})
    settings.sync()


def save_window_layout(geometry: QByteArray, state: QByteArray, settings: QSettings | None = None) -> None:
    """Remember ``saveGeometry()`` and ``saveState()`` of the main window."""
    settings = settings or app_settings()
    settings.setValue(_GEOMETRY_KEY, geometry)
    settings.setValue(_STATE_KEY, state)
    settings.sync()


def window_layout(settings: QSettings | None = None) -> tuple[QByteArray | None, QByteArray | None]:
    """The remembered ``(geometry, state)``, each None when absent."""
    settings = settings or app_settings()
    geometry = settings.value(_GEOMETRY_KEY, None)
    state = settings.value(_STATE_KEY, None)
    return (
        geometry if isinstance(geometry, QByteArray) else None,
        state if isinstance(state, QByteArray) else None,
    )
