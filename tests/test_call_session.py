"""A CallSession driven through its host interface, with no SIP stack under it.

pjsua2 itself (real calls, real audio) is exercised by test_telephony.py and
test_bridge.py against a worker process. This test pins the seam: a session
needs nothing of its worker but the CallHost Protocol (telephony/host.py) and a
call object, so a fake host and a fake call drive it through the menu, into the
real queue (Redis) and out again on hang-up.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pjsua2 as pj
import pytest
from redis.asyncio import Redis

import lawline
from lawline.config import Settings
from lawline.queue.service import QueueService
from lawline.queue.skills import ContactState
from lawline.queue.store import QueueStore
from lawline.telephony.host import CallHost
from lawline.telephony.session import CallSession

CALLER = "13800138000"


@dataclass
class FakePlayer:
    """What the session starts where a worker would make a pjsua2 player."""

    prompts: list[str]
    repeat: bool
    on_end: Callable[[], None]
    sinks: list[object] = field(default_factory=list)

    def startTransmit(self, sink: object) -> None:
        self.sinks.append(sink)


@dataclass
class CallInfo:  # the fields of pjsua2.CallInfo a session reads
    remoteUri: str
    remoteContact: str


class FakeCall:
    """The GatewayCall a session talks to: its audio, its info, hang-up."""

    def __init__(self) -> None:
        self.events: object = None
        self.audio_port = object()
        self.hung_up = False

    def getInfo(self) -> CallInfo:
        return CallInfo(f'"Li" <sip:{CALLER}@127.0.0.1>', "<sip:trunk@127.0.0.1:5062>")

    def audio(self) -> object:
        return self.audio_port

    def hangup(self, op: object) -> None:
        self.hung_up = True

    def received_packets(self) -> int:
        return 0


class FakeHost:
    """A worker as a session sees it, without pjsua: players are recorded, not played."""

    name = "node/worker-test"

    def __init__(self, settings: Settings, queue: QueueService, tmp: Path) -> None:
        self.settings = settings
        self.queue = queue
        self.loop = asyncio.get_running_loop()
        self.voicemail_dir = tmp
        self.media_grace = _NoGrace()
        self.players: list[FakePlayer] = []
        self.tracked: dict[str, CallSession] = {}
        self.forgotten: list[CallSession] = []
        self.counted: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def prompt(self, prompt_id: str) -> Path:
        return Path(f"{prompt_id}.wav")

    def player(self, files: list[Path], repeat: bool, on_end: Callable[[], None]) -> Any:
        player = FakePlayer([p.stem for p in files], repeat, on_end)
        self.players.append(player)
        return player

    def hotline_open(self) -> bool:
        return True

    def track(self, contact_id: str, session: CallSession) -> Awaitable[None]:
        self.tracked[contact_id] = session
        return asyncio.sleep(0)

    def forget(self, session: CallSession) -> None:
        self.forgotten.append(session)

    def start_transcript(self, contact_id: str, language: str) -> Any:
        raise AssertionError("no lawyer answered: no transcript")

    def close_bridge(self, bridge: Any, call_audio: Any) -> None:
        raise AssertionError("no lawyer answered: no bridge")

    def in_background(self, op: Coroutine[Any, Any, Any]) -> asyncio.Task[None]:
        async def run() -> None:
            await op

        task = self.loop.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def count(self, what: str) -> None:
        self.counted.append(what)


class _NoGrace:
    def retire(self, port: object, call_audio: object) -> None:
        pass


def _imports(module: str) -> set[str]:
    """The lawline modules a module imports, at any depth of its code."""
    path = Path(lawline.__file__).parent.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = path.with_suffix("") / "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n.startswith("lawline.") and _is_module(n)}
    return found


def _is_module(name: str) -> bool:
    base = Path(lawline.__file__).parent.parent / name.replace(".", "/")
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def test_neither_the_session_nor_the_bridge_server_imports_the_worker() -> None:
    """The seam holds: a session and the bridge's request server reach their worker only
    through host.py's Protocols, so nothing they import (even for type checking) brings
    in the worker and with it pjsua's endpoint."""
    for start in ("lawline.telephony.session", "lawline.telephony.bridge_rpc"):
        seen, todo = set(), [start]
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo += _imports(module)
        assert "lawline.telephony.worker" not in seen, start


@pytest.fixture
async def queue(redis: Redis) -> AsyncIterator[QueueService]:
    service = QueueService(QueueStore(redis), Settings())
    await service.start(route=False)
    yield service
    await service.stop()


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_a_caller_goes_through_the_menu_into_the_queue_and_hangs_up(
    tmp_path: Path, queue: QueueService
) -> None:
    host = FakeHost(queue.settings, queue, tmp_path)
    _: CallHost = host  # the fake is a CallHost
    call = FakeCall()
    session = CallSession(host, call)  # type: ignore[arg-type]
    assert call.events is session

    def prompt_ends() -> None:
        host.players[-1].on_end()

    session.on_media_active()  # answered: the greeting and the menu
    assert host.players and host.players[0].sinks == [call.audio_port]
    prompt_ends()
    session.on_dtmf("2")  # legal aid
    prompt_ends()

    async def entered() -> bool:
        return len(host.tracked) == 1 and bool(await queue.waiting())

    await until(entered, "the caller's contact waiting in the queue")
    [contact_id] = host.tracked
    contact = await queue.store.get_contact(contact_id)
    assert contact is not None
    assert (contact.service, contact.caller, contact.state) == (
        "legal_aid",
        CALLER,
        ContactState.WAITING,
    )
    assert contact.attrs["menu"] == "main:2"
    assert contact.attrs["worker"] == host.name
    assert contact.attrs["trunk"] == "127.0.0.1:5062"
    assert host.players[-1].prompts == ["hold_music"] and host.players[-1].repeat

    # The caller hangs up while waiting: the contact leaves the queue, the line is let go.
    session.on_state(pj.PJSIP_INV_STATE_DISCONNECTED, 200)

    async def abandoned() -> bool:
        c = await queue.store.get_contact(contact_id)
        return c is not None and c.state == ContactState.ABANDONED and bool(host.forgotten)

    await until(abandoned, "the contact abandoned and the call forgotten")
    assert host.forgotten == [session]
    assert not await queue.waiting()
    assert not call.hung_up, "lawline did not hang up: the caller did"
