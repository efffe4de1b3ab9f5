"""run_job: slow work in a thread, a steady stream of updates, the worker's warnings, no raise."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from stt_studio import progress
from stt_studio.domain import Note, NoteKind, ProgressEvent, Stage
from stt_studio.entrypoints.jobs import Update, run_job
from stt_studio.errors import FileLockedError, JobCancelled

HEARTBEAT_S = 0.05
#: generous bound for anything that should take a few heartbeats on a busy 2-core machine
PATIENCE_S = 10.0


def drain(updates) -> list[Update]:
    return list(updates)


def test_stages_arrive_in_order_and_the_last_update_carries_the_result():
    def work(say):
        for stage in (Stage.LOADING, Stage.DECODING):
            say(ProgressEvent(stage))
        progress.stage(Stage.TRANSCRIBING, "5 of 10 s", 0.5)  # through the job's context
        return {"text": "hello"}

    updates = drain(run_job(work, heartbeat_s=HEARTBEAT_S))
    stages = [u.stage for u in updates[:-1]]
    deduped = [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s]
    assert [s for s in deduped if s is not Stage.STARTING] == [
        Stage.LOADING, Stage.DECODING, Stage.TRANSCRIBING]
    final = updates[-1]
    assert final.done and final.error is None
    assert final.result == {"text": "hello"}
    assert final.stage is Stage.TRANSCRIBING and final.fraction == 0.5
    assert final.stage_text == "transcribing… 5 of 10 s"
    assert [u.done for u in updates].count(True) == 1
    assert all(u.result is None for u in updates[:-1])
    elapsed = [u.elapsed_s for u in updates]
    assert elapsed == sorted(elapsed)


def test_heartbeats_keep_coming_while_the_work_is_silent():
    release = threading.Event()

    def work(say):
        say(ProgressEvent(Stage.LOADING))
        assert release.wait(PATIENCE_S), "the test never released the work"
        say(ProgressEvent(Stage.TRANSCRIBING))
        return 7

    jobs = run_job(work, heartbeat_s=HEARTBEAT_S)
    started = time.monotonic()
    silent = []
    try:
        for update in jobs:
            assert not update.done, "the work ended while it was held"
            if update.stage is Stage.LOADING:
                silent.append(update)
            if len(silent) == 6:
                break
    finally:
        release.set()
    took = time.monotonic() - started
    assert took < PATIENCE_S
    # one update for the stage, then heartbeats with growing times and no news
    assert [u.stage for u in silent] == [Stage.LOADING] * 6
    assert all(u.notes == () for u in silent)
    waits = [u.stage_elapsed_s for u in silent]
    assert waits == sorted(waits) and waits[-1] >= 4 * HEARTBEAT_S * 0.9
    assert all(u.elapsed_s >= u.stage_elapsed_s for u in silent)
    rest = drain(jobs)
    assert rest[-1].done and rest[-1].result == 7 and rest[-1].stage is Stage.TRANSCRIBING
    # a new stage restarts the stage clock, not the job clock
    assert rest[-1].stage_elapsed_s < rest[-1].elapsed_s


def test_a_held_job_shows_its_first_stage():
    release = threading.Event()

    def work(_say):
        release.wait(PATIENCE_S)
        return None

    jobs = run_job(work, first_stage=Stage.CHECKING, heartbeat_s=HEARTBEAT_S)
    try:
        first = next(jobs)
    finally:
        release.set()
    assert first.stage is Stage.CHECKING and not first.done
    assert first.elapsed_s >= HEARTBEAT_S * 0.9  # a heartbeat, not news
    final = drain(jobs)[-1]
    assert final.done and final.result is None and final.error is None


def test_typed_notes_arrive_once_and_other_warnings_become_notes(caplog):
    """A lock retry is noted once (not again through the log capture)."""
    from stt_studio.retry import Retrier

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 2:
            exc = PermissionError(13, "Access is denied", "model_cache/extracted/x")
            exc.winerror = 5  # a folder rename that antivirus holds up
            raise exc
        return "moved"

    def work(_say):
        from stt_studio.errors import FileOp

        Retrier(sleep=lambda _s: None).run(flaky, "move staging", FileOp.MOVE)
        logging.getLogger("stt_studio.fsops").warning("a plain warning")
        return "ok"

    final = drain(run_job(work, heartbeat_s=HEARTBEAT_S))[-1]
    assert final.result == "ok"
    assert [n.kind for n in final.notes] == [NoteKind.LOCK_RETRY, NoteKind.WARNING]
    assert "move staging" in final.notes[0].text and "retry 1/3" in final.notes[0].text
    assert final.notes[1] == Note(NoteKind.WARNING, "a plain warning")


def test_closing_the_generator_cancels_the_work():
    """Gradio closes the handler's generator when the page goes away."""
    stopped = threading.Event()
    outcome = {}

    def work(_say):
        try:
            for _ in range(int(PATIENCE_S / 0.01)):
                progress.stage(Stage.TRANSCRIBING)  # a checkpoint, as engines make
                time.sleep(0.01)
        except JobCancelled as exc:
            outcome["error"] = exc
            raise
        finally:
            stopped.set()
        return "finished anyway"

    jobs = run_job(work, heartbeat_s=HEARTBEAT_S)
    next(jobs)
    jobs.close()
    assert stopped.wait(PATIENCE_S), "the work kept running after its page went away"
    assert isinstance(outcome.get("error"), JobCancelled)


def test_a_cancel_event_stops_the_work_and_ends_the_job():
    cancel = threading.Event()

    def work(_say):
        while True:
            progress.stage(Stage.TRANSCRIBING)
            time.sleep(0.01)

    threading.Timer(0.1, cancel.set).start()
    final = drain(run_job(work, heartbeat_s=HEARTBEAT_S, cancel=cancel))[-1]
    assert final.done and isinstance(final.error, JobCancelled)


def test_notes_hold_the_workers_warnings_only(caplog):
    # the studio's logger at INFO: records reach the capture, which must keep WARNING and up
    caplog.set_level(logging.INFO, logger="stt_studio")
    other_logged = threading.Event()
    caller_logged = threading.Event()
    worker_started = threading.Event()

    def other_thread():
        worker_started.wait(PATIENCE_S)
        logging.getLogger("stt_studio.models").warning("a warning from another request")
        other_logged.set()

    def work(say):
        worker_started.set()
        # the other thread and the caller's thread both log while this job runs
        assert other_logged.wait(PATIENCE_S) and caller_logged.wait(PATIENCE_S)
        say(ProgressEvent(Stage.LOADING))
        logging.getLogger("stt_studio.retry").warning("open %s: file locked; retry %d/%d",
                                                      "model.bin", 1, 3)
        logging.getLogger("stt_studio.x").info("just information")
        logging.getLogger("stt_studio.x").error("an error is a note too")
        logging.getLogger("elsewhere").warning("not the studio's logger")
        return "ok"

    other = threading.Thread(target=other_thread)
    other.start()
    updates = []
    for update in run_job(work, heartbeat_s=HEARTBEAT_S):
        if not updates:  # the worker is running (and waiting for this)
            logging.getLogger("stt_studio.ui").warning("a warning from the caller's thread")
            caller_logged.set()
        updates.append(update)
    other.join(PATIENCE_S)
    final = updates[-1]
    assert final.done and final.result == "ok"
    assert [n.text for n in final.notes] == ["open model.bin: file locked; retry 1/3",
                                             "an error is a note too"]
    # every record still reaches the console as before
    logged = {r.getMessage() for r in caplog.records}
    assert {"a warning from another request", "a warning from the caller's thread",
            "just information"} <= logged
    # notes only grow: an update never loses a note an earlier one showed
    for before, after in zip(updates, updates[1:]):
        assert after.notes[:len(before.notes)] == before.notes


@pytest.mark.parametrize("error", [ValueError("bad value"), FileLockedError("model.bin is in use"),
                                   KeyboardInterrupt()], ids=lambda e: type(e).__name__)
def test_an_exception_ends_the_job_and_is_handed_over_not_raised(error):
    def work(say):
        say(ProgressEvent(Stage.DECODING))
        raise error

    updates = drain(run_job(work, heartbeat_s=HEARTBEAT_S))  # must not raise
    final = updates[-1]
    assert final.done
    assert final.error is error
    assert final.result is None
    assert final.stage is Stage.DECODING  # the stage that failed, for the message
    assert final.error.__traceback__ is not None  # the console can still show where


def test_a_falsy_result_is_still_the_result():
    final = drain(run_job(lambda _say: 0, heartbeat_s=HEARTBEAT_S))[-1]
    assert final.done and final.result == 0 and final.error is None


@pytest.mark.parametrize("fails", [False, True])
def test_the_log_capture_is_removed_afterwards(fails):
    studio_logger = logging.getLogger("stt_studio")
    before = list(studio_logger.handlers)
    during = []

    def work(_say):
        during.append(list(studio_logger.handlers))
        if fails:
            raise RuntimeError("boom")
        return 1

    final = drain(run_job(work, heartbeat_s=HEARTBEAT_S))[-1]
    assert (final.error is not None) is fails
    assert len(during[0]) == len(before) + 1  # the capture was there while the work ran
    assert studio_logger.handlers == before


def test_a_custom_logger_is_watched_instead(caplog):
    caplog.set_level(logging.WARNING)

    def work(_say):
        logging.getLogger("stt_studio.engines").warning("studio warning")
        logging.getLogger("mytool.part").warning("tool warning")
        return None

    final = drain(run_job(work, heartbeat_s=HEARTBEAT_S, logger="mytool"))[-1]
    assert [n.text for n in final.notes] == ["tool warning"]
    assert logging.getLogger("mytool").handlers == []


def test_two_jobs_at_once_keep_their_notes_apart():
    both_running = threading.Barrier(2, timeout=PATIENCE_S)

    def job(name):
        def work(_say):
            both_running.wait()
            logging.getLogger("stt_studio.x").warning("note of %s", name)
            both_running.wait()  # neither finishes before both have logged
            return name
        return work

    results = {}

    def consume(name):
        results[name] = drain(run_job(job(name), heartbeat_s=HEARTBEAT_S))[-1]

    threads = [threading.Thread(target=consume, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE_S)
    assert [n.text for n in results["a"].notes] == ["note of a"] and results["a"].result == "a"
    assert [n.text for n in results["b"].notes] == ["note of b"] and results["b"].result == "b"
