"""The extraction gate admits article downloads while the pages in hand are under the limit,
in order, and the next as soon as a download is answered or the backlog falls."""

from __future__ import annotations

from crawler.extraction_gate import ExtractionGate


def test_downloads_wait_for_room_and_go_in_order() -> None:
    backlog = [0]
    gate = ExtractionGate(lambda: backlog[0])
    started: list[int] = []
    for n in range(4):
        gate.enter(2).addCallback(lambda _, n=n: started.append(n))
    assert started == [0, 1] and gate.waiting == 2
    gate.left()  # page 0 answered: room for page 2
    assert started == [0, 1, 2]
    backlog[0] += 1  # page 0 enters extraction: three in hand, nobody moves
    gate.wake()
    gate.left()  # page 1 answered, still three with page 2 and page 0's extraction
    backlog[0] += 1
    gate.wake()
    assert started == [0, 1, 2] and gate.waiting == 1
    backlog[0] -= 2  # both extractions finished
    gate.wake()
    assert started == [0, 1, 2, 3] and gate.waiting == 0
    assert gate.peak == 2


def test_a_full_backlog_alone_holds_downloads_back() -> None:
    backlog = [3]
    gate = ExtractionGate(lambda: backlog[0])
    started: list[int] = []
    gate.enter(3).addCallback(lambda _: started.append(1))
    assert not started and gate.downloading == 0
    backlog[0] = 2
    gate.wake()
    assert started == [1] and gate.downloading == 1
