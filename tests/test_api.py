"""The queue's HTTP API and the console websocket, on a real server with a real Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from lawline.config import Settings
from lawline.queue.settings import RoutingSettings
from lawline.web.auth import Role
from tests.lawline_server import Running, next_frame, next_frames, running_lawline

LABOUR_LAWYER = {
    "id": "wang",
    "name": "王律师",
    "services": {"consultation": 4, "legal_aid": 3},
    "domains": {"labour": 5},
    "languages": ["zh"],
}
CALL = {
    "channel": "voice",
    "service": "consultation",
    "domain": "labour",
    "caller": "13800138000",
    "attrs": {"menu": "1-1"},
}


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    settings = Settings(
        data_dir=tmp_path,
        secret_key="test-secret",
        routing=RoutingSettings(offer_timeout_s=30, wrapup_s=0, console_timeout_s=60),
    )
    async with running_lawline(settings, clean_redis_url) as running:
        yield running


async def _add_lawyer(lawline: Running, body: dict[str, Any] = LABOUR_LAWYER) -> None:
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        r = await http.post("/api/lawyers", json=body)
        assert r.status_code == 201, r.text


async def _add_call(lawline: Running, body: dict[str, Any] = CALL) -> dict[str, Any]:
    async with lawline.client("worker-1", Role.GATEWAY) as http:
        r = await http.post("/api/contacts", json=body)
        assert r.status_code == 201, r.text
        return r.json()


async def _on_duty(ws: Any) -> None:
    await next_frame(ws, "hello")
    await ws.send(json.dumps({"type": "state", "state": "available"}))
    assert (await next_frame(ws, "result"))["ok"]


async def test_lawyer_takes_a_call_from_offer_to_wrapup(lawline: Running) -> None:
    await _add_lawyer(lawline)
    async with lawline.console("wang") as ws:
        await _on_duty(ws)
        contact = await _add_call(lawline)

        offer = await next_frame(ws, "offer")
        assert offer["contact"]["id"] == contact["id"]
        assert offer["contact"]["caller"] == "*******8000"  # masked for the lawyer
        assert offer["contact"]["attrs"] == {"menu": "1-1"}
        assert offer["deadline"] > 0

        await ws.send(json.dumps({"type": "accept", "contact_id": contact["id"]}))
        assert (await next_frame(ws, "connected"))["contact"]["state"] == "connected"

        async with lawline.client("worker-1", Role.GATEWAY) as http:
            r = await http.post(f"/api/contacts/{contact['id']}/end")
            assert r.status_code == 200, r.text
        assert (await next_frame(ws, "ended"))["contact"]["state"] == "ended"

    async with lawline.client("boss", Role.SUPERVISOR) as http:
        figures = (await http.get("/api/queues")).json()["consultation"]
        assert figures["answered"] == 1
        assert figures["handled"] == 1
        assert figures["service_level"] == 1.0
        today = (await http.get("/api/lawyers/wang/figures")).json()
        assert today["today_handled"] == 1 and today["today_talk_s"] >= 0
        lawyer = (await http.get("/api/lawyers/wang")).json()
        # The console closed a moment ago: no offers until it comes back (or goes off duty).
        assert (lawyer["state"], lawyer["break_reason"]) == ("break", "console reconnecting")


async def test_declined_offer_goes_back_to_the_queue(lawline: Running) -> None:
    await _add_lawyer(lawline)
    async with lawline.console("wang") as ws:
        await _on_duty(ws)
        contact = await _add_call(lawline)
        offer = await next_frame(ws, "offer")
        await ws.send(json.dumps({"type": "reject", "contact_id": contact["id"]}))
        assert (await next_frame(ws, "offer_withdrawn"))["reason"] == "rejected"
        # Still the only lawyer on duty: it comes back to them, with its place kept.
        again = await next_frame(ws, "offer")
        assert again["contact"]["id"] == offer["contact"]["id"]
        assert again["contact"]["entered_at"] == offer["contact"]["entered_at"]


async def test_closing_the_console_mid_offer_returns_the_contact_at_once(
    lawline: Running,
) -> None:
    await _add_lawyer(lawline)
    async with lawline.console("wang") as ws:
        await _on_duty(ws)
        contact = await _add_call(lawline)
        await next_frame(ws, "offer")
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        for _ in range(100):
            state = (await http.get(f"/api/contacts/{contact['id']}")).json()["state"]
            if state == "waiting":
                break
            await asyncio.sleep(0.05)
        assert state == "waiting"
        assert (await http.get("/api/lawyers/wang")).json()["state"] == "break"
    # The console comes back: on duty again, and the call is offered again.
    async with lawline.console("wang") as ws:
        hello = await next_frame(ws, "hello")
        assert hello["lawyer"]["presence"] == "available"
        # The offer may already be in the hello (the router is quick) or come just after.
        offer = hello["offer"] or await next_frame(ws, "offer")
        assert offer["contact"]["id"] == contact["id"]


async def test_a_console_that_stays_away_is_taken_off_duty(
    clean_redis_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path, secret_key="test-secret", routing=RoutingSettings(console_timeout_s=1)
    )
    async with running_lawline(settings, clean_redis_url) as lawline:
        await _add_lawyer(lawline)
        async with lawline.console("wang") as ws:
            await _on_duty(ws)
        async with lawline.client("boss", Role.SUPERVISOR) as http:
            for _ in range(100):
                state = (await http.get("/api/lawyers/wang")).json()["state"]
                if state == "offline":
                    break
                await asyncio.sleep(0.05)
            assert state == "offline"


async def test_a_reloaded_console_gets_its_call_back_and_offers_show_earlier_contacts(
    lawline: Running,
) -> None:
    await _add_lawyer(lawline)
    async with lawline.console("wang") as ws:
        await _on_duty(ws)
        first = await _add_call(lawline)
        await next_frame(ws, "offer")
        await ws.send(json.dumps({"type": "accept", "contact_id": first["id"]}))
        await next_frame(ws, "connected")
        form = {
            "service": "consultation",
            "domain": "labour",
            "summary": "拖欠工资三个月",
            "disposition": "referred_legal_aid",
            "advice": "申请劳动仲裁",
        }
        await ws.send(json.dumps({"type": "case", "contact_id": first["id"], "form": form}))
        assert (await next_frame(ws, "result"))["ok"]
    # The console reloads mid-call: the call is still there.
    async with lawline.console("wang") as ws:
        hello = await next_frame(ws, "hello")
        assert hello["call"]["id"] == first["id"]
        assert hello["lawyer"]["talking"] == first["id"]
        await ws.send(json.dumps({"type": "end", "contact_id": first["id"]}))
        await next_frame(ws, "ended")
        # The same citizen calls again: the offer shows who handled them and how.
        second = await _add_call(lawline)
        offer = await next_frame(ws, "offer")
        assert offer["contact"]["id"] == second["id"]
        [earlier] = offer["history"]
        assert (earlier["id"], earlier["lawyer"], earlier["disposition"]) == (
            first["id"],
            "wang",
            "referred_legal_aid",
        )
        assert earlier["summary"] == "拖欠工资三个月"
        # A form for a contact not (yet) connected, or a bad one, is refused.
        bad = {"type": "case", "contact_id": second["id"], "form": form}
        await ws.send(json.dumps(bad))
        assert (await next_frame(ws, "result"))["message"] == "this contact is not connected"
        await ws.send(json.dumps({**bad, "form": {"service": "astrology"}}))
        assert "service" in (await next_frame(ws, "error"))["message"]


async def test_a_lawyer_hands_a_call_to_a_colleague_with_a_note(lawline: Running) -> None:
    await _add_lawyer(lawline)
    await _add_lawyer(lawline, {**LABOUR_LAWYER, "id": "zhao", "name": "赵律师"})
    async with lawline.console("wang") as wang:
        await _on_duty(wang)
        contact = await _add_call(lawline)
        await next_frame(wang, "offer")
        await wang.send(json.dumps({"type": "accept", "contact_id": contact["id"]}))
        await next_frame(wang, "connected")
        await asyncio.sleep(0.5)  # wang and the caller talk
        async with lawline.console("zhao") as zhao:
            await _on_duty(zhao)
            await wang.send(
                json.dumps(
                    {
                        "type": "transfer",
                        "contact_id": contact["id"],
                        "to_lawyer": "zhao",
                        "note": "工伤问题，转赵律师",
                    }
                )
            )
            # The reply and the call's end travel separately: either may come first.
            frames = await next_frames(wang, {"result", "ended"})
            assert frames["result"]["ok"]
            assert frames["ended"]["contact"]["id"] == contact["id"]
            offer = await next_frame(zhao, "offer")
            assert offer["contact"]["id"] == contact["id"]
            assert offer["contact"]["attrs"]["notes"] == "wang: 工伤问题，转赵律师"
    # The talk before the hand-over is wang's, in today's figures.
    async with lawline.client("wang", Role.LAWYER) as http:
        today = (await http.get("/api/lawyers/wang/figures")).json()
    assert today["today_handled"] == 1 and today["today_talk_s"] >= 0.5


async def test_garbage_on_the_console_socket_gets_errors_not_a_crash(lawline: Running) -> None:
    await _add_lawyer(lawline)
    async with lawline.console("wang") as ws:
        await next_frame(ws, "hello")
        for garbage, says in [
            ("not json {", "not JSON"),
            ("[1, 2]", "JSON object"),
            ('{"type": "accept"}', "contact_id"),
            ('{"type": "fly"}', "unknown frame type"),
            ('{"type": "state", "state": "dancing"}', "dancing"),
        ]:
            await ws.send(garbage)
            assert says in (await next_frame(ws, "error"))["message"]
        await ws.send(json.dumps({"type": "accept", "contact_id": "nobody"}))
        assert (await next_frame(ws, "result"))["ok"] is False
        await ws.send('{"type": "ping"}')
        await next_frame(ws, "pong")


async def test_signed_out_and_wrong_role_are_refused(lawline: Running) -> None:
    await _add_lawyer(lawline)
    await _add_lawyer(lawline, LABOUR_LAWYER | {"id": "li"})
    async with lawline.client("nobody", Role.GATEWAY) as http:
        http.headers.pop("Authorization")
        assert (await http.get("/api/queues")).status_code == 401
        http.headers["Authorization"] = "Bearer forged.token"
        assert (await http.get("/api/queues")).status_code == 401
    async with lawline.client("wang", Role.LAWYER) as http:
        assert (await http.get("/api/lawyers")).status_code == 403
        assert (await http.get("/api/lawyers/li")).status_code == 403
        assert (await http.get("/api/lawyers/wang")).status_code == 200
        r = await http.put("/api/lawyers/li/state", json={"state": "available"})
        assert r.status_code == 403
        assert (await http.post("/api/contacts", json=CALL)).status_code == 403
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with lawline.console("boss", Role.SUPERVISOR):
            pass
    assert refused.value.response.status_code == 403


async def test_bad_input_is_named(lawline: Running) -> None:
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        r = await http.post("/api/lawyers", json=LABOUR_LAWYER | {"domains": {"labour": 7}})
        assert r.status_code == 422 and "1 to 5" in r.text
        r = await http.post("/api/lawyers", json=LABOUR_LAWYER | {"languages": ["fr"]})
        assert r.status_code == 422 and "fr" in r.text
        r = await http.post("/api/lawyers", json=LABOUR_LAWYER | {"services": {"astrology": 3}})
        assert r.status_code == 422 and "astrology" in r.text
        await _add_lawyer(lawline)
        assert (await http.post("/api/lawyers", json=LABOUR_LAWYER)).status_code == 409
        assert (await http.get("/api/lawyers/ghost")).status_code == 404
    async with lawline.client("worker-1", Role.GATEWAY) as http:
        r = await http.post("/api/contacts", json=CALL | {"channel": "fax"})
        assert r.status_code == 422 and "channel" in r.text
        r = await http.post("/api/contacts", json=CALL | {"language": "xx"})
        assert r.status_code == 422 and "xx" in r.text
        contact = (await http.post("/api/contacts", json=CALL)).json()
        r = await http.post(f"/api/contacts/{contact['id']}/callback", json={"number": "call me"})
        assert r.status_code == 422 and "number" in r.text


async def test_waiting_callers_get_place_and_estimate(lawline: Running) -> None:
    first = await _add_call(lawline)
    second = await _add_call(lawline)
    green = await _add_call(lawline, CALL | {"green": "elderly"})
    async with lawline.client("worker-1", Role.GATEWAY) as http:
        waiting = {c["id"]: c for c in (await http.get("/api/contacts/waiting")).json()}
        # The elderly caller is boosted ahead; nobody is on duty, so no estimate.
        assert [waiting[c["id"]]["position"] for c in (green, first, second)] == [1, 2, 3]
        assert all(c["estimated_wait_s"] is None for c in waiting.values())
        assert waiting[first["id"]]["caller"] == "13800138000"  # the gateway sees it all

    # A lawyer on duty but busy with someone else: now there is an estimate.
    await _add_lawyer(lawline, LABOUR_LAWYER | {"languages": ["zh"], "domains": {}})
    async with lawline.client("wang", Role.LAWYER) as http:
        await http.put("/api/lawyers/wang/state", json={"state": "available"})
    async with lawline.client("worker-1", Role.GATEWAY) as http:
        for _ in range(100):
            me = (await http.get(f"/api/contacts/{second['id']}")).json()
            if me.get("estimated_wait_s") is not None:
                break
            await asyncio.sleep(0.05)
        assert me["state"] == "waiting"
        assert me["estimated_wait_s"] > 0

        callback = f"/api/contacts/{second['id']}/callback"
        r = await http.post(callback, json={"number": "13800138000"})
        assert r.json() == {"ok": True, "message": ""}
        r = await http.post(callback, json={"number": "13800138000"})
        assert r.json()["message"] == "already a callback"
        assert (await http.get(f"/api/contacts/{second['id']}")).json()["callback"] is True


async def test_metrics_expose_the_queue_figures(lawline: Running) -> None:
    await _add_call(lawline)
    await _add_lawyer(lawline)
    async with lawline.client("worker-1", Role.GATEWAY) as http:
        contact = await _add_call(lawline, CALL | {"service": "mediation"})
        await http.post(f"/api/contacts/{contact['id']}/abandon")
    async with lawline.client("prometheus", Role.SCRAPER) as scraper:
        text = (await scraper.get("/metrics")).text
    assert 'lawline_queue_waiting{queue="consultation"} 1.0' in text
    assert 'lawline_queue_contacts_total{outcome="abandoned",queue="mediation"} 1.0' in text
    assert 'lawline_queue_answer_rate_ratio{queue="mediation"} 0.0' in text
    assert 'lawline_lawyers{state="offline"} 1.0' in text
    assert 'lawline_lawyer_state_seconds_total{lawyer="wang",state="offline"}' in text


async def test_creating_an_existing_lawyer_is_refused_and_changes_nothing(
    lawline: Running,
) -> None:
    await _add_lawyer(lawline)
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        r = await http.post(
            "/api/lawyers", json=LABOUR_LAWYER | {"name": "someone else", "domains": {}}
        )
        assert r.status_code == 409 and "PATCH" in r.text
        wang = (await http.get("/api/lawyers/wang")).json()
        assert (wang["name"], wang["domains"]) == ("王律师", {"labour": 5})
        # PATCH changes the named fields only.
        r = await http.patch("/api/lawyers/wang", json={"capacity": {"voice": 2}})
        assert r.status_code == 200, r.text
        wang = (await http.get("/api/lawyers/wang")).json()
        assert (wang["name"], wang["domains"], wang["capacity"]) == (
            "王律师",
            {"labour": 5},
            {"voice": 2, "video": 0},
        )
        r = await http.patch("/api/lawyers/wang", json={"languages": ["fr"]})
        assert r.status_code == 422
        assert (await http.patch("/api/lawyers/ghost", json={"name": "x"})).status_code == 404


async def test_a_number_asking_for_too_many_callbacks_in_a_day_is_refused(
    clean_redis_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        secret_key="test-secret",
        routing=RoutingSettings(callbacks_per_number_per_day=2),
    )
    async with (
        running_lawline(settings, clean_redis_url) as lawline,
        lawline.client("worker-1", Role.GATEWAY) as http,
    ):
        for i in range(3):
            contact = (await http.post("/api/contacts", json=CALL)).json()
            r = await http.post(
                f"/api/contacts/{contact['id']}/callback", json={"number": "13800138000"}
            )
            assert r.status_code == (429 if i == 2 else 200), r.text
        assert "callbacks today" in r.text
        assert (await http.get(f"/api/contacts/{contact['id']}")).json()["callback"] is False


async def _take_call(lawline: Running, lawyer_id: str, form: dict[str, Any] | None) -> str:
    """One call answered and ended by this lawyer, the case form saved if given."""
    async with lawline.console(lawyer_id) as ws:
        await _on_duty(ws)
        contact = await _add_call(lawline)
        await next_frame(ws, "offer")
        await ws.send(json.dumps({"type": "accept", "contact_id": contact["id"]}))
        await next_frame(ws, "connected")
        if form is not None:
            await ws.send(json.dumps({"type": "case", "contact_id": contact["id"], "form": form}))
            assert (await next_frame(ws, "result"))["ok"]
        await ws.send(json.dumps({"type": "end", "contact_id": contact["id"]}))
        await next_frame(ws, "ended")
        await ws.send(json.dumps({"type": "state", "state": "offline"}))
        assert (await next_frame(ws, "result"))["ok"]
    return str(contact["id"])


async def _my_contacts(lawline: Running, who: str, role: Role, want: int) -> list[dict[str, Any]]:
    """The list once the ledger has taken `want` contacts in (it follows the event stream)."""
    async with lawline.client(who, role) as http:
        for _ in range(100):
            r = await http.get("/api/ledger/my-contacts")
            assert r.status_code == 200, r.text
            if len(r.json()) >= want:
                return list(r.json())
            await asyncio.sleep(0.1)
    raise AssertionError(f"{who} still sees {r.json()}")


async def test_a_lawyer_lists_only_their_own_recent_calls_with_outcome_and_case(
    lawline: Running,
) -> None:
    await _add_lawyer(lawline)
    await _add_lawyer(lawline, {**LABOUR_LAWYER, "id": "zhao", "name": "赵律师"})
    form = {"service": "consultation", "summary": "欠薪三个月", "disposition": "referred_legal_aid"}
    first = await _take_call(lawline, "wang", form)
    second = await _take_call(lawline, "wang", None)
    zhaos = await _take_call(lawline, "zhao", None)

    mine = await _my_contacts(lawline, "wang", Role.LAWYER, 2)
    assert [c["id"] for c in mine] == [second, first], "newest first, wang's only"
    assert mine[1]["disposition"] == "referred_legal_aid" and mine[1]["summary"] == "欠薪三个月"
    assert mine[0]["disposition"] is None and mine[0]["case_url"] is None
    assert mine[1]["caller"] == "*******8000", "the number masked: no case of theirs yet"
    assert [c["id"] for c in await _my_contacts(lawline, "zhao", Role.LAWYER, 1)] == [zhaos]
    # A supervisor's own list is their own calls (none), not everyone's.
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        assert (await boss.get("/api/ledger/my-contacts")).json() == []

    async with lawline.client("wang", Role.LAWYER) as wang:
        r = await wang.post("/api/cases", json={"contact_id": first, "citizen_name": "张三"})
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
        [_, opened] = (await wang.get("/api/ledger/my-contacts")).json()
        assert opened["case_url"] == f"/cases#case/{case_id}"
        assert opened["caller"] == "13800138000", "the owner of the case sees the number"
        assert len((await wang.get("/api/ledger/my-contacts?limit=1")).json()) == 1
        for bad in ("0", "51", "x"):
            r = await wang.get(f"/api/ledger/my-contacts?limit={bad}")
            assert r.status_code == 422, r.text
        assert "limit" in r.text


async def test_a_consoles_parked_connection_offer_is_checked_where_it_enters(
    lawline: Running,
) -> None:
    """standby_offer (media/standby.py) takes a bounded SDP string, and nothing where the
    centre parks no connections: the console then connects each call at accept."""
    await _add_lawyer(lawline)
    async with lawline.console("wang") as ws:
        assert (await next_frame(ws, "hello"))["park"] is True
        await ws.send(json.dumps({"type": "standby_offer"}))
        assert "sdp" in (await next_frame(ws, "error"))["message"]
        await ws.send(json.dumps({"type": "standby_offer", "sdp": "v=0\r\n" * 20_000}))
        assert "too large" in (await next_frame(ws, "error"))["message"]
    lawline.app.state.settings.media.park_lawyers = False
    async with lawline.console("wang") as ws:
        assert (await next_frame(ws, "hello"))["park"] is False
        await ws.send(json.dumps({"type": "standby_offer", "sdp": "v=0\r\n"}))
        refused = await next_frame(ws, "result")
        assert refused["request"] == "standby_offer" and not refused["ok"]
