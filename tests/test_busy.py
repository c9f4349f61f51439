"""A decoder's recent busy share (busy.py), time passed in."""

from __future__ import annotations

import pytest

from lawline.transcripts.busy import BusyShare


def test_the_share_is_of_the_last_window_only() -> None:
    busy = BusyShare(window_s=10)
    assert busy.share(100.0) == 0.0
    busy.add(91.0, 94.0)  # 3 s in the window
    busy.add(97.0, 99.0)  # 2 s
    assert busy.share(100.0) == pytest.approx(0.5)
    assert busy.share(102.0) == pytest.approx(0.4)  # 91-92 has left the window
    assert busy.share(104.5) == pytest.approx(0.2)  # the first span is gone
    assert busy.share(120.0) == 0.0


def test_a_span_still_running_counts_up_to_now_and_nothing_exceeds_all_the_time() -> None:
    busy = BusyShare(window_s=10)
    busy.add(95.0, 105.0)
    assert busy.share(100.0) == pytest.approx(0.5)
    busy.add(80.0, 200.0)
    assert busy.share(150.0) == 1.0
    busy.add(5.0, 5.0)  # nothing
    assert busy.share(300.0) == 0.0


def test_a_new_threads_share_is_of_the_time_it_has_run() -> None:
    busy = BusyShare(window_s=10, since=100.0)
    assert busy.share(100.0) == 0.0  # nothing known yet
    busy.add(100.5, 102.5)
    assert busy.share(103.0) == pytest.approx(2 / 3)  # not 0.2 of a window it never had
    assert busy.share(110.0) == pytest.approx(0.2)  # a whole window on, as any other
    assert busy.share(115.0) == 0.0
