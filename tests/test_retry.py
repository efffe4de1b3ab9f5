"""Retrier: lock errors retried under the policy, everything else raised at once."""

from __future__ import annotations

import errno
import logging

import pytest

from stt_studio.errors import FileOp
from stt_studio.retry import Retrier, RetryPolicy


class FakeClock:
    """Time that only moves when the retrier sleeps (or a test moves it)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def locked() -> PermissionError:
    exc = PermissionError(13, "The process cannot access the file because it is being used "
                              "by another process", "model_weights.ckpt")
    exc.winerror = 32  # type: ignore[attr-defined]
    return exc


class FlakyFile:
    """Raises ``failures`` lock errors, then returns a value."""

    def __init__(self, failures: int, error=locked) -> None:
        self.failures = failures
        self.calls = 0
        self.error = error

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error()
        return "loaded"


def make(policy: RetryPolicy | None = None):
    fake = FakeClock()
    hooks: list[int] = []
    retrier = Retrier(policy or RetryPolicy(), sleep=fake.sleep,
                      between_tries=lambda: hooks.append(len(fake.sleeps)), clock=fake.clock)
    return retrier, fake, hooks


def test_lock_released_after_two_failures_succeeds(caplog):
    retrier, fake, hooks = make()
    fn = FlakyFile(2)
    with caplog.at_level(logging.WARNING, logger="stt_studio.retry"):
        assert retrier.run(fn, "load model.nemo") == "loaded"
    assert fn.calls == 3
    assert fake.sleeps == [0.1, 0.2]
    messages = [r.getMessage() for r in caplog.records if r.name == "stt_studio.retry"]
    assert len(messages) == 2
    assert "load model.nemo" in messages[0] and "retry 1/3" in messages[0]
    assert "retry 2/3" in messages[1]
    assert all("locked" in m for m in messages)


def test_persistent_lock_raises_the_last_error_after_all_delays(caplog):
    retrier, fake, _ = make()
    fn = FlakyFile(99)
    with caplog.at_level(logging.WARNING, logger="stt_studio.retry"):
        with pytest.raises(PermissionError) as info:
            retrier.run(fn, "load model.nemo")
    assert info.value.winerror == 32
    assert fn.calls == 4
    assert fake.sleeps == [0.1, 0.2, 0.3]
    assert len([r for r in caplog.records if r.name == "stt_studio.retry"]) == 3


@pytest.mark.parametrize("error", [
    lambda: PermissionError(errno.EACCES, "Permission denied", "x"),
    lambda: FileNotFoundError(errno.ENOENT, "No such file or directory", "x"),
    lambda: OSError(errno.ENOSPC, "No space left on device", "x"),
    lambda: ValueError("not an OSError at all"),
])
def test_non_lock_error_is_raised_at_once(error):
    retrier, fake, hooks = make()
    fn = FlakyFile(1, error=error)
    with pytest.raises(type(error())):
        retrier.run(fn, "x")
    assert fn.calls == 1
    assert fake.sleeps == []
    assert hooks == []


def test_ebusy_is_retried():
    retrier, fake, _ = make()
    fn = FlakyFile(1, error=lambda: OSError(errno.EBUSY, "Device or resource busy"))
    assert retrier.run(fn, "x") == "loaded"
    assert fake.sleeps == [0.1]


def test_max_wait_s_stops_before_the_delays_run_out(caplog):
    retrier, fake, _ = make(RetryPolicy(delays_s=(1.0, 1.0, 1.0, 1.0), max_wait_s=2.5))
    fn = FlakyFile(99)
    with caplog.at_level(logging.WARNING, logger="stt_studio.retry"):
        with pytest.raises(PermissionError):
            retrier.run(fn, "load x")
    assert fake.sleeps == [1.0, 1.0]  # a third second would exceed 2.5 s
    assert fn.calls == 3
    assert sum(fake.sleeps) <= 2.5
    assert any("giving up" in r.getMessage() for r in caplog.records)


def test_the_bound_counts_waiting_not_the_work_itself():
    """A 2 s read that hits a lock under a 1 s bound is still retried (issue: slow steps)."""
    fake = FakeClock()
    calls = []

    def slow_then_fine():
        calls.append(1)
        fake.now += 2.0  # each try takes 2 s of work (a big checkpoint)
        if len(calls) < 3:
            raise locked()
        return "read"

    retrier = Retrier(RetryPolicy(delays_s=(0.1, 0.2, 0.3), max_wait_s=1.0),
                      sleep=fake.sleep, between_tries=lambda: None, clock=fake.clock)
    assert retrier.run(slow_then_fine, "read weights") == "read"
    assert fake.sleeps == [0.1, 0.2] and len(calls) == 3
    assert fake.now - 100.0 > 1.0  # far more time passed than the bound; only waiting counts


@pytest.mark.parametrize("winerror, op, retried", [
    (5, FileOp.MOVE, True), (5, FileOp.REMOVE, True), (5, FileOp.READ, False),
    (145, FileOp.REMOVE, True), (145, FileOp.WRITE, False),
    (1224, FileOp.REMOVE, True), (1224, FileOp.WRITE, True), (1224, FileOp.READ, False),
    (32, FileOp.READ, True), (33, FileOp.WRITE, True),
])
def test_which_windows_codes_are_locks_depends_on_the_operation(winerror, op, retried):
    def error():
        exc = PermissionError(13, "Access is denied", "model_cache/extracted/abc")
        exc.winerror = winerror  # type: ignore[attr-defined]
        return exc

    retrier, fake, _ = make()
    fn = FlakyFile(2, error=error)
    if retried:
        assert retrier.run(fn, "x", op) == "loaded" and fake.sleeps == [0.1, 0.2]
    else:
        with pytest.raises(PermissionError) as info:
            retrier.run(fn, "x", op)
        assert fake.sleeps == [] and info.value.file_op is op


def test_retries_reach_the_running_job_as_typed_notes():
    from stt_studio import progress
    from stt_studio.domain import NoteKind

    events = []
    retrier, _, _ = make()
    with progress.job(events.append):
        retrier.run(FlakyFile(2), "read model.bin")
    notes = [e.note for e in events if e.note is not None]
    assert [n.kind for n in notes] == [NoteKind.LOCK_RETRY] * 2
    assert "read model.bin" in notes[0].text and "retry 1/3" in notes[0].text


def test_a_cancelled_job_stops_waiting_for_a_lock():
    import threading
    import time

    from stt_studio import progress
    from stt_studio.errors import JobCancelled

    cancel = threading.Event()
    retrier = Retrier(RetryPolicy(delays_s=(30.0,), max_wait_s=60.0), between_tries=lambda: None)
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with progress.job(None, cancel), pytest.raises(JobCancelled):
        retrier.run(FlakyFile(5), "x")
    assert time.monotonic() - started < 5


def test_between_tries_runs_before_each_wait():
    retrier, fake, hooks = make()
    assert retrier.run(FlakyFile(3), "x") == "loaded"
    # called once per retry, each time before that retry's sleep
    assert hooks == [0, 1, 2]
    assert fake.sleeps == [0.1, 0.2, 0.3]


def test_empty_delays_means_one_try():
    retrier, fake, _ = make(RetryPolicy(delays_s=()))
    with pytest.raises(PermissionError):
        retrier.run(FlakyFile(1), "x")
    assert fake.sleeps == []


def test_success_first_time_does_not_sleep():
    retrier, fake, hooks = make()
    assert retrier.run(lambda: 42, "x") == 42
    assert fake.sleeps == [] and hooks == []


def test_policy_parse():
    policy = RetryPolicy.parse("0.5, 1,2.5,", max_wait_s=4)
    assert policy.delays_s == (0.5, 1.0, 2.5)
    assert policy.max_wait_s == 4.0
    assert RetryPolicy.parse("").delays_s == ()
    assert RetryPolicy.parse("0.1").max_wait_s == RetryPolicy().max_wait_s


@pytest.mark.parametrize("text", ["0.1,abc", "1;2"])
def test_policy_parse_rejects_garbage(text):
    with pytest.raises(ValueError):
        RetryPolicy.parse(text)


def test_policy_validates():
    with pytest.raises(ValueError, match=">= 0"):
        RetryPolicy(delays_s=(0.1, -1.0))
    with pytest.raises(ValueError, match="bound"):
        RetryPolicy(max_wait_s=0)


def test_default_policy():
    policy = RetryPolicy()
    assert policy.delays_s == (0.1, 0.2, 0.3)
    assert policy.max_wait_s > sum(policy.delays_s)


def test_time_spent_cleaning_up_between_tries_counts_as_waiting():
    """gc.collect() with NeMo loaded can take a second: it is waiting, and bounded too.

    The clean-up's time is the fake clock's, so a busy machine cannot change the count.
    """
    fake = FakeClock()
    cleanups: list[float] = []

    def slow_cleanup() -> None:
        cleanups.append(fake.now)
        fake.now += 0.1  # each clean-up takes 0.1 s, longer than the (zero) delays

    retrier = Retrier(RetryPolicy(delays_s=(0.0,) * 6, max_wait_s=0.25),
                      sleep=fake.sleep, between_tries=slow_cleanup, clock=fake.clock)
    fn = FlakyFile(99)
    with pytest.raises(PermissionError):
        retrier.run(fn, "x")
    # after three clean-ups of 0.1 s the bound is spent: 4 calls, not the 7 the delays allow
    assert fn.calls == 4 and len(cleanups) == 3
    assert fake.sleeps == [0.0, 0.0, 0.0]
