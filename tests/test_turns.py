"""Turns: one job at a time per model, in the order they asked; cancelled waiters leave."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from stt_studio import progress as job_progress
from stt_studio.domain import NoteKind, ProgressEvent
from stt_studio.errors import JobCancelled
from stt_studio.turns import Turns

#: generous: other suites share the two cores
SETTLE_S = 10.0


def wait_until(condition: Callable[[], bool], what: str, limit_s: float = SETTLE_S) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {limit_s:.0f} s: {what}")
        time.sleep(0.005)


class Holder:
    """A thread that takes ``key``'s turn and keeps it until released."""

    def __init__(self, turns: Turns, key: str) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(turns, key), daemon=True)
        self.thread.start()
        assert self.inside.wait(SETTLE_S), "the holder never got its turn"

    def _run(self, turns: Turns, key: str) -> None:
        with turns.turn(key):
            self.inside.set()
            self.release.wait(SETTLE_S * 3)

    def done(self) -> None:
        self.release.set()
        self.thread.join(SETTLE_S)
        assert not self.thread.is_alive()


class Recorder:
    """Jobs that note when they run, and how many ran at once."""

    def __init__(self, turns: Turns) -> None:
        self.turns = turns
        self.order: list[int] = []
        self.errors: dict[int, BaseException] = {}
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def job(self, key: str, index: int, hold_s: float = 0.01,
            cancel: threading.Event | None = None,
            events: list[ProgressEvent] | None = None) -> threading.Thread:
        def run() -> None:
            try:
                with job_progress.job(events.append if events is not None else None, cancel), \
                        self.turns.turn(key):
                    with self._lock:
                        self.running += 1
                        self.most_at_once = max(self.most_at_once, self.running)
                        self.order.append(index)
                    time.sleep(hold_s)
                    with self._lock:
                        self.running -= 1
            except BaseException as exc:  # noqa: BLE001 - looked at by the test
                self.errors[index] = exc

        thread = threading.Thread(target=run, daemon=True, name=f"job-{index}")
        thread.start()
        return thread


def queue_in_order(turns: Turns, recorder: Recorder, key: str, indexes: range,
                   **kwargs: object) -> list[threading.Thread]:
    """Start jobs ``indexes``, each one only once the one before is in the queue."""
    threads = []
    for index in indexes:
        before = turns.waiting(key)
        threads.append(recorder.job(key, index, **kwargs))  # type: ignore[arg-type]
        wait_until(lambda b=before: turns.waiting(key) == b + 1, f"job {index} queued")
    return threads


def join_all(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(SETTLE_S)
        assert not thread.is_alive(), f"{thread.name} never finished"


def test_waiters_run_in_the_order_they_asked_one_at_a_time() -> None:
    turns = Turns()
    holder = Holder(turns, "tiny.en")
    recorder = Recorder(turns)
    threads = queue_in_order(turns, recorder, "tiny.en", range(8))
    assert turns.waiting("tiny.en") == 9
    time.sleep(0.5)  # the waiters poll: none may slip past the holder meanwhile
    assert recorder.order == []
    holder.done()
    join_all(threads)
    assert recorder.errors == {}
    assert recorder.order == list(range(8))
    assert recorder.most_at_once == 1
    assert turns.waiting("tiny.en") == 0


def test_a_client_that_asks_again_at_once_goes_behind_those_waiting() -> None:
    """A plain lock lets the thread that just let go take it again: others would starve."""
    turns = Turns()
    recorder = Recorder(turns)
    inside = threading.Event()
    go_on = threading.Event()

    def keeps_sending() -> None:
        with turns.turn("m"):
            recorder.order.append(100)
            inside.set()
            go_on.wait(SETTLE_S)
        with turns.turn("m"):
            recorder.order.append(101)

    sender = threading.Thread(target=keeps_sending, daemon=True)
    sender.start()
    assert inside.wait(SETTLE_S)
    other = queue_in_order(turns, recorder, "m", range(1))
    go_on.set()
    join_all([sender, *other])
    assert recorder.errors == {}
    assert recorder.order == [100, 0, 101]  # the other asked before the second request
    assert turns.waiting("m") == 0


def test_jobs_arriving_while_others_run_still_run_one_at_a_time() -> None:
    turns = Turns()
    recorder = Recorder(turns)
    threads = []
    for index in range(12):
        threads.append(recorder.job("m", index, hold_s=0.02))
        time.sleep(0.005)  # arrivals overlap the running jobs
    join_all(threads)
    assert recorder.errors == {}
    assert recorder.most_at_once == 1
    assert len(recorder.order) == 12


def test_different_keys_do_not_wait_for_each_other() -> None:
    turns = Turns()
    holder = Holder(turns, "nvidia/parakeet-tdt-0.6b-v2")
    started = time.monotonic()
    with turns.turn("tiny.en"):
        assert turns.waiting("tiny.en") == 1
        assert turns.waiting("nvidia/parakeet-tdt-0.6b-v2") == 1
    assert time.monotonic() - started < 2.0
    holder.done()


def test_waiting_counts_the_running_job_and_the_queue() -> None:
    turns = Turns()
    assert turns.waiting("m") == 0
    with turns.turn("m"):
        assert turns.waiting("m") == 1
        assert turns.waiting("other") == 0
    assert turns.waiting("m") == 0


def test_a_failing_job_gives_up_its_turn() -> None:
    turns = Turns()
    with pytest.raises(RuntimeError), turns.turn("m"):
        raise RuntimeError("the model fell over")
    assert turns.waiting("m") == 0
    recorder = Recorder(turns)
    join_all([recorder.job("m", 0)])
    assert recorder.order == [0]
    assert turns.waiting("m") == 0


def test_the_waiting_note_says_how_many_are_ahead() -> None:
    turns = Turns()
    first: list[ProgressEvent] = []
    with job_progress.job(first.append), turns.turn("tiny.en"):
        pass
    assert [e for e in first if e.note is not None] == []  # nobody ahead: nothing to say

    holder = Holder(turns, "tiny.en")
    recorder = Recorder(turns)
    ahead: list[ProgressEvent] = []
    threads = queue_in_order(turns, recorder, "tiny.en", range(1))
    threads += queue_in_order(turns, recorder, "tiny.en", range(1, 2), events=ahead)
    holder.done()
    join_all(threads)
    notes = [e.note for e in ahead if e.note is not None]
    assert len(notes) == 1
    assert notes[0].kind is NoteKind.WAITING
    assert "2 job(s) ahead" in notes[0].text and "tiny.en" in notes[0].text


def test_a_cancelled_waiter_leaves_the_queue_and_blocks_no_one() -> None:
    turns = Turns()
    holder = Holder(turns, "m")
    recorder = Recorder(turns)
    cancel = threading.Event()
    threads = queue_in_order(turns, recorder, "m", range(1), cancel=cancel)  # to be cancelled
    later = queue_in_order(turns, recorder, "m", range(1, 2))
    assert turns.waiting("m") == 3
    cancel.set()
    threads[0].join(SETTLE_S)
    assert not threads[0].is_alive(), "a cancelled waiter kept waiting"
    assert isinstance(recorder.errors.get(0), JobCancelled)
    assert turns.waiting("m") == 2  # the holder and the job behind
    assert recorder.order == []  # the cancelled job never ran
    holder.done()
    join_all(later)
    assert recorder.order == [1]
    assert 1 not in recorder.errors
    assert turns.waiting("m") == 0


def test_a_job_cancelled_while_it_holds_the_turn_passes_it_on() -> None:
    turns = Turns()
    recorder = Recorder(turns)
    cancel = threading.Event()
    holder_in = threading.Event()
    errors: list[BaseException] = []

    def cancellable_holder() -> None:
        try:
            with job_progress.job(None, cancel), turns.turn("m"):
                holder_in.set()
                job_progress.sleep(SETTLE_S * 3)
        except JobCancelled as exc:
            errors.append(exc)

    thread = threading.Thread(target=cancellable_holder, daemon=True)
    thread.start()
    assert holder_in.wait(SETTLE_S)
    waiter = queue_in_order(turns, recorder, "m", range(1))
    cancel.set()
    join_all([thread, *waiter])
    assert len(errors) == 1
    assert recorder.order == [0]
    assert turns.waiting("m") == 0
