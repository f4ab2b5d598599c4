"""Training in a child process (core.train_process): the same result as here, control, failures."""

from __future__ import annotations

import os
import signal
import time

import pytest
import torch

from latentlab.core import train_process
from latentlab.core.models import registry
from latentlab.core.plan import TrainingSettings, plan_training
from latentlab.core.training import Progress, Snapshot, train
from latentlab.core.train_process import Job, TrainingFailed, TrainingProcess


def tiny_job(epochs: int = 2, family: str = "vae", **changes) -> Job:
    settings = TrainingSettings(data="mnist", family=family, latent_dim=2, epochs=epochs, device="cpu",
                                limit=400, seed=3, **changes)
    plan = plan_training(settings, progress_interval_s=0.0, snapshot_interval_s=0.0)
    return Job(plan.model_config, plan.data, plan.train_config, plan.initial)


def train_here(job: Job):
    gen = train(job.model_config, job.data, job.train_config)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def test_a_child_trains_exactly_what_this_process_would():
    job = tiny_job()
    items = []
    result = TrainingProcess().run(job, items.append)
    expected = train_here(job)
    assert result.status == "finished"
    assert any(isinstance(i, Progress) and i.epoch_done for i in items)
    assert any(isinstance(i, Snapshot) for i in items)
    assert [h["epoch"] for h in result.history] == [1, 2]
    got, want = result.model.state_dict(), expected.model.state_dict()
    assert got.keys() == want.keys()
    for key in want:   # bit-identical on the CPU: the child runs the very same trainer
        assert torch.equal(got[key], want[key]), key


def test_cancel_sent_before_the_child_has_read_its_job_still_stops_it():
    child = TrainingProcess().start()
    child.cancel()   # held until the job is written, then delivered
    result = child.run(tiny_job(epochs=50), lambda item: None)
    assert result.status == "cancelled"
    assert len(result.history) < 50


def test_pause_holds_the_run_and_resume_lets_it_finish():
    child = TrainingProcess().start()
    seen: list[float] = []

    def on_item(item):
        if isinstance(item, Progress):
            seen.append(time.monotonic())
            if len(seen) == 1:
                child.pause()
                paused_at.append(time.monotonic())
                # The child is paused once this report is handed over; resume from elsewhere later.
                import threading

                threading.Timer(1.0, child.resume).start()

    paused_at: list[float] = []
    result = child.run(tiny_job(epochs=3), on_item)
    assert result.status == "finished"
    later = [t for t in seen[1:] if t - paused_at[0] > 0.9]
    assert later, "the run went on only after the pause was lifted"
    # Between pause and resume nothing beyond what was already in flight came through.
    assert len([t for t in seen[1:] if t - paused_at[0] < 0.8]) <= 2


def test_a_mistake_in_the_job_comes_back_as_one_line_marked_as_a_user_mistake():
    job = tiny_job()
    job.model_config = job.model_config.__class__.from_dict({**job.model_config.to_dict(), "input_shape": [1, 5, 5]})
    with pytest.raises(TrainingFailed) as info:
        TrainingProcess().run(job, lambda item: None)
    assert info.value.user_mistake
    assert "\n" not in str(info.value) and str(info.value)


def test_a_child_killed_mid_run_is_reported_as_a_crash_not_a_hang():
    child = TrainingProcess().start()

    def on_item(item):
        if isinstance(item, Progress) and child._proc is not None:
            os.kill(child._proc.pid, signal.SIGKILL)

    with pytest.raises(TrainingFailed) as info:
        child.run(tiny_job(epochs=50), on_item)
    assert "crashed (SIGKILL)" in str(info.value)
    assert not info.value.user_mistake
    assert not child.alive


def test_only_builtin_families_and_models_go_to_a_child():
    job = tiny_job()
    assert train_process.isolatable(job)
    vae = registry.get("vae")
    import dataclasses

    mine = dataclasses.replace(vae, name="my-vae")
    registry.register(mine)
    try:
        other = Job(dataclasses.replace(job.model_config, family="my-vae"), job.data, job.train_config)
        assert not train_process.isolatable(other)   # it exists only in this process
        registry.register(dataclasses.replace(vae), replace=True)   # a built-in replaced at run time
        assert not train_process.isolatable(job)
    finally:
        registry.unregister("my-vae")
        registry.register(vae, replace=True)
    assert train_process.isolatable(job)


def test_a_prepared_child_is_handed_out_once_and_discard_ends_a_waiting_one():
    train_process.prepare()
    first = train_process.take()
    assert first.alive
    second = train_process.take()   # none waits now: a new one
    assert second is not first
    for child in (first, second):
        child.kill()
        child._close()
    train_process.prepare()
    waiting = train_process._waiting
    train_process.discard()
    assert waiting is not None and not waiting.alive


def test_a_child_that_cannot_start_says_so_and_that_it_never_took_the_job(monkeypatch):
    monkeypatch.setattr(train_process, "_command", lambda: [os.sys.executable, "-c", "import sys; sys.exit(3)"])
    with pytest.raises(TrainingFailed) as info:
        TrainingProcess().run(tiny_job(), lambda item: None)
    assert not info.value.started
    assert "exit status 3" in str(info.value)


def test_a_prepared_child_says_when_it_is_warm_and_then_trains_as_usual():
    train_process.prepare()
    assert train_process.wait_until_warm(120)
    child = train_process.take()
    result = child.run(tiny_job(epochs=1), lambda item: None)
    assert result.status == "finished" and len(result.history) == 1
    train_process.discard()


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="Linux thread priorities")
def test_a_child_yields_to_the_window_once_its_run_has_reported():
    train_process.prepare()
    assert train_process.wait_until_warm(120)
    child = train_process.take()
    pid = child._proc.pid
    try:
        # Warming up and starting: the app's own priority, so a busy window cannot hold it back.
        assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0)
        seen: list[int] = []

        def on_item(item) -> None:
            if isinstance(item, Progress) and not seen:
                deadline = time.monotonic() + 5.0
                while os.getpriority(os.PRIO_PROCESS, pid) != train_process.TRAINING_NICE \
                        and time.monotonic() < deadline:
                    time.sleep(0.01)
                seen.append(os.getpriority(os.PRIO_PROCESS, pid))

        result = child.run(tiny_job(epochs=2), on_item)
        assert result.status == "finished"
        assert seen == [train_process.TRAINING_NICE]   # then the lowest, so the window comes first
        assert os.getpriority(os.PRIO_PROCESS, 0) < train_process.TRAINING_NICE   # this process keeps its own
    finally:
        train_process.discard()


def test_a_child_whose_app_goes_away_ends_at_once_even_while_warming_up():
    child = TrainingProcess().start()
    child._proc.stdin.close()   # as when the app is closed or killed before it sends a job
    assert child._proc.wait(timeout=60) == 0
    # It never got as far as saying it was warm: it did not import torch and warm up for nobody.
    assert child._proc.stdout.read() == b""
    child._close()


def test_a_frame_naming_anything_but_latentlab_torch_or_numpy_is_refused():
    import pickle as std_pickle

    from latentlab.core.train_process import _loads

    assert _loads(std_pickle.dumps(("item", {"a": (1, 2.0)}))) == ("item", {"a": (1, 2.0)})
    job = tiny_job()
    assert _loads(std_pickle.dumps(job)).model_config == job.model_config   # tensors and configs pass

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    with pytest.raises(std_pickle.UnpicklingError, match="may not name"):
        _loads(std_pickle.dumps(Evil()))
