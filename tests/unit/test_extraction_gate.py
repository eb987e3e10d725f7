"""The extraction gate admits article downloads while the pages in hand are under the limit,
in order, and the next as soon as a download finishes or the backlog falls; a download
cancelled while it waits gives its place back."""

from __future__ import annotations

from twisted.internet.defer import CancelledError

from crawler.extraction_gate import ExtractionGate


def test_downloads_wait_for_room_and_go_in_order() -> None:
    backlog = [0]
    gate = ExtractionGate(lambda: backlog[0])
    started: list[int] = []
    for n in range(4):
        gate.enter(2).started.addCallback(lambda _, n=n: started.append(n))
    assert started == [0, 1] and gate.waiting == 2
    gate.left()  # page 0 downloaded: room for page 2
    assert started == [0, 1, 2]
    backlog[0] += 1  # page 0 enters extraction: three in hand, nobody moves
    gate.wake()
    gate.left()  # page 1 downloaded, still three with page 2 and page 0's extraction
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
    waiter = gate.enter(3)
    assert not waiter.started.called and gate.downloading == 0
    backlog[0] = 2
    gate.wake()
    assert waiter.started.called and waiter.admitted and gate.downloading == 1


def test_a_download_cancelled_while_waiting_gives_its_place_back() -> None:
    gate = ExtractionGate(lambda: 0)
    first = gate.enter(1)
    cancelled = gate.enter(1)
    last = gate.enter(1)
    cancelled.started.addErrback(lambda f: f.trap(CancelledError))
    cancelled.started.cancel()
    gate.left()  # the first finishes: the cancelled one is skipped, the last goes
    assert first.admitted and not cancelled.admitted and last.admitted
    gate.withdraw(cancelled)  # its own clean-up: nothing more to give back
    assert gate.downloading == 1 and gate.waiting == 0
    gate.withdraw(last)  # cancelled once admitted: its place is freed
    assert gate.downloading == 0
