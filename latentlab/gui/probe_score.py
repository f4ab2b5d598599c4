"""Whether the probe is on the data: the off-manifold score, kept current as the probe moves.

The controller feeds :class:`ProbeScore` every Scene and Probe. When the scene's codes change,
the map of the data (:class:`~latentlab.core.offmanifold.ManifoldMap`, with the encoder's
variances for a variational model, as the placement that made the codes gave them) is built on
the inference worker — latest wins, so a training run re-encoding every few seconds never
queues builds. Each probe move is then scored on the GUI thread (well under a millisecond for
70,000 codes in two dimensions; a drag 15 times a second) and sent as a
:class:`ScoreView` with the nearest data item's picture, or None when there is nothing to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, Signal
from superqt.utils import qthrottled

from latentlab.core import inference
from latentlab.core.errors import LatentLabError
from latentlab.core.offmanifold import ManifoldMap, ManifoldScore
from latentlab.gui.workers import at_once

#: Fewer data codes than this give no meaningful local spacing.
MIN_CODES = 20
#: A dragged probe is scored at most this often (ms): every fourth frame at 60 Hz, 15 times a
#: second, often enough for words and a ring colour that change with the neighbourhood.
SCORE_INTERVAL_MS = 66


@dataclass(frozen=True)
class ScoreView:
    """What the window shows for one probe position."""

    score: ManifoldScore
    nearest_image: np.ndarray | None   # the nearest data item as a picture [C, H, W] in [0, 1]
    variational: bool


def map_job(model_config: Any, state: dict[str, Any] | None, data: Any, codes: np.ndarray,
            logvar: np.ndarray | None = None):
    """A worker job: the manifold map of ``codes``, with log-variances when the model has them
    (``logvar``: those the placement of ``codes`` gave; else the data are encoded for them)."""
    def job(should_stop: Callable[[], bool]) -> ManifoldMap | None:
        if logvar is not None and logvar.shape == codes.shape:
            return None if should_stop() else ManifoldMap(codes, logvar)
        found_logvar = None
        if state is not None and model_config.capabilities.variational and data is not None:
            model = inference.model_from_state(model_config, state)
            found = inference.encode_dataset_posterior(model, data, should_stop=should_stop)
            if found is None:
                return None
            if found[1] is not None and found[1].shape == codes.shape:
                found_logvar = found[1]
        if should_stop():
            return None
        return ManifoldMap(codes, found_logvar)

    return job


class ProbeScore(QObject):
    """Scores the probe against the encoded data; ``scoreChanged(ScoreView | None)``."""

    scoreChanged = Signal(object)

    def __init__(self, worker: Any, state: Callable[[], dict[str, Any] | None],
                 data: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker = worker
        self._state = state
        self._data = data
        self._map: ManifoldMap | None = None
        self._codes: np.ndarray | None = None   # the codes the map is (being) built for
        self._scene: Any = None
        self._probe: Any = None
        self._handle: Any = None
        self._posterior: tuple[np.ndarray, np.ndarray] | None = None   # (codes, their log-variances)
        self._nearest: tuple[Any, Any] | None = None   # ((item_image, index), that item's picture)
        # A drag moves the probe every frame; the words and the ring's colour follow at most
        # every fourth frame (the first move at once, the last position always), a quarter of
        # the GUI thread's scoring while training shares the processor.
        self._rescore_soon = qthrottled(self._rescore_paced, timeout=SCORE_INTERVAL_MS, leading=True, parent=self)
        # How a rescore is run: ``pace(call)`` runs it now or after the drag's next frame.
        self.pace: Callable[[Callable[[], None]], None] = at_once

    def use_posterior(self, codes: np.ndarray, logvars: np.ndarray | None) -> None:
        """The log-variances placed with ``codes`` (None: none came): a scene with exactly these
        codes is mapped from them, without encoding the data again (a training run re-encodes
        every few seconds; a second pass would double the worker's share of the processor)."""
        self._posterior = None if logvars is None else (codes, logvars)

    @property
    def map(self) -> ManifoldMap | None:
        """The current map of the data (None until built, or without codes)."""
        return self._map

    def on_scene(self, scene: Any) -> None:
        self._scene = scene
        codes = scene.codes
        if codes is None or len(codes) < MIN_CODES or scene.model_config is None:
            self._codes = None
            self._map = None
            if self._handle is not None:
                self._handle.cancel()
            self.scoreChanged.emit(None)
            return
        if codes is self._codes:
            return
        self._codes = codes
        if self._map is not None and self._map.dim != codes.shape[1]:
            self._map = None   # another latent size: an old map cannot score the new probe
            self.scoreChanged.emit(None)
        known = self._posterior
        logvar = known[1] if known is not None and known[0] is codes else None
        self._handle = self._worker.submit(
            "offmanifold", map_job(scene.model_config, self._state(), self._data(), np.asarray(codes), logvar),
            on_result=self._on_map, on_error=lambda _message: None)

    def _on_map(self, built: ManifoldMap | None) -> None:
        if built is None:
            return
        self._map = built
        self._rescore()

    def on_probe(self, probe: Any) -> None:
        self._probe = probe
        self._rescore_soon()

    def _rescore_paced(self) -> None:
        self.pace(self._rescore)

    def _rescore(self) -> None:
        probe, scene, built = self._probe, self._scene, self._map
        if built is None or probe is None or scene is None or probe.z is None:
            return
        z = np.asarray(probe.z, dtype=np.float64).reshape(-1)
        if z.shape[0] != built.dim:
            return
        try:
            score = built.score(z)
        except LatentLabError:
            return
        image = None
        if scene.item_image is not None and 0 <= score.nearest < scene.data_size:
            # A drag stays near one item for many frames: its picture is fetched once.
            key = (scene.item_image, score.nearest)
            if self._nearest is None or self._nearest[0] != key:
                self._nearest = (key, scene.item_image(score.nearest))
            image = self._nearest[1]
        self.scoreChanged.emit(ScoreView(score, image, built.variational))
