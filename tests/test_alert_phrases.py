"""The watch list as the centre edits it: saved by an admin (checked first), in force in
every process within seconds, each save kept with who and when; the settings' list
until one is saved. Real Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from lawline.queue.keys import QueueKeys
from lawline.transcripts import alert_phrases
from lawline.transcripts.alert_phrases import LivePhrases, PhrasesRefused, checked

KEYS = QueueKeys("ll")
CONFIGURED = {"violence": ["打死你"]}


async def test_a_saved_list_is_in_force_everywhere_and_kept_in_the_history(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alert_phrases, "REFRESH_S", 0.0)  # look at every final here
    worker, web = LivePhrases(CONFIGURED, redis, KEYS), LivePhrases(CONFIGURED, redis, KEYS)
    assert [m.category for m in (await worker.current()).match("我要打死你")] == ["violence"]
    shown = await alert_phrases.in_force(redis, KEYS, CONFIGURED)
    assert shown["from"] == "settings" and shown["phrases"] == CONFIGURED

    saved = {"violence": ["打死你", " 砍人 ", "砍人", ""], "self_harm": ["不想活了"]}
    assert await alert_phrases.save(redis, KEYS, saved, "root", 1_790_000_000.0) == 1
    for process in (worker, web):
        rules = await process.current()
        assert [m.category for m in rules.match("我真的不想活了")] == ["self_harm"]
        assert [m.phrase for m in rules.match("他说要砍人")] == ["砍人"]
    shown = await alert_phrases.in_force(redis, KEYS, CONFIGURED)
    assert shown["phrases"] == {"violence": ["打死你", "砍人"], "self_harm": ["不想活了"]}
    assert (shown["from"], shown["version"], shown["by"]) == ("saved", 1, "root")

    assert (
        await alert_phrases.save(redis, KEYS, {"violence": ["打死你"]}, "li", 1_790_000_100.0) == 2
    )
    assert not (await web.current()).match("不想活了")
    history = await alert_phrases.history(redis, KEYS)
    assert [(h["version"], h["by"]) for h in history] == [(2, "li"), (1, "root")]


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"Bad-Name": ["x"]},
        {"violence": "打死你"},
        {"violence": ["很" * 41]},
        {"violence": [3]},
        {f"c{i}": ["x"] for i in range(21)},
    ],
)
def test_a_list_that_is_not_one_is_refused_with_why(bad: object) -> None:
    with pytest.raises(PhrasesRefused):
        checked(bad)
