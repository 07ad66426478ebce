"""A signal whose exception a library swallowed still cancels the task (populator.launcher.signals).

CPython can lose the exception a handler raises when the handler runs while another exception
is being raised (botocore raises and catches a ValueError on every API call): a Ctrl-C during
a poll of `inv run_emr --wait` was then ignored and the wait went on. These tests swallow a
real signal's exception on purpose and check that the loops raise it at their next safe point.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import List

import pytest

from populator.launcher.signals import Signals, Terminated, check, wait_process
from populator.launcher.targets.common.watch import Poller, follow


def swallow(signum: int) -> None:
    """Deliver `signum` to this process and drop the exception its handler raises, as the
    interpreter sometimes does."""
    try:
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler interrupts this at once
    except BaseException:
        pass


@pytest.mark.parametrize(
    ("signum", "raised"),
    [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Terminated), (signal.SIGHUP, Terminated)],
)
def test_check_raises_a_swallowed_signal_once_and_handlers_come_back(signum, raised) -> None:
    before = signal.getsignal(signum)
    with Signals() as signals:
        signals.check()  # nothing pending yet
        swallow(signum)
        with pytest.raises(raised) as caught:
            check()
        if raised is Terminated:
            assert caught.value.name == signal.Signals(signum).name
        signals.ignore()  # handling it: no longer pending
        check()
    assert signal.getsignal(signum) is before
    check()  # nothing pending outside a block


def test_a_signal_a_poll_swallowed_cancels_the_follow_before_it_sleeps() -> None:
    slept: List[float] = []
    polls = [0]

    def poll():  # type: ignore[no-untyped-def]
        polls[0] += 1
        swallow(signal.SIGINT)
        return "RUNNING", "step RUNNING", None

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        raise AssertionError("the follow slept on although a signal had arrived")

    watch = Poller(poll_interval=30, log=lambda line: None, sleep=sleep)
    outcome = follow(watch, poll, timed_out=lambda state: "timed out", cancel=lambda why: why)
    assert (outcome, polls[0], slept) == ("Ctrl-C", 1, [])


def test_a_swallowed_sigterm_ends_the_wait_for_a_child_process() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with Signals():
            swallow(signal.SIGTERM)
            started = time.monotonic()
            with pytest.raises(Terminated):
                wait_process(child, tick=0.05)
            assert time.monotonic() - started < 5
    finally:
        child.kill()
        child.wait()


def test_wait_process_returns_the_exit_code() -> None:
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with Signals():
        assert wait_process(child, tick=0.05) == 3
