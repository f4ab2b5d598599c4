"""The GUI's state as small models: each holds one immutable value and announces it whole.

:class:`SceneModel` (what the plane shows), :class:`ProbeModel` (where the probe is and
what it decodes) and :class:`RunModel` (training) carry Qt signals but no widgets. One
owner writes each (the application controller); views only receive the values.
"""

from __future__ import annotations

from latentlab.gui.state.probe import Probe, ProbeModel
from latentlab.gui.state.run import Run, RunModel
from latentlab.gui.state.scene import Scene, SceneModel

__all__ = ["Probe", "ProbeModel", "Run", "RunModel", "Scene", "SceneModel"]
