"""The training and inference workers: signals, latest-wins, pause/stop, clean shutdown."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from latentlab.core import training
from latentlab.core.errors import LatentLabError
from latentlab.core.training import Progress, Snapshot, TrainControl, TrainResult
from latentlab.gui.workers import InferenceWorker, TrainingWorker


def _progress(step: int, epoch_done: bool = False) -> Progress:
    return Progress(epoch=1, epochs=1, step=step, steps_per_epoch=10, terms={"loss": 1.0 / step},
                    images_per_s=100.0, eta_s=1.0, val={"loss": 0.5} if epoch_done else None,
                    epoch_done=epoch_done)


def _fake_train(steps: int, step_s: float = 0.0):
    """A stand-in trainer with the real contract: yields, honours control, returns a result.

    ``step_s`` makes each "step" take a little time, so a run outlasts the test's actions.
    """

    def fake(model_config, data, config, control: TrainControl | None = None, initial=None):
        status = "finished"
        for step in range(1, steps + 1):
            control.wait_if_paused()
            if control.cancelled:
                status = "cancelled"
                break
            if step_s:
                time.sleep(step_s)
            yield _progress(step, epoch_done=step == steps)
            yield Snapshot(state={"w": torch.full((2,), float(step))}, epoch=1, step=step)
        return TrainResult(model=torch.nn.Linear(1, 1), history=[{"epoch": 1}], status=status)

    return fake


@pytest.fixture
def worker_factory(qtbot):
    made: list[TrainingWorker] = []

    def make() -> TrainingWorker:
        w = TrainingWorker(None, None, None)
        made.append(w)
        return w

    yield make
    for w in made:
        assert w.stop_and_wait(2000)


def test_training_worker_forwards_progress_and_result(qtbot, monkeypatch, worker_factory):
    monkeypatch.setattr(training, "train", _fake_train(5))
    worker = worker_factory()
    seen: list[int] = []
    worker.progress.connect(lambda p: seen.append(p.step))
    with qtbot.waitSignal(worker.resultReady, timeout=5000) as blocker:
        worker.start()
    qtbot.waitUntil(lambda: worker.isFinished(), timeout=5000)
    result = blocker.args[0]
    assert result.status == "finished"
    qtbot.waitUntil(lambda: seen == [1, 2, 3, 4, 5], timeout=2000)
    # Snapshots are latest-wins: whatever was not taken yet is the last one.
    snap = worker.take_snapshot()
    assert snap is not None and float(snap.state["w"][0]) == 5.0
    assert worker.take_snapshot() is None


def test_training_worker_stop_cancels(qtbot, monkeypatch, worker_factory):
    monkeypatch.setattr(training, "train", _fake_train(100000, step_s=0.002))
    worker = worker_factory()
    with qtbot.waitSignal(worker.progress, timeout=5000):
        worker.start()
    with qtbot.waitSignal(worker.resultReady, timeout=5000) as blocker:
        worker.cancel()
    assert blocker.args[0].status == "cancelled"
    assert worker.stop_and_wait(1000)
    assert not worker.isRunning()


def test_training_worker_pause_reaches_the_trainer(qtbot, monkeypatch, worker_factory):
    saw_pause = threading.Event()

    def fake(model_config, data, config, control=None, initial=None):
        for step in range(1, 100000):
            if control.paused:
                saw_pause.set()
            control.wait_if_paused()
            if control.cancelled:
                return TrainResult(model=torch.nn.Linear(1, 1), status="cancelled")
            time.sleep(0.002)   # a "training step", so the run outlasts the test's actions
            yield _progress(step)
        return TrainResult(model=torch.nn.Linear(1, 1))

    monkeypatch.setattr(training, "train", fake)
    worker = worker_factory()
    steps: list[int] = []
    worker.progress.connect(lambda p: steps.append(p.step))
    worker.start()
    qtbot.waitUntil(lambda: len(steps) > 0, timeout=5000)
    worker.pause()
    qtbot.waitUntil(saw_pause.is_set, timeout=5000)
    assert worker.isRunning()
    worker.resume()
    before = len(steps)
    qtbot.waitUntil(lambda: len(steps) > before + 5, timeout=5000)
    with qtbot.waitSignal(worker.resultReady, timeout=5000) as blocker:
        worker.cancel()
    assert blocker.args[0].status == "cancelled"


def test_training_worker_reports_user_error(qtbot, monkeypatch, worker_factory):
    def broken(*_args, **_kwargs):
        raise LatentLabError("the data set 'x' has no images")
        yield  # pragma: no cover - makes this a generator

    monkeypatch.setattr(training, "train", broken)
    worker = worker_factory()
    with qtbot.waitSignal(worker.failed, timeout=5000) as blocker:
        worker.start()
    assert blocker.args == ["Training stopped", "the data set 'x' has no images"]


def test_inference_worker_latest_request_wins(qtbot):
    worker = InferenceWorker()
    release = threading.Event()
    started = threading.Event()
    results: list[tuple[str, int, object]] = []
    worker.resultReady.connect(lambda k, g, r: results.append((k, g, r)))

    def slow(should_stop):
        started.set()
        release.wait(5)
        return "stale" if should_stop() else "slow"

    try:
        worker.submit("encode", slow)
        assert started.wait(5)
        # Queued while the slow job runs: only the last of these may run at all.
        worker.submit("encode", lambda s: "middle")
        last = worker.submit("encode", lambda s: "last")
        release.set()
        qtbot.waitUntil(lambda: any(r == "last" for _, _, r in results), timeout=5000)
        qtbot.wait(20)
        assert [r for _, _, r in results] == ["last"]
        assert worker.is_current("encode", last)
    finally:
        assert worker.shutdown(2000)
    assert not worker.isRunning()


def test_inference_worker_kinds_do_not_replace_each_other(qtbot):
    worker = InferenceWorker()
    got: dict[str, object] = {}
    worker.resultReady.connect(lambda k, g, r: got.__setitem__(k, r))
    try:
        worker.submit("encode", lambda s: 1)
        worker.submit("manifold", lambda s: 2)
        qtbot.waitUntil(lambda: len(got) == 2, timeout=5000)
        assert got == {"encode": 1, "manifold": 2}
    finally:
        worker.shutdown()


def test_inference_worker_survives_a_failing_job(qtbot):
    worker = InferenceWorker()
    try:
        with qtbot.waitSignal(worker.failed, timeout=5000) as blocker:
            worker.submit("encode", lambda s: 1 / 0)
        assert blocker.args[0] == "encode" and "ZeroDivisionError" in blocker.args[2]
        with qtbot.waitSignal(worker.resultReady, timeout=5000) as blocker:
            worker.submit("encode", lambda s: "fine")
        assert blocker.args[2] == "fine"
    finally:
        worker.shutdown()
