"""The pace of re-encodes while training: slower for costly placements and while the probe is dragged."""

from __future__ import annotations

from latentlab.gui import encode_pacing
from latentlab.gui.encode_pacing import BASE_MS, DRAG_FACTOR, DRAG_WINDOW_S, MAX_MS, MAX_SHARE, DragClock, EncodePacing


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_cheap_placement_keeps_the_base_interval_and_a_costly_one_keeps_to_its_share():
    assert encode_pacing.interval_ms(0.01, dragging=False) == BASE_MS
    # 0.6 s of processor time per placement: at most a tenth of a core means one every 6 s.
    assert encode_pacing.interval_ms(0.6, dragging=False) == round(600 / MAX_SHARE)
    assert encode_pacing.interval_ms(100.0, dragging=False) == MAX_MS


def test_the_throttle_slows_while_the_probe_is_dragged_and_recovers_after_the_next_placement():
    given: list[int] = []
    clock = Clock()
    drag = DragClock(clock)
    pacing = EncodePacing(given.append, drag)
    assert given == [BASE_MS] and not drag.dragging()
    drag.moved()
    pacing.probe_moved()
    assert given[-1] == BASE_MS * DRAG_FACTOR and drag.dragging()
    clock.now += DRAG_WINDOW_S / 2
    drag.moved()
    pacing.probe_moved()   # the same pace: the throttle is not told again on every move
    assert len(given) == 2
    pacing.placed(0.4)     # a placement during the drag: its cost counts, still doubled
    assert given[-1] == min(MAX_MS, round(400 / MAX_SHARE) * DRAG_FACTOR)
    clock.now += DRAG_WINDOW_S + 0.1
    assert not drag.dragging()
    pacing.placed(0.01)
    assert given[-1] == BASE_MS and pacing.interval == BASE_MS


def test_the_controller_paces_its_re_encode_throttle(qtbot):
    from tests.gui.controller_support import Opened, tiny_model, wait_for_codes

    made = Opened(qtbot)
    try:
        window, c = made(tiny_model(), items=200)
        wait_for_codes(qtbot, c)
        assert c._encode_soon.timeout() == BASE_MS and not window.probe_dragged()
        window.plane.probeMoved.emit(0.1, 0.2)   # a drag step on the plane
        assert c._encode_soon.timeout() == BASE_MS * DRAG_FACTOR
        # One clock: the window's side panels see the same drag as the re-encode pacing.
        assert window.probe_dragged() and c.drag_clock.dragging()
    finally:
        made.close_all()
