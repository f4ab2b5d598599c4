"""The training and inference workers: signals, latest-wins, pause/stop, clean shutdown."""

from __future__ import annotations

import os
import sys
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

    def fake(model_config, data, config, control: TrainControl | None = None, initial=None, resume=None):
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

    def fake(model_config, data, config, control=None, initial=None, resume=None):
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
    results: list[object] = []

    def slow(should_stop):
        started.set()
        release.wait(5)
        return "stale" if should_stop() else "slow"

    try:
        first = worker.submit("encode", slow, results.append)
        assert started.wait(5)
        # Queued while the slow job runs: only the last of these may run at all.
        worker.submit("encode", lambda s: "middle", results.append)
        last = worker.submit("encode", lambda s: "last", results.append)
        assert not first.is_current() and last.is_current()
        release.set()
        qtbot.waitUntil(lambda: "last" in results, timeout=5000)
        qtbot.wait(20)
        assert results == ["last"]
    finally:
        assert worker.shutdown(2000)
    assert not worker.isRunning() and not last.is_current()


def test_each_result_goes_to_its_own_requester_only(qtbot):
    worker = InferenceWorker()
    codes: list[object] = []
    mosaics: list[object] = []
    try:
        worker.submit("encode", lambda s: "codes", codes.append)
        worker.submit("manifold", lambda s: "mosaic", mosaics.append)
        qtbot.waitUntil(lambda: bool(codes and mosaics), timeout=5000)
        qtbot.wait(20)
        assert codes == ["codes"] and mosaics == ["mosaic"]
    finally:
        worker.shutdown()


def test_a_cancelled_request_delivers_nothing(qtbot):
    worker = InferenceWorker()
    release = threading.Event()
    got: list[object] = []
    try:
        handle = worker.submit("encode", lambda s: release.wait(5) and "late", got.append)
        handle.cancel()
        release.set()
        after = worker.submit("manifold", lambda s: "other", got.append)
        qtbot.waitUntil(lambda: got == ["other"], timeout=5000)
        qtbot.wait(20)
        assert got == ["other"] and not handle.is_current() and after.is_current()
    finally:
        worker.shutdown()


def test_inference_worker_survives_a_failing_job(qtbot):
    worker = InferenceWorker()
    errors: list[str] = []
    results: list[object] = []
    try:
        worker.submit("encode", lambda s: 1 / 0, results.append, errors.append)
        qtbot.waitUntil(lambda: bool(errors), timeout=5000)
        assert "ZeroDivisionError" in errors[0] and results == []
        worker.submit("encode", lambda s: "fine", results.append, errors.append)
        qtbot.waitUntil(lambda: bool(results), timeout=5000)
        assert results == ["fine"] and len(errors) == 1
    finally:
        worker.shutdown()


def test_training_hands_the_gil_over_quickly_and_restores_the_interval(qtbot, monkeypatch, worker_factory):
    import sys

    from latentlab.gui.workers import TRAINING_SWITCH_INTERVAL_S

    seen: list[float] = []

    def fake(model_config, data, config, control=None, initial=None, resume=None):
        seen.append(sys.getswitchinterval())   # what every thread lives with while training runs
        yield _progress(1)
        return TrainResult(model=torch.nn.Linear(1, 1), history=[{"epoch": 1}], status="finished")

    monkeypatch.setattr(training, "train", fake)
    before = sys.getswitchinterval()
    assert before > TRAINING_SWITCH_INTERVAL_S   # Python's default, 5 ms
    worker = worker_factory()
    with qtbot.waitSignal(worker.resultReady, timeout=5000):
        worker.start()
    qtbot.waitUntil(lambda: worker.isFinished(), timeout=5000)
    assert seen == [TRAINING_SWITCH_INTERVAL_S]
    assert sys.getswitchinterval() == before


def test_overlapping_training_threads_put_back_the_interval_found_before_the_first(qtbot, monkeypatch, worker_factory):
    import sys

    from latentlab.gui.workers import TRAINING_SWITCH_INTERVAL_S

    release = {1: threading.Event(), 2: threading.Event()}
    started: list[int] = []

    def fake_for(n):
        def fake(model_config, data, config, control=None, initial=None, resume=None):
            started.append(n)
            release[n].wait(5)
            yield _progress(1)
            return TrainResult(model=torch.nn.Linear(1, 1), history=[{"epoch": 1}], status="finished")
        return fake

    before = sys.getswitchinterval()
    first, second = worker_factory(), worker_factory()
    monkeypatch.setattr(training, "train", fake_for(1))
    first.start()
    qtbot.waitUntil(lambda: started == [1], timeout=5000)
    monkeypatch.setattr(training, "train", fake_for(2))
    second.start()   # the next run starts while the last one is still ending
    qtbot.waitUntil(lambda: started == [1, 2], timeout=5000)
    release[1].set()
    qtbot.waitUntil(lambda: first.isFinished(), timeout=5000)
    assert sys.getswitchinterval() == TRAINING_SWITCH_INTERVAL_S   # the second still trains
    release[2].set()
    qtbot.waitUntil(lambda: second.isFinished(), timeout=5000)
    assert sys.getswitchinterval() == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice value is Linux's")
def test_the_inference_worker_runs_below_the_gui_thread(qtbot) -> None:
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    if mine >= 19:
        pytest.skip("this process already runs at the lowest priority")
    worker = InferenceWorker()
    got: list[int] = []
    worker.submit("nice", lambda should_stop: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()),
                  on_result=got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=5000)
    worker.shutdown()
    assert got[0] > mine   # a frame of the GUI thread takes the core from a background job
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine   # the GUI thread kept its own
