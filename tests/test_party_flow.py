"""A mediation party's phone (dialled out by lawline) as a state machine, without a
phone; and the wire between the web process and the workers refusing what is not one."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lawline.telephony.flow import Hangup, Play
from lawline.telephony.party_flow import ConnectRoom, JoinRoom, PartyFlow, PartyPhase
from lawline.telephony.party_wire import PartyDial, PartyEvent


def test_the_party_hears_the_invitation_presses_1_and_is_connected_once_seated() -> None:
    flow = PartyFlow()
    assert flow.digit("1", 0) == []  # still ringing: nothing to press yet
    assert flow.answered(1) == [Play(("mediation_invite",))]
    assert flow.digit("5", 2) == []  # only 1 joins
    assert flow.digit("1", 3) == [JoinRoom(), Play(("mediation_joining",))]
    assert flow.digit("1", 4) == []  # pressed again while joining: nothing more
    assert flow.joined(5) == [ConnectRoom()]
    assert flow.phase == PartyPhase.IN_ROOM
    assert flow.prompt_done(6) == []  # the cut-off prompt's late end changes nothing
    assert flow.ended_by_room(7, "removed") == [Play(("mediation_ended",))]
    assert flow.prompt_done(9) == [Hangup("removed")]


def test_a_party_who_presses_nothing_is_invited_three_times_then_let_go() -> None:
    flow = PartyFlow(invitations=3, key_wait_s=5)
    flow.answered(0)
    now = 0.0
    for _ in range(2):
        now += 6
        assert flow.prompt_done(now) == []
        assert flow.next_timer() == now + 5
        assert flow.timer(now + 4) == []  # not yet
        now += 5
        assert flow.timer(now) == [Play(("mediation_invite",))]
    flow.prompt_done(now + 6)
    assert flow.timer(now + 11) == [Play(("goodbye",))]
    assert flow.prompt_done(now + 14) == [Hangup("no key pressed")]


def test_a_room_that_will_not_take_the_party_says_so_and_hangs_up() -> None:
    flow = PartyFlow()
    flow.answered(0)
    flow.digit("1", 1)
    assert flow.join_failed(2) == [Play(("mediation_unavailable",))]
    assert flow.prompt_done(5) == [Hangup("the room did not take the party")]


def test_the_room_closing_while_the_phone_rings_stops_the_ringing() -> None:
    flow = PartyFlow()
    assert flow.ended_by_room(1, "closed") == [Hangup("closed")]


def _dial(**over: object) -> str:
    d = {
        "leg": "pl-1",
        "case_id": "2026000001",
        "who": "p1",
        "number": "139 0013 9000",
        "inbox": "abc",
        "expires": 1.0,
    }
    return json.dumps({**d, **over})


def test_a_dial_request_is_checked_where_it_enters() -> None:
    assert PartyDial.parse(_dial()).number == "13900139000"
    for bad in (
        _dial(number="13900139000; drop"),
        _dial(number=""),
        _dial(leg="../x"),
        _dial(who="p" * 100),
        _dial(expires="soon"),
        "[1]",
        "x" * 5000,
    ):
        with pytest.raises(ValueError) as err:
            PartyDial.parse(bad)
        assert "13900139000" not in str(err.value)


@given(st.text(max_size=300))
def test_no_text_breaks_the_event_reader_other_than_by_refusal(raw: str) -> None:
    with contextlib.suppress(ValueError):  # a refusal; anything else fails the test
        PartyEvent.parse(raw)


def test_a_joining_event_must_say_where_the_leg_is() -> None:
    e = PartyEvent("pl-1", "c", "p1", "w1", "joining", ip="127.0.0.1", port=4000)
    assert PartyEvent.parse(e.to_json()) == e
    with pytest.raises(ValueError):
        PartyEvent.parse(PartyEvent("pl-1", "c", "p1", "w1", "joining").to_json())
    with pytest.raises(ValueError):
        PartyEvent.parse(json.dumps({**json.loads(e.to_json()), "state": "teleported"}))
