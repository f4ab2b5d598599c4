"""Work that can wait a frame: held while the probe is dragged, run after a frame, in order."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from latentlab.gui.frame_pacing import BUDGET_MS, MAX_WAIT_MS, FramePacer


class Clock:
    """A clock that moves only when a job says it took time."""

    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pacer(qtbot):
    state = {"dragging": False}
    clock = Clock()
    p = FramePacer(lambda: state["dragging"], clock=clock)
    p.state, p.fake_clock = state, clock
    yield p
    p.clear()


def _job(log: list, name: str, clock: Clock | None = None, ms: float = 0.0):
    def run() -> None:
        log.append(name)
        if clock is not None:
            clock.now += ms / 1000.0
    return run


def test_at_rest_work_runs_at_once(pacer):
    log: list[str] = []
    pacer.call(_job(log, "a"))
    assert log == ["a"] and pacer.pending() == 0


def test_while_dragging_work_waits_for_a_frame_and_runs_in_order_within_the_budget(pacer, qtbot):
    log: list[str] = []
    pacer.state["dragging"] = True
    clock = pacer.fake_clock
    pacer.call(_job(log, "a", clock, BUDGET_MS / 2))
    pacer.call(_job(log, "b", clock, BUDGET_MS))     # starts inside the budget, ends past it
    pacer.call(_job(log, "c", clock, 0.1))
    QApplication.processEvents()
    assert log == [] and pacer.pending() == 3   # no frame yet: nothing runs
    pacer.frame()
    assert log == []                             # not inside the frame's own handling
    qtbot.waitUntil(lambda: log == ["a", "b"], timeout=1000)
    QApplication.processEvents()
    assert log == ["a", "b"] and pacer.pending() == 1   # "c" waits for the next frame
    pacer.frame()
    qtbot.waitUntil(lambda: log == ["a", "b", "c"], timeout=1000)


def test_a_job_longer_than_the_budget_still_runs_so_the_queue_keeps_moving(pacer, qtbot):
    log: list[str] = []
    pacer.state["dragging"] = True
    pacer.call(_job(log, "long", pacer.fake_clock, 10 * BUDGET_MS))
    pacer.call(_job(log, "next", pacer.fake_clock, 0.1))
    pacer.frame()
    qtbot.waitUntil(lambda: log == ["long"], timeout=1000)
    pacer.frame()
    qtbot.waitUntil(lambda: log == ["long", "next"], timeout=1000)


def test_nothing_waits_longer_than_the_deadline_even_without_frames(pacer, qtbot):
    log: list[str] = []
    pacer.state["dragging"] = True
    pacer.call(_job(log, "a"))
    qtbot.wait(MAX_WAIT_MS // 3)
    assert log == []
    qtbot.waitUntil(lambda: log == ["a"], timeout=MAX_WAIT_MS * 5)


def test_when_the_drag_ends_what_waited_runs_before_new_work(pacer, qtbot):
    log: list[str] = []
    pacer.state["dragging"] = True
    pacer.call(_job(log, "held 1"))
    pacer.call(_job(log, "held 2"))
    pacer.state["dragging"] = False
    pacer.call(_job(log, "new"))
    assert log == ["held 1", "held 2", "new"] and pacer.pending() == 0


def test_a_job_that_raises_does_not_strand_the_rest(pacer, qtbot, monkeypatch):
    log: list[str] = []
    pacer.state["dragging"] = True

    def boom() -> None:
        raise RuntimeError("boom")

    pacer.call(boom)
    pacer.call(_job(log, "after"))
    with pytest.raises(RuntimeError):
        pacer._run_some()   # as the timer would: the error reaches Qt's handler
    assert pacer.pending() == 1
    qtbot.waitUntil(lambda: log == ["after"], timeout=MAX_WAIT_MS * 5)


def test_flush_runs_what_waits_at_once_in_order(pacer):
    log: list[str] = []
    pacer.state["dragging"] = True
    pacer.call(_job(log, "a"))
    pacer.call(_job(log, "b"))
    pacer.flush()
    assert log == ["a", "b"] and pacer.pending() == 0


def test_clear_drops_what_waits(pacer, qtbot):
    log: list[str] = []
    pacer.state["dragging"] = True
    pacer.call(_job(log, "a"))
    pacer.clear()
    qtbot.wait(MAX_WAIT_MS * 2)
    assert log == [] and pacer.pending() == 0


def test_in_the_window_a_drag_holds_the_workers_answers_until_a_frame_is_drawn(qtbot, opened):
    import threading

    from tests.gui.controller_support import tiny_model, wait_for_codes

    window, c = opened(tiny_model(), items=64)
    wait_for_codes(qtbot, c)
    c.frames._deadline.setInterval(60_000)   # only frames let the answer through here
    c.frames._dragging = lambda: True         # the person holds the probe however long the worker takes
    got: list[int] = []
    ran = threading.Event()

    def job(_stop) -> int:
        ran.set()
        return 42

    c.move_probe(*c.scene.xy[0])
    c.inference.submit("pacing test", job, on_result=got.append)
    qtbot.waitUntil(ran.is_set, timeout=5000)
    qtbot.wait(100)   # the answer has reached the GUI thread, and waits
    assert got == [] and c.frames.pending() >= 1
    for k in range(50):   # the drag goes on: a frame every 16 ms
        c.move_probe(*c.scene.xy[k % 2])
        assert got == []   # never while a frame itself is handled
        qtbot.wait(16)
        if got:
            break
    assert got == [42]
