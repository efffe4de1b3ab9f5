"""The scheduler: closed turns first, partials only when nothing closed waits."""

from __future__ import annotations

from stt_studio.live.schedule import Action, State, behind, next_action, wait_s


def test_closed_turns_come_before_partials():
    assert next_action(State(1, 5.0, 10.0, 0.7)) is Action.FINAL


def test_partials_wait_for_growth_and_their_interval():
    assert next_action(State(0, 1.0, 0.8, 0.7)) is Action.PARTIAL
    assert next_action(State(0, 1.0, 0.3, 0.7)) is Action.WAIT  # too soon
    assert next_action(State(0, 0.1, 5.0, 0.7)) is Action.WAIT  # nothing new to hear
    assert abs(wait_s(State(0, 1.0, 0.3, 0.7)) - 0.4) < 1e-9


def test_behind():
    assert not behind(1.0) and behind(5.0)
