"""`serve` waits for Ctrl+C in a way Windows can interrupt.

On Windows with Python 3.11 an untimed ``Event.wait()`` on the main thread never
sees Ctrl+C (CPython #80116): the server would have to be killed. So every wait
of the main thread while it serves must carry a timeout. Here each wait of the
main thread is recorded (but Thread.start()'s own wait for the new thread to
run, which ends at once), and the second one raises the KeyboardInterrupt that
Ctrl+C raises, as it does on Windows when a timed wait wakes up.
"""

from __future__ import annotations

import sys
import threading
from types import SimpleNamespace

import pytest

from stt_studio.entrypoints import server
from stt_studio.entrypoints.api.access import Access
from stt_studio.settings import Settings


@pytest.fixture()
def main_thread_waits(monkeypatch) -> list[float | None]:
    """The timeouts of the main thread's ``Event.wait`` calls; the second raises Ctrl+C."""
    timeouts: list[float | None] = []
    real_wait = threading.Event.wait

    def wait(self: threading.Event, timeout: float | None = None) -> bool:
        if (threading.current_thread() is not threading.main_thread()
                or sys._getframe(1).f_globals.get("__name__") == "threading"):
            return real_wait(self, timeout)  # Thread.start() waits for the thread to run
        timeouts.append(timeout)
        if timeout is None:  # the bug: Ctrl+C would never arrive on Windows
            raise AssertionError("an untimed wait on the main thread")
        if len(timeouts) == 2:
            raise KeyboardInterrupt
        return real_wait(self, 0)

    monkeypatch.setattr(threading.Event, "wait", wait)
    return timeouts


@pytest.fixture()
def fake_start(monkeypatch) -> list[SimpleNamespace]:
    """``server.start`` without a web server; the fake uvicorn servers it made."""
    made: list[SimpleNamespace] = []

    def start(studio, host, port, *, hazards=None, options=None):
        done = threading.Thread(target=lambda: None)
        done.start()
        done.join()
        made.append(SimpleNamespace(should_exit=False))
        return server.Served("http://127.0.0.1:7/", "http://127.0.0.1:7/", Access(),
                             made[-1], done, None)

    monkeypatch.setattr(server, "start", start)
    return made


def test_ctrl_c_during_a_timed_wait_stops_serve_cleanly(main_thread_waits, fake_start,
                                                        fresh_layout, capsys, monkeypatch):
    from stt_studio.models.manager import ModelManager

    stopped: list[bool] = []
    real_stop = ModelManager.stop_reaper

    def stop_reaper(self: ModelManager) -> None:
        stopped.append(True)
        real_stop(self)

    monkeypatch.setattr(ModelManager, "stop_reaper", stop_reaper)
    settings = Settings(cache_dir=fresh_layout.root, model_ttl_s=60.0)
    code = server.serve(settings, fresh_layout, "127.0.0.1", 0, preload=False)
    assert code == 0
    assert main_thread_waits == [server.WAKE_S, server.WAKE_S]  # timed, and woken again
    assert 0 < server.WAKE_S <= 1  # Ctrl+C is felt within a second
    out = capsys.readouterr().out
    assert "stt-studio is running" in out and out.rstrip().endswith("stopping…")
    [uvicorn] = fake_start
    assert uvicorn.should_exit and stopped == [True]  # the server and the reaper stopped


def test_the_wait_returns_when_told_to_stop():
    stop = threading.Event()
    threading.Timer(0.05, stop.set).start()
    server.wait_until_interrupted(stop)  # returns: no Ctrl+C needed
    assert stop.is_set()
