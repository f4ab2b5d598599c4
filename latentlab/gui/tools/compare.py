"""Compare Families: several families trained one after another on the window's data, live.

:class:`CompareSession` holds no widgets. It trains the chosen families in turn through a
training worker the host makes (``make_trainer(plan)``, a :class:`~latentlab.gui.workers.TrainingWorker`
in the app) and has each model's snapshots placed through the host's inference worker
(``submit``, latest wins per model; a training family at most every
:data:`ENCODE_INTERVAL_MS`): the job builds the model from the snapshot, encodes the data and
builds the codes' plane, the off-manifold map (:mod:`latentlab.core.offmanifold`) and the
interpolation strip, and the GUI thread keeps that model as its inference copy, together with
the codes it made. A model a person opened (or the main window's) joins as one more slot
(:meth:`CompareSession.add_model`): it is not trained, only encoded on the same data, and stays
when another comparison is trained. The window (:mod:`latentlab.gui.tools.compare_window`) asks
it for decodes, reconstructions, the data item nearest a probe, the interpolation between two
items and the sheet (:mod:`latentlab.core.compare`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from latentlab.core import compare as core
from latentlab.core.errors import LatentLabError

#: Statuses of a family in a comparison (OPENED: a model read from disk or the main window, not trained).
WAITING, TRAINING, FINISHED, CANCELLED, FAILED, SKIPPED, OPENED = (
    "waiting", "training", "finished", "cancelled", "failed", "not trained", "opened")
#: A unique key per slot, so its encodes never answer another slot (slots move when others go).
_KEYS = itertools.count()
#: Reconstructions kept per model (about 3 MB of 28x28 pictures).
PICTURE_CACHE = 1024
#: While a family trains, its data is placed again at most this often (ms): each placement is a
#: pass of the whole data set on the inference worker and a new scatter on the GUI thread, both
#: taken from the processor the trainer and the person's frames need (two cores in all, often).
ENCODE_INTERVAL_MS = 1500


def eligible_families(data: Any) -> tuple[str, ...]:
    """The registered families that can take part in a comparison on ``data``."""
    from latentlab.core.models import registry

    out = []
    for family in registry.families():
        try:
            core.check_families([family.name], data)
        except LatentLabError:
            continue
        out.append(family.name)
    return tuple(out)


def warm_up(_should_stop: Callable[[], bool]) -> None:
    """An inference-worker job: what a trainer and the first placement load, loaded beforehand.

    Making the first optimiser of a process imports a large part of torch (its compiler
    stack), and the first off-manifold map imports scipy's spatial index: seconds of module
    code. Done while the first family trains, those imports hold the interpreter lock for long
    stretches and the window stops answering just when the first planes should organise
    themselves; done here, when the window opens, they end before Train is pressed.
    """
    import torch

    from latentlab.core.device import make_optimizer
    from latentlab.core.offmanifold import ManifoldMap

    make_optimizer([torch.zeros(1, requires_grad=True)], 1e-3)
    codes = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    core.plane_xy(codes)
    ManifoldMap(codes, np.zeros_like(codes))


def encode_job(config: Any, state: dict[str, Any], data: Any, pair: tuple[int, int] | None = None):
    """An inference-worker job: the model of ``state`` and its codes, plane, plane coordinates
    and off-manifold map of the data; with ``pair``, its interpolation between those items too.

    Everything the GUI thread would otherwise compute when a snapshot arrives while the
    families train (building the model, decoding the strip) is done here, off that thread; the
    model comes back with the codes it made, and the GUI thread uses it from then on.
    """

    def job(should_stop: Callable[[], bool]) -> Encoded | None:
        from latentlab.core.inference import encode_dataset_posterior, model_from_state
        from latentlab.core.offmanifold import ManifoldMap

        model = model_from_state(config, state)
        found = encode_dataset_posterior(model, data, should_stop=should_stop)
        if found is None:
            return None
        codes, logvar = found
        xy, plane = core.plane_xy(codes)
        enc = Encoded(codes=codes, xy=xy, plane=plane, map=ManifoldMap(codes, logvar), model=model)
        if pair is not None and not should_stop():
            enc.strip = (pair, *_interpolation(model, enc, pair))
        return enc

    return job


@dataclass
class Encoded:
    """One model's view of the data: codes ``[N, D]``, plane coordinates ``[N, 2]``, plane, map;
    the model that made them, and ``strip``: ``(pair, path_xy, pictures)`` of the interpolation
    between ``pair`` when it was made with them (None otherwise)."""

    codes: np.ndarray
    xy: np.ndarray
    plane: Any
    map: Any
    model: Any = None
    strip: tuple[tuple[int, int], np.ndarray, list[np.ndarray]] | None = None


@dataclass
class FamilySlot:
    """One family of the comparison: its status, GUI-thread model copy and encoded data."""

    name: str
    title: str
    status: str = WAITING
    model: Any = None
    encoded: Encoded | None = None
    epoch: str = ""
    message: str = ""
    key: int = field(default_factory=lambda: next(_KEYS))
    # Reconstructions of data items by ``model`` (a drag asks for the same items again and again).
    pictures: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    pictures_of: Any = field(default=None, repr=False)

    @property
    def opened(self) -> bool:
        """True for a model a person brought (it is never trained here)."""
        return self.status == OPENED


def refusal(model: Any, data: Any) -> str | None:
    """Why ``model`` cannot join a comparison on ``data`` (a sentence), or None when it can."""
    from latentlab.core.inference import incompatibility
    from latentlab.core.models import registry

    config = model.config
    family = registry.get(config.family)
    if not family.capabilities.encoder:
        return (f"it is a {family.title.lower()} without an encoder, so the data cannot be placed on "
                "its plane; compare models with an encoder")
    if config.is_conditional:
        return ("it decodes under a class label, so it cannot share one interpolation with the "
                "others; compare models that are not conditional")
    return incompatibility(config, data)


class CompareSession(QObject):
    """Trains and serves the models of one comparison (see the module docstring).

    Signals: ``slotsChanged()`` when the slots were replaced (a new comparison starts, a model
    was removed: the window rebuilds its panels); ``slotAdded(int)`` when model ``k`` joined at
    the end; ``statusChanged(int)`` when model ``k``'s status or epoch changes;
    ``codesChanged(int)`` when its data was re-encoded; ``weightsChanged(int)`` when its model
    copy changed; ``runningChanged(bool)``; ``failed(str)`` with a message for the person.
    """

    slotsChanged = Signal()
    slotAdded = Signal(int)
    statusChanged = Signal(int)
    codesChanged = Signal(int)
    weightsChanged = Signal(int)
    runningChanged = Signal(bool)
    failed = Signal(str)

    def __init__(self, data: Any, *, make_trainer: Callable[[Any], Any], submit: Callable[..., Any],
                 threads: int | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data = data
        self._make_trainer, self._submit, self._threads = make_trainer, submit, threads
        self.slots: list[FamilySlot] = []
        self.latent_dim = 2
        self.epochs = 5
        self._worker: Any = None
        self._current: FamilySlot | None = None
        self._handles: dict[int, Any] = {}    # by slot key
        self._pair: tuple[int, int] | None = None
        self._cancelled = False
        self.labels = data.labels.numpy() if data.labels is not None else None
        # The newest snapshot not yet placed, and when the training family was last placed.
        self._waiting: tuple[FamilySlot, Any, dict[str, Any]] | None = None
        self._placed_at = -1e9
        self._pace = QTimer(self)
        self._pace.setSingleShot(True)
        self._pace.timeout.connect(self._encode_waiting)
        # Loaded while the person chooses families, not while the first one trains (see warm_up).
        self.warm = False
        self._warm_handle = submit("compare-warm-up", warm_up, self._warmed, lambda _message: self._warmed(None))

    def _warmed(self, _result: Any) -> None:
        self.warm = True

    def index(self, slot: FamilySlot) -> int:
        """Where ``slot`` is now (-1 once it left the comparison)."""
        return next((k for k, s in enumerate(self.slots) if s is slot), -1)

    # -- running ------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._worker is not None

    def start(self, families: Sequence[str], latent_dim: int, epochs: int) -> None:
        """Train ``families`` one after another beside the opened models (a mistake: ``failed``
        and nothing starts)."""
        if self.running:
            self.failed.emit("The families are still training; cancel first to start again.")
            return
        kept = [s for s in self.slots if s.opened]
        try:
            names = core.check_families(list(families), self.data)
            if epochs < 1 or latent_dim < 1:
                raise LatentLabError("epochs and the latent size must be at least 1")
            if len(kept) + len(names) > core.MAX_FAMILIES:
                raise LatentLabError(
                    f"the comparison shows at most {core.MAX_FAMILIES} models: {len(kept)} opened and "
                    f"{len(names)} to train; choose fewer families or remove an opened model")
        except LatentLabError as exc:
            self.failed.emit(str(exc))
            return
        from latentlab.core.models import registry

        self._forget_handles(keep=kept)
        self.latent_dim, self.epochs, self._cancelled = latent_dim, epochs, False
        self.slots = [*kept, *(FamilySlot(n, registry.get(n).title) for n in names)]
        self.slotsChanged.emit()
        self.runningChanged.emit(True)
        self._train_next()

    def add_model(self, model: Any, name: str, *, copy: bool = False, where: str = "") -> bool:
        """Compare ``model`` (trained elsewhere) beside the others, encoded on the same data.

        ``copy`` takes a copy of its weights first (the main window's model goes on changing
        while it trains). A model that cannot take part is refused with one ``failed`` message
        and nothing changes. ``where`` (a path) is shown as the panel's status.
        """
        problem = None
        if len(self.slots) >= core.MAX_FAMILIES:
            problem = (f"the comparison already shows {core.MAX_FAMILIES} models; remove one "
                       "(or choose fewer families) first")
        else:
            try:
                problem = refusal(model, self.data)
            except LatentLabError as exc:
                problem = str(exc)
        if problem is not None:
            self.failed.emit(f"{name} cannot join the comparison: {problem}")
            return False
        from latentlab.core.models import registry

        family = registry.get(model.config.family)
        if copy and family.capabilities.trainable:
            from latentlab.core.inference import model_from_state

            model = model_from_state(model.config, _state_of(model))
        slot = FamilySlot(family.name, f"{name} ({family.title})", status=OPENED, model=model.eval(),
                          message=where)
        self.slots.append(slot)
        k = len(self.slots) - 1
        self.slotAdded.emit(k)
        self.statusChanged.emit(k)
        self._encode(slot, model.config, _state_of(model))
        return True

    def remove(self, k: int) -> None:
        """Take model ``k`` out of the comparison (not the one in training)."""
        if not 0 <= k < len(self.slots):
            return
        slot = self.slots[k]
        if slot is self._current or slot.status in (WAITING, TRAINING) and self.running:
            self.failed.emit(f"{slot.title} is still to be trained; cancel first to remove it.")
            return
        handle = self._handles.pop(slot.key, None)
        if handle is not None:
            handle.cancel()
        self.slots = [s for s in self.slots if s is not slot]
        self.slotsChanged.emit()

    def cancel(self) -> None:
        """Stop the family in training; the ones after it are not trained."""
        if not self.running:
            return
        self._cancelled = True
        self._worker.cancel()
        for k, slot in enumerate(self.slots):
            if slot.status == WAITING:
                slot.status = SKIPPED
                self.statusChanged.emit(k)

    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Stop training and drop pending encodes (bounded wait); True when it ended in time."""
        self._pace.stop()
        self._waiting = None
        self._warm_handle.cancel()
        self._forget_handles()
        worker, self._worker = self._worker, None
        if worker is None:
            return True
        for signal in (worker.snapshotReady, worker.progress, worker.resultReady, worker.failed, worker.finished):
            try:
                signal.disconnect()
            except (RuntimeError, TypeError):
                pass
        return bool(worker.stop_and_wait(timeout_ms))

    def _forget_handles(self, keep: Sequence[FamilySlot] = ()) -> None:
        kept = {s.key for s in keep}
        for key in [key for key in self._handles if key not in kept]:
            self._handles.pop(key).cancel()

    def _train_next(self) -> None:
        from latentlab.core.plan import plan_training

        slot = next((s for s in self.slots if s.status == WAITING), None)
        if slot is None or self._cancelled:
            self._worker, self._current = None, None
            self.runningChanged.emit(False)
            return
        try:
            plan = plan_training(core.training_settings(slot.name, self.latent_dim, self.epochs,
                                                        threads=self._threads), data=self.data)
        except LatentLabError as exc:
            slot.status, slot.message = FAILED, str(exc)
            self.statusChanged.emit(self.index(slot))
            self.failed.emit(f"{slot.title}: {exc}")
            self._train_next()
            return
        worker = self._make_trainer(plan)
        self._worker, self._current = worker, slot
        slot.status = TRAINING
        worker.snapshotReady.connect(lambda: self._on_snapshot(slot, plan.model_config))
        worker.progress.connect(lambda p: self._on_progress(slot, p))
        worker.resultReady.connect(lambda r: self._on_result(slot, r))
        worker.failed.connect(lambda title, message: self._on_failed(slot, message))
        worker.finished.connect(lambda: self._on_worker_finished(worker))
        self.statusChanged.emit(self.index(slot))
        worker.start()

    def _on_snapshot(self, slot: FamilySlot, config: Any) -> None:
        """A new snapshot: placed at once, or the newest one placed when the interval is over."""
        if self._worker is None or self._current is not slot:
            return
        snap = self._worker.take_snapshot()
        if snap is None:
            return
        self._waiting = (slot, config, snap.state)
        wait_ms = ENCODE_INTERVAL_MS - 1000.0 * (time.monotonic() - self._placed_at)
        if wait_ms <= 0:
            self._encode_waiting()
        elif not self._pace.isActive():
            self._pace.start(int(wait_ms) + 1)

    def _encode_waiting(self) -> None:
        waiting, self._waiting = self._waiting, None
        self._pace.stop()
        if waiting is None:
            return
        slot, config, state = waiting
        if self._current is slot:
            self._placed_at = time.monotonic()
            self._encode(slot, config, state)

    def _encode(self, slot: FamilySlot, config: Any, state: dict[str, Any]) -> None:
        job = encode_job(config, state, self.data, self.pair)
        self._handles[slot.key] = self._submit(f"compare-{slot.key}", job,
                                               lambda found: self._on_encoded(slot, found),
                                               lambda message: self._on_encode_failed(slot, message))

    def _on_encoded(self, slot: FamilySlot, found: Encoded | None) -> None:
        k = self.index(slot)
        if found is None or k < 0:
            return
        slot.encoded = found
        if found.model is not None:
            # The model these codes came from: the views never decode with other weights than
            # the plane they show was made with (the window re-shows both on codesChanged).
            slot.model = found.model
        self.codesChanged.emit(k)

    def _on_encode_failed(self, slot: FamilySlot, message: str) -> None:
        if self.index(slot) >= 0:
            self.failed.emit(f"{slot.title}: the data could not be encoded: {message}")

    def _on_progress(self, slot: FamilySlot, p: Any) -> None:
        k = self.index(slot)
        slot.epoch = f"epoch {p.epoch}/{p.epochs}"
        if k >= 0:
            self.statusChanged.emit(k)

    def _on_result(self, slot: FamilySlot, result: Any) -> None:
        if self._waiting is not None and self._waiting[0] is slot:
            self._waiting = None   # the final weights are placed instead
        model = result.model.to("cpu").eval()
        slot.model, slot.status = model, (FINISHED if result.status == "finished" else result.status)
        slot.message = result.message
        k = self.index(slot)
        if k >= 0:
            self.weightsChanged.emit(k)
            self.statusChanged.emit(k)
        self._encode(slot, model.config, _state_of(model))

    def _on_failed(self, slot: FamilySlot, message: str) -> None:
        slot.status, slot.message = FAILED, message
        if self.index(slot) >= 0:
            self.statusChanged.emit(self.index(slot))
        self.failed.emit(f"{slot.title}: {message}")

    def _on_worker_finished(self, worker: Any) -> None:
        if worker is not self._worker:
            return
        worker.deleteLater()
        self._train_next()

    # -- questions from the window --------------------------------------------------------
    def ready(self, k: int) -> bool:
        """True when family ``k`` has a model and its encoded data."""
        return 0 <= k < len(self.slots) and self.slots[k].model is not None and self.slots[k].encoded is not None

    def code_at(self, k: int, x: float, y: float) -> np.ndarray:
        """The latent code ``[D]`` of plane point (x, y) of family ``k``."""
        return core.lift(self.slots[k].encoded.plane, np.array([[x, y]], np.float32))[0]

    def decode_at(self, k: int, x: float, y: float) -> np.ndarray:
        """Family ``k``'s decode of plane point (x, y), as a picture ``[H, W]`` or ``[H, W, 3]``."""
        return self._picture(k, self.code_at(k, x, y)[None])[0]

    def nearest(self, k: int, x: float, y: float) -> Any:
        """The off-manifold score of plane point (x, y) in family ``k`` (``.nearest``, ``.level``)."""
        return self.slots[k].encoded.map.score(self.code_at(k, x, y))

    def reconstruction(self, k: int, index: int) -> np.ndarray:
        """Family ``k``'s reconstruction of data item ``index`` (decoded from its code; kept
        until the model changes, so an item met again on a drag is not decoded again)."""
        slot = self.slots[k]
        if slot.pictures_of is not slot.model or slot.pictures_of is None:
            slot.pictures, slot.pictures_of = {}, slot.model
        picture = slot.pictures.get(index)
        if picture is None:
            picture = self._picture(k, slot.encoded.codes[index][None])[0]
            if len(slot.pictures) >= PICTURE_CACHE:
                del slot.pictures[next(iter(slot.pictures))]   # the oldest
            slot.pictures[index] = picture
        return picture

    def item_picture(self, index: int) -> np.ndarray:
        """Data item ``index`` itself, as a picture."""
        return _pictures(self.data.images[index:index + 1].numpy())[0]

    def _picture(self, k: int, codes: np.ndarray) -> list[np.ndarray]:
        return _decoded_pictures(self.slots[k].model, codes)

    # -- interpolation ----------------------------------------------------------------------
    @property
    def pair(self) -> tuple[int, int]:
        """The two items the interpolation joins (by default the data set's story, see core)."""
        if self._pair is None:
            self._pair = core.choose_pair(self.data)
        return self._pair

    def set_pair(self, a: int, b: int) -> None:
        if a == b or not (0 <= a < len(self.data) and 0 <= b < len(self.data)):
            raise LatentLabError("an interpolation needs two different data items")
        self._pair = (int(a), int(b))

    def interpolation(self, k: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Family ``k``'s path between the pair on its plane ``[S, 2]`` and its decodes (made
        with the codes when they were placed for this pair, else now)."""
        enc = self.slots[k].encoded
        if enc.strip is not None and enc.strip[0] == self.pair and enc.model is self.slots[k].model:
            return enc.strip[1], list(enc.strip[2])
        return _interpolation(self.slots[k].model, enc, self.pair)

    def results(self) -> list[core.FamilyResult]:
        """What the sheet draws, for every family with a model: the codes and plane shown now
        (no re-encoding on the GUI thread), the path decoded and scored as the CLI does."""
        from latentlab.core import render
        from latentlab.core.inference import decode

        out = []
        a, b = self.pair
        for k, slot in enumerate(self.slots):
            if not self.ready(k):
                continue
            enc = slot.encoded
            ratios = enc.map.ratios(core.path_codes(enc.codes[a], enc.codes[b], core.SCORE_STEPS))
            finite = ratios[np.isfinite(ratios)]
            codes = core.path_codes(enc.codes[a], enc.codes[b], core.STRIP_STEPS)
            outputs = decode(slot.model, codes)
            spec = render.output_spec(slot.model.config)
            strip = outputs.numpy() if spec.kind == "image" else render.as_images(outputs, spec, 64).numpy()
            out.append(core.FamilyResult(
                family=slot.name, title=slot.title, codes=enc.codes, xy=enc.xy,
                path_xy=core.project(enc.plane, codes), strip=np.asarray(strip, np.float32),
                path_ratio=float(finite.mean()) if finite.size else float("inf"), status=slot.status))
        return out

    def save_animation(self, path: str) -> None:
        """Write the families walking the interpolation side by side as a GIF."""
        results = self.results()
        if not results:
            raise LatentLabError("No family has finished a snapshot yet; train first, then export the GIF.")
        core.save_animation(path, results, self.labels)

    def save_sheet(self, path: str) -> None:
        """Write the side-by-side sheet of the families trained so far (a LatentLabError if none)."""
        results = self.results()
        if not results:
            raise LatentLabError("No family has finished a snapshot yet; train first, then export the sheet.")
        a, b = self.pair
        core.save_sheet(path, results, self.labels,
                        caption=f"{self.data.name}, latent {self.latent_dim}; items {a} -> {b}")


def _pictures(images: np.ndarray) -> list[np.ndarray]:
    """``[N, C, H, W]`` floats as pictures ``[H, W]`` (grey) or ``[H, W, 3]``."""
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    if images.shape[1] == 1:
        return [im[0] for im in images]
    return [np.ascontiguousarray(np.transpose(im[:3], (1, 2, 0))) for im in images]


def _state_of(model: Any) -> dict[str, Any]:
    """A copy of ``model``'s weights on the CPU, for a model built on another thread."""
    return {name: t.detach().to("cpu", copy=True) for name, t in model.state_dict().items()}


def _decoded_pictures(model: Any, codes: np.ndarray) -> list[np.ndarray]:
    """``model``'s decodes of ``codes`` ``[M, D]`` as pictures."""
    from latentlab.core import render
    from latentlab.core.inference import decode

    out = decode(model, codes)
    spec = render.output_spec(model.config)
    images = out.numpy() if spec.kind == "image" else render.as_images(out, spec, 96).numpy()
    return _pictures(images)


def _interpolation(model: Any, enc: Encoded, pair: tuple[int, int]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The path between ``pair``'s codes on ``enc``'s plane ``[S, 2]`` and ``model``'s decodes along it."""
    a, b = pair
    codes = core.path_codes(enc.codes[a], enc.codes[b], core.STRIP_STEPS)
    return core.project(enc.plane, codes), _decoded_pictures(model, codes)
