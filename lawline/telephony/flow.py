"""One 12348 call from answer to hang-up, as a plain state machine.

No SIP and no clock of its own: the telephony worker feeds it what happened
(`start`, `digit`, `prompt_done`, `timer`, `queue_position`, `callback_result`,
`answered`, `lawyer_ended`, `transferred`, `recording_done`) with the time, and
carries out the actions it returns. `next_timer()` says when to call `timer`
next. This keeps every path of the menu testable without a phone.

Phases:
  MENU      the voice menu; ends in a route (into the queue)
  QUEUED    waiting: hold music, position announcements, key 1 for a callback
  BRIDGED   talking to the lawyer (the bridge is the worker's business); a
            callback starts here: the lawyer accepted it and lawline dialled out
  SURVEY    1-5 satisfaction rating after the lawyer ends
  CLOSED    outside duty hours: a message, key 1 to leave a voice message
  VOICEMAIL recording that message
  ROOM      a menu key for mediation rooms: the caller enters the room's number and
            their PIN (6 digits each; * starts an entry again, # ends a short one)
  MEDIATION found: the call is the party's leg in that room now (telephony/party_call.py)
  DONE      the flow has hung up (or is about to)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from lawline.queue.skills import GreenReason
from lawline.telephony.menu import Menu, Route


class Phase(StrEnum):
    MENU = "menu"
    QUEUED = "queued"
    BRIDGED = "bridged"
    SURVEY = "survey"
    CLOSED = "closed"
    VOICEMAIL = "voicemail"
    ROOM = "room"
    MEDIATION = "mediation"
    DONE = "done"


ROOM_CODE_DIGITS = 6  # a room's number and a party's PIN alike


# ----- actions the worker carries out ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Play:
    """Stop whatever plays and play these prompts in order; report `prompt_done` after."""

    prompts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HoldMusic:
    """Loop the hold music until the next Play or action that ends it."""


@dataclass(frozen=True, slots=True)
class MenuChoice:
    """For the record: a key pressed at a menu node."""

    node: str
    digit: str


@dataclass(frozen=True, slots=True)
class Enqueue:
    route: Route
    menu_path: str


@dataclass(frozen=True, slots=True)
class RequestCallback:
    """Ask the queue to call the caller back; its answer comes as `callback_result`."""


@dataclass(frozen=True, slots=True)
class ConnectLawyer:
    """Stop the queue audio; the lawyer's side is now connected."""


@dataclass(frozen=True, slots=True)
class Record:
    """Record the caller for at most max_s; report `recording_done` when it stops."""

    max_s: float


@dataclass(frozen=True, slots=True)
class StopRecording:
    pass


@dataclass(frozen=True, slots=True)
class LeaveVoicemail:
    """Enter the recorded message as a callback request for when the hotline opens."""

    menu_path: str


@dataclass(frozen=True, slots=True)
class SaveRating:
    score: int


@dataclass(frozen=True, slots=True)
class FindRoom:
    """Look the room up by its number and the party's PIN; the answer comes as
    `room_found`."""

    number: str
    pin: str


@dataclass(frozen=True, slots=True)
class EnterRoom:
    """Hand the call to the mediation room found: from now it is the party's leg."""


@dataclass(frozen=True, slots=True)
class Hangup:
    reason: str


Action = (
    Play
    | HoldMusic
    | MenuChoice
    | Enqueue
    | RequestCallback
    | ConnectLawyer
    | Record
    | StopRecording
    | LeaveVoicemail
    | SaveRating
    | FindRoom
    | EnterRoom
    | Hangup
)


@dataclass(frozen=True, slots=True)
class FlowTimings:
    # Position announcements while waiting: the first once the caller has heard
    # they are queued, then every announce_every_s.
    first_announce_s: float = 15
    announce_every_s: float = 45
    survey_no_input_s: float = 10
    closed_no_input_s: float = 10
    voicemail_max_s: float = 60
    # Wrong keys in the survey before it gives up.
    survey_max_invalid: int = 2


def _number(n: int) -> str:
    """Prompt id for a number; prompts exist for 0-99, larger ones are 'many'."""
    return f"num_{n}" if 0 <= n <= 99 else "num_many"


@dataclass
class CallFlow:
    menu: Menu
    timings: FlowTimings = field(default_factory=FlowTimings)
    phase: Phase = Phase.MENU
    node: str = ""
    invalid: int = 0
    green: GreenReason | None = None
    path: list[str] = field(default_factory=list)
    position: int | None = None
    estimated_wait_s: float | None = None
    callback: bool = False  # a callback is taken: the caller hangs up, the contact waits
    _callback_asked: bool = False  # key 1 pressed: asked once, never offered again
    _done_reason: str = "flow ended"
    # Entering a mediation room's code: which entry (number, pin; wait: being looked
    # up), the digits so far, the number entered, wrong codes so far.
    _room_step: str = ""
    _entry: str = ""
    _room_number: str = ""
    _room_tries: int = 0
    # When the timer fires, and whether it waits for the current prompt to end first.
    _deadline: float | None = None
    _playing: bool = False
    _timer_after_prompt: float | None = None

    # ----- inputs --------------------------------------------------------------------

    def start(self, now: float, hotline_open: bool) -> list[Action]:
        if not hotline_open:
            self.phase = Phase.CLOSED
            return self._play(now, ("closed",), wait_after=self.timings.closed_no_input_s)
        self.node = self.menu.start
        return self._play(
            now,
            (self.menu.greeting, self.menu.nodes[self.node].prompt),
            wait_after=self.menu.no_input_s,
        )

    def start_callback(self, now: float) -> list[Action]:
        """A dialled-out callback was answered: say who calls, then the lawyer."""
        self.phase = Phase.BRIDGED
        return self._play(now, ("callback_connected",))

    def digit(self, d: str, now: float) -> list[Action]:
        if self.phase == Phase.MENU:
            return self._menu_digit(d, now)
        if self.phase == Phase.QUEUED and d == "1" and not self._callback_asked:
            self._callback_asked = True
            return [RequestCallback()]
        if self.phase == Phase.SURVEY:
            return self._survey_digit(d, now)
        if self.phase == Phase.CLOSED and d == "1":
            self.phase = Phase.VOICEMAIL
            return self._play(now, ("voicemail_prompt", "beep"))
        if self.phase == Phase.VOICEMAIL and d == "#" and not self._playing:
            return [StopRecording()]
        if self.phase == Phase.ROOM:
            return self._room_digit(d, now)
        return []  # keys mean nothing here (talking, already leaving)

    def prompt_done(self, now: float) -> list[Action]:
        if not self._playing:
            return []  # a late end-of-file from a player already replaced
        self._playing = False
        if self._timer_after_prompt is not None:
            self._deadline = now + self._timer_after_prompt
            self._timer_after_prompt = None
        if self.phase == Phase.DONE:
            return [Hangup(self._done_reason)]
        if self.phase == Phase.QUEUED:
            return [HoldMusic()]
        if self.phase == Phase.BRIDGED:
            return [ConnectLawyer()]  # after the callback's greeting
        if self.phase == Phase.VOICEMAIL:
            self._deadline = None
            return [Record(self.timings.voicemail_max_s)]
        return []

    def next_timer(self) -> float | None:
        return self._deadline

    def timer(self, now: float) -> list[Action]:
        if self._deadline is None or now < self._deadline:
            return []
        self._deadline = None
        if self.phase == Phase.MENU:
            self.path.append(f"{self.node}:timeout")
            return self._route(self.menu.nodes[self.node].default, now)
        if self.phase == Phase.QUEUED:
            self._deadline = now + self.timings.announce_every_s
            return self._play(now, self._announcement())
        if self.phase == Phase.SURVEY:
            return self._leave(now, "no rating given", ("goodbye",))
        if self.phase == Phase.CLOSED:
            return self._leave(now, "closed, no message left", ("goodbye",))
        if self.phase == Phase.ROOM and self._room_step in ("number", "pin"):
            return self._room_wrong(now)  # nothing (or too little) entered in time
        return []

    def queue_position(self, position: int, estimated_wait_s: float | None) -> None:
        self.position, self.estimated_wait_s = position, estimated_wait_s

    def callback_result(self, now: float, taken: bool) -> list[Action]:
        """The queue's answer to RequestCallback: taken, the caller is told and hangs
        up; refused (the number's callbacks for today are used up), they wait on."""
        if self.phase != Phase.QUEUED or not self._callback_asked:
            return []
        if taken:
            self.callback = True
            return self._leave(now, "callback requested", ("callback_taken",))
        return self._play(now, ("callback_refused",))

    def answered(self, now: float) -> list[Action]:
        if self.phase != Phase.QUEUED:
            return []
        self.phase = Phase.BRIDGED
        self._deadline = self._timer_after_prompt = None
        self._playing = False  # what played is cut off, its end never reported
        return [ConnectLawyer()]

    def transferred(self, now: float) -> list[Action]:
        """The lawyer handed the caller on: they wait again (same place, hold music)."""
        if self.phase != Phase.BRIDGED:
            return []
        self.phase = Phase.QUEUED
        self._deadline = now + self.timings.first_announce_s
        return self._play(now, ("transferring",))

    def lawyer_ended(self, now: float) -> list[Action]:
        if self.phase != Phase.BRIDGED:
            return []
        self.phase = Phase.SURVEY
        self.invalid = 0
        return self._play(now, ("survey",), wait_after=self.timings.survey_no_input_s)

    def room_found(self, now: float, found: bool, blocked: bool = False) -> list[Action]:
        """The answer to FindRoom; `blocked`: this caller entered too many wrong codes
        lately, and is let go without another try."""
        if self.phase != Phase.ROOM or self._room_step != "wait":
            return []
        if blocked:
            self.path.append("room:blocked")
            return self._leave(now, "too many wrong room codes", ("room_blocked", "goodbye"))
        if not found:
            return self._room_wrong(now)
        self.phase = Phase.MEDIATION
        self._deadline = self._timer_after_prompt = None
        self._playing = False
        return [EnterRoom()]

    def recording_done(self, now: float) -> list[Action]:
        if self.phase != Phase.VOICEMAIL:
            return []
        return [
            LeaveVoicemail(self.menu_path),
            *self._leave(now, "voice message left", ("voicemail_saved",)),
        ]

    # ----- what the record keeps -------------------------------------------------------

    @property
    def menu_path(self) -> str:
        """The keys pressed, node by node: e.g. 'main:1 consultation:1'."""
        return " ".join(self.path)

    # ----- internals -------------------------------------------------------------------

    def _play(
        self, now: float, prompts: tuple[str, ...], wait_after: float | None = None
    ) -> list[Action]:
        """Play; with wait_after, the no-input timer starts when the prompt ends."""
        self._playing = True
        self._timer_after_prompt = wait_after
        if wait_after is not None:
            self._deadline = None
        return [Play(prompts)]

    def _leave(self, now: float, reason: str, prompts: tuple[str, ...]) -> list[Action]:
        self.phase = Phase.DONE
        self._done_reason = reason
        self._deadline = None
        return self._play(now, prompts)

    def _menu_digit(self, d: str, now: float) -> list[Action]:
        node = self.menu.nodes[self.node]
        key = node.keys.get(d)
        if key is None:
            self.invalid += 1
            self.path.append(f"{self.node}:{d}?")
            if self.invalid >= self.menu.max_invalid:
                return self._route(node.default, now)
            return self._play(
                now, (self.menu.invalid_prompt, node.prompt), wait_after=self.menu.no_input_s
            )
        self.path.append(f"{self.node}:{d}")
        actions: list[Action] = [MenuChoice(self.node, d)]
        if key.green is not None:
            self.green = key.green
        if key.route is not None:
            return actions + self._route(key.route, now)
        if key.room:
            self.phase, self._room_step, self._entry = Phase.ROOM, "number", ""
            return actions + self._room_prompt(now)
        assert key.goto is not None
        self.node, self.invalid = key.goto, 0
        prompt = self.menu.nodes[self.node].prompt
        return actions + self._play(now, (prompt,), wait_after=self.menu.no_input_s)

    def _route(self, route: Route, now: float) -> list[Action]:
        if self.green is not None and route.green is None:
            route = route.model_copy(update={"green": self.green})
        self.phase = Phase.QUEUED
        self._timer_after_prompt = None
        self._deadline = now + self.timings.first_announce_s
        return [Enqueue(route, self.menu_path), *self._queued_prompt(now)]

    def _room_prompt(self, now: float, before: tuple[str, ...] = ()) -> list[Action]:
        prompt = "room_number" if self._room_step == "number" else "room_pin"
        return self._play(now, (*before, prompt), wait_after=self.menu.no_input_s)

    def _room_digit(self, d: str, now: float) -> list[Action]:
        if self._room_step == "wait":
            return []  # being looked up
        if d == "*":
            self._entry = ""
            return self._room_prompt(now)
        if d == "#":
            # Codes are all ROOM_CODE_DIGITS long: one cut short is wrong without a
            # lookup (and counts as a wrong try, as a lookup that failed would).
            return self._room_wrong(now) if self._entry else []
        self._entry += d
        return self._room_entry_done(now) if len(self._entry) >= ROOM_CODE_DIGITS else []

    def _room_entry_done(self, now: float) -> list[Action]:
        entry, self._entry = self._entry, ""
        if self._room_step == "number":
            self._room_number, self._room_step = entry, "pin"
            return self._room_prompt(now)
        self._room_step = "wait"
        self._deadline = self._timer_after_prompt = None
        return [FindRoom(self._room_number, entry)]

    def _room_wrong(self, now: float) -> list[Action]:
        self._room_tries += 1
        self.path.append("room:wrong")
        if self._room_tries >= self.menu.max_invalid:
            return self._leave(now, "no mediation room found", ("room_wrong", "goodbye"))
        self._room_step, self._entry = "number", ""
        return self._room_prompt(now, ("room_wrong",))

    def _queued_prompt(self, now: float) -> list[Action]:
        return self._play(now, ("queued",))

    def _announcement(self) -> tuple[str, ...]:
        prompts: tuple[str, ...]
        if self.position is None:
            prompts = ("please_wait",)
        elif self.position == 1:
            prompts = ("you_are_next",)
        else:
            prompts = ("position_ahead", _number(self.position - 1), "position_unit")
            if self.estimated_wait_s is None:
                prompts += ("wait_unknown",)
            else:
                minutes = max(1, round(self.estimated_wait_s / 60))
                prompts += ("wait_about", _number(minutes), "wait_minutes")
        return prompts if self._callback_asked else (*prompts, "callback_offer")

    def _survey_digit(self, d: str, now: float) -> list[Action]:
        if d in "12345" and len(d) == 1:
            return [SaveRating(int(d)), *self._leave(now, "rated", ("thanks",))]
        self.invalid += 1
        if self.invalid > self.timings.survey_max_invalid:
            return self._leave(now, "no valid rating", ("goodbye",))
        return self._play(now, ("invalid", "survey"), wait_after=self.timings.survey_no_input_s)
