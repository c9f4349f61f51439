"""The call flow state machine: every path a caller can take, without a phone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lawline.queue.skills import Domain, GreenReason, Service
from lawline.telephony.flow import (
    ROOM_CODE_DIGITS,
    Action,
    CallFlow,
    ConnectLawyer,
    Enqueue,
    EnterRoom,
    FindRoom,
    Hangup,
    HoldMusic,
    LeaveVoicemail,
    Phase,
    Play,
    Record,
    RequestCallback,
    SaveRating,
    StopRecording,
)
from lawline.telephony.menu import Menu, default_menu


class Caller:
    """Drives a CallFlow like the worker would, playing every prompt to its end."""

    def __init__(self, hotline_open: bool = True, menu: Menu | None = None) -> None:
        self.flow = CallFlow(menu or default_menu())
        self.now = 1000.0
        self.heard: list[str] = []
        self.actions: list[Action] = []
        self._take(self.flow.start(self.now, hotline_open))

    def _take(self, actions: list[Action]) -> None:
        self.actions += actions
        for a in actions:
            if isinstance(a, Play):
                self.heard += a.prompts

    def finish_prompt(self) -> None:
        self._take(self.flow.prompt_done(self.now))

    def press(self, digits: str) -> None:
        for d in digits:
            actions = self.flow.digit(d, self.now)
            self._take(actions)
            if any(isinstance(a, Play) for a in actions):
                self.finish_prompt()

    def wait(self, seconds: float) -> None:
        """Let time pass, firing the flow's timer whenever it is due."""
        end = self.now + seconds
        while (t := self.flow.next_timer()) is not None and t <= end:
            self.now = t
            self._take(self.flow.timer(self.now))
            self.finish_prompt()
        self.now = end

    def enqueued(self) -> Enqueue:
        [e] = [a for a in self.actions if isinstance(a, Enqueue)]
        return e

    def of(self, kind: type) -> list[Action]:
        return [a for a in self.actions if isinstance(a, kind)]


def answered_caller(digits: str = "11") -> Caller:
    c = Caller()
    c.finish_prompt()
    c.press(digits)
    c._take(c.flow.answered(c.now))
    return c


@pytest.mark.parametrize(
    "digits, service, domain, language",
    [
        ("11", Service.CONSULTATION, Domain.LABOUR, None),
        ("12", Service.CONSULTATION, Domain.MARRIAGE_FAMILY, None),
        ("13", Service.CONSULTATION, Domain.LAND_HOMESTEAD, None),
        ("14", Service.CONSULTATION, Domain.TRAFFIC, None),
        ("15", Service.CONSULTATION, Domain.LENDING_CONTRACTS, None),
        ("16", Service.CONSULTATION, Domain.OTHER, None),
        ("2", Service.LEGAL_AID, None, None),
        ("3", Service.MEDIATION, None, None),
        ("4", Service.NOTARISATION, None, None),
        ("5", Service.COMPLAINT, None, None),
        ("9", Service.CONSULTATION, None, "mn"),
    ],
)
def test_every_menu_path_reaches_its_queue(
    digits: str, service: Service, domain: Domain | None, language: str | None
) -> None:
    c = Caller()
    assert c.heard == ["welcome", "main_menu"]
    c.finish_prompt()
    c.press(digits)
    route = c.enqueued().route
    assert (route.service, route.domain, route.language) == (service, domain, language)
    assert c.heard[-1] == "queued"
    assert c.flow.phase == Phase.QUEUED


def test_keys_barge_in_before_the_prompt_ends() -> None:
    c = Caller()
    c.press("2")  # pressed during the greeting
    assert c.enqueued().route.service == Service.LEGAL_AID


def test_green_channel_key_marks_the_caller_then_back_to_the_menu() -> None:
    c = Caller()
    c.finish_prompt()
    c.press("84")
    assert c.heard[-1] == "main_menu"
    c.press("2")
    route = c.enqueued().route
    assert (route.service, route.green) == (Service.LEGAL_AID, GreenReason.MIGRANT_WAGES)
    assert c.enqueued().menu_path == "main:8 green:4 main:2"


def test_invalid_key_says_so_and_repeats_three_times_then_general_consultation() -> None:
    c = Caller()
    c.finish_prompt()
    c.press("7")
    assert c.heard[-2:] == ["invalid", "main_menu"]
    c.press("6")
    assert not c.of(Enqueue)
    c.press("*")
    route = c.enqueued().route
    assert (route.service, route.domain) == (Service.CONSULTATION, None)
    assert c.enqueued().menu_path == "main:7? main:6? main:*?"


def test_no_input_takes_the_default_route_after_the_prompt() -> None:
    c = Caller()
    c.wait(60)  # the greeting is still playing: no timer yet
    assert not c.of(Enqueue)
    c.finish_prompt()
    c.wait(7.9)
    assert not c.of(Enqueue)
    c.wait(0.2)
    assert c.enqueued().route.service == Service.CONSULTATION
    assert c.enqueued().menu_path == "main:timeout"


def test_waiting_caller_hears_hold_music_and_their_place() -> None:
    c = Caller()
    c.finish_prompt()
    c.press("2")
    assert c.of(HoldMusic)
    c.flow.queue_position(3, 250)
    c.wait(15)
    assert c.heard[-7:] == [
        "position_ahead", "num_2", "position_unit",
        "wait_about", "num_4", "wait_minutes", "callback_offer",
    ]  # fmt: skip
    c.flow.queue_position(1, None)
    c.wait(45)
    assert c.heard[-2:] == ["you_are_next", "callback_offer"]
    announcements = sum(1 for p in c.heard if p == "callback_offer")
    c.wait(45 * 4)
    assert sum(1 for p in c.heard if p == "callback_offer") == announcements + 4


def test_key_1_while_waiting_requests_a_callback_and_hangs_up() -> None:
    c = Caller()
    c.finish_prompt()
    c.press("3")
    c.press("1")
    assert c.of(RequestCallback)
    assert "callback_taken" not in c.heard, "told only once the queue has taken it"
    c._take(c.flow.callback_result(c.now, taken=True))
    assert c.heard[-1] == "callback_taken"
    assert c.flow.callback
    c.finish_prompt()
    assert c.of(Hangup) == [Hangup("callback requested")]
    c.press("1")
    assert len(c.of(RequestCallback)) == 1


def test_a_refused_callback_keeps_the_caller_waiting_without_the_offer() -> None:
    c = Caller()
    c.finish_prompt()
    c.press("3")
    c.press("1")
    c._take(c.flow.callback_result(c.now, taken=False))
    assert c.heard[-1] == "callback_refused"
    assert not c.flow.callback, "the contact is abandoned if they hang up now"
    c.finish_prompt()
    assert not c.of(Hangup)
    c.flow.queue_position(2, None)
    c.wait(45 * 2)
    assert c.heard[-1] == "wait_unknown", "announcements go on, without the callback offer"
    c.press("1")
    assert len(c.of(RequestCallback)) == 1


def test_other_keys_while_waiting_do_nothing() -> None:
    c = Caller()
    c.finish_prompt()
    c.press("3")
    before = list(c.actions)
    c.press("972#")
    assert c.actions == before


def test_answered_connects_and_the_survey_follows_the_lawyer() -> None:
    c = answered_caller()
    assert c.of(ConnectLawyer)
    c.wait(600)  # no announcements while talking
    assert "callback_offer" not in c.heard
    c._take(c.flow.lawyer_ended(c.now))
    assert c.heard[-1] == "survey"
    c.finish_prompt()
    c.press("4")
    assert c.of(SaveRating) == [SaveRating(4)]
    assert c.heard[-1] == "thanks"
    assert c.of(Hangup) == [Hangup("rated")]


def test_answered_callback_says_who_calls_then_connects_and_ends_in_the_survey() -> None:
    c = Caller.__new__(Caller)
    c.flow, c.now, c.heard, c.actions = CallFlow(default_menu()), 1000.0, [], []
    c._take(c.flow.start_callback(c.now))
    assert c.heard == ["callback_connected"]
    assert not c.of(ConnectLawyer), "the lawyer is connected after the greeting"
    c.press("1")  # keys while the greeting plays mean nothing
    assert not c.of(RequestCallback)
    c.finish_prompt()
    assert c.of(ConnectLawyer)
    c.wait(600)
    assert c.heard == ["callback_connected"], "no queue announcements in a callback"
    c._take(c.flow.lawyer_ended(c.now))
    c.finish_prompt()
    c.press("5")
    assert c.of(SaveRating) == [SaveRating(5)]


def test_a_transferred_caller_waits_again_then_the_next_lawyer_connects() -> None:
    c = answered_caller()
    c._take(c.flow.transferred(c.now))
    assert c.heard[-1] == "transferring"
    c.finish_prompt()
    assert isinstance(c.actions[-1], HoldMusic)
    c.wait(20)
    assert c.heard[-1] == "callback_offer", "announcements again while waiting"
    c._take(c.flow.answered(c.now))
    assert len(c.of(ConnectLawyer)) == 2
    assert c.flow.transferred(c.now + 1) != [] and c.flow.phase == Phase.QUEUED


def test_survey_wrong_keys_then_a_rating() -> None:
    c = answered_caller()
    c._take(c.flow.lawyer_ended(c.now))
    c.finish_prompt()
    c.press("9")
    assert c.heard[-2:] == ["invalid", "survey"]
    c.press("5")
    assert c.of(SaveRating) == [SaveRating(5)]


def test_survey_without_an_answer_says_goodbye() -> None:
    c = answered_caller()
    c._take(c.flow.lawyer_ended(c.now))
    c.finish_prompt()
    c.wait(11)
    assert not c.of(SaveRating)
    assert c.heard[-1] == "goodbye"
    assert c.of(Hangup) == [Hangup("no rating given")]


def test_after_hours_message_and_voicemail() -> None:
    c = Caller(hotline_open=False)
    assert c.heard == ["closed"]
    c.finish_prompt()
    c.press("1")
    assert c.heard[-2:] == ["voicemail_prompt", "beep"]
    assert c.of(Record) == [Record(60)]
    c.press("#")
    assert c.of(StopRecording)
    c._take(c.flow.recording_done(c.now))
    assert c.of(LeaveVoicemail)
    c.finish_prompt()
    assert c.heard[-1] == "voicemail_saved"
    assert c.of(Hangup) == [Hangup("voice message left")]


def test_after_hours_without_a_key_says_goodbye() -> None:
    c = Caller(hotline_open=False)
    c.finish_prompt()
    c.wait(11)
    assert c.heard[-1] == "goodbye"
    assert c.of(Hangup) == [Hangup("closed, no message left")]
    assert not c.of(Enqueue)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(list("0123456789*#")).map(lambda d: ("press", d)),
            st.floats(0, 20).map(lambda s: ("wait", s)),
            st.just(("prompt", "")),
        ),
        max_size=30,
    )
)
def test_any_keys_and_silences_end_in_one_queue_entry(steps: list[tuple[str, object]]) -> None:
    """Whatever a caller presses or doesn't, they reach a queue once (or request a
    callback); or, having pressed 0 at the main menu, enter a mediation room's code and
    are looked up or let go, never queued."""
    c = Caller()
    for kind, arg in steps:
        if kind == "press":
            c._take(c.flow.digit(str(arg), c.now))
        elif kind == "wait":
            c.wait(float(arg))  # type: ignore[arg-type]
        else:
            c.finish_prompt()
    c.finish_prompt()
    c.wait(3 * 10)  # long enough for any menu node's timeout, prompt by prompt
    c.finish_prompt()
    c.wait(3 * 10)
    if "main:0" in c.flow.menu_path.split():
        assert not c.of(Enqueue)
        finds = c.of(FindRoom)
        assert all(len(f.number) == len(f.pin) == ROOM_CODE_DIGITS for f in finds)
        assert c.flow.phase in (Phase.ROOM, Phase.DONE)
        return
    assert len(c.of(Enqueue)) == 1
    assert c.flow.phase in (Phase.QUEUED, Phase.DONE)
    assert len(c.of(RequestCallback)) <= 1


def test_key_0_takes_a_party_into_a_mediation_room_by_its_number_and_pin() -> None:
    c = Caller()
    c.finish_prompt()
    c.press("0")
    assert c.heard[-1] == "room_number"
    for d in "12345":
        c.press(d)
    c.press("*")  # a slip: the number again
    assert c.heard[-1] == "room_number"
    for d in "654321":
        c.press(d)
    assert c.heard[-1] == "room_pin"
    for d in "000111":
        c.press(d)
    assert c.of(FindRoom) == [FindRoom("654321", "000111")]
    c.press("9")  # while it is looked up: nothing
    c._take(c.flow.room_found(c.now, found=True))
    assert c.of(EnterRoom) == [EnterRoom()] and c.flow.phase == Phase.MEDIATION
    assert not c.of(Enqueue) and not c.of(Hangup)


def test_a_room_code_cut_short_with_hash_is_wrong_without_a_lookup() -> None:
    c = Caller()
    c.finish_prompt()
    c.press("0")
    for d in "12#":
        c.press(d)
    assert c.heard[-2:] == ["room_wrong", "room_number"]
    c.press("#")  # nothing entered yet: nothing to judge
    assert c.heard[-2:] == ["room_wrong", "room_number"]
    for d in "654321" + "0001#":
        c.press(d)
    assert c.heard[-2:] == ["room_wrong", "room_number"]
    assert not c.of(FindRoom)


def test_three_wrong_room_codes_or_silence_say_so_and_let_the_caller_go() -> None:
    c = Caller()
    c.finish_prompt()
    c.press("0")
    for _ in range(2):
        for d in "111111222222":
            c.press(d)
        c._take(c.flow.room_found(c.now, found=False))
        assert c.heard[-2:] == ["room_wrong", "room_number"]
    c.finish_prompt()
    c.wait(8.1)  # nothing entered the third time
    assert c.heard[-2:] == ["room_wrong", "goodbye"]
    c.finish_prompt()
    assert c.of(Hangup) == [Hangup("no mediation room found")]
    assert not c.of(Enqueue) and not c.of(EnterRoom)


def test_a_caller_with_too_many_wrong_codes_lately_is_told_and_let_go() -> None:
    c = Caller()
    c.finish_prompt()
    c.press("0")
    for d in "111111222222":
        c.press(d)
    c._take(c.flow.room_found(c.now, found=False, blocked=True))
    assert c.heard[-2:] == ["room_blocked", "goodbye"]
    c.finish_prompt()
    assert c.of(Hangup) == [Hangup("too many wrong room codes")]
    assert not c.of(EnterRoom)
