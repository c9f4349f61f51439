"""Settings: the shipped example file, the environment, and policies that make no sense."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from lawline.config import Settings
from lawline.queue.settings import QueuePolicy, RelaxStep
from lawline.queue.skills import Service
from lawline.telephony.settings import SCANNER_USER_AGENTS
from lawline.transcripts.vocabulary import ALERT_PHRASES, LEGAL_GLOSSARY

EXAMPLE = Path(__file__).parent.parent / "lawline.example.toml"


def test_example_file_documents_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.startswith("LAWLINE_")]:
        monkeypatch.delenv(name)  # the run's own (its media server's) would hide the file's
    monkeypatch.setenv("LAWLINE_CONFIG", str(EXAMPLE))
    from_file = Settings()
    monkeypatch.delenv("LAWLINE_CONFIG")
    monkeypatch.chdir(EXAMPLE.parent.parent)  # no lawline.toml there
    assert from_file.model_dump() == Settings().model_dump()


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "lawline.toml"
    config.write_text(
        "http_port = 9000\n[routing]\noffer_timeout_s = 25\n"
        "[[routing.queues.complaint.steps]]\nafter_s = 0\nmatch_domain = false\n"
    )
    monkeypatch.setenv("LAWLINE_CONFIG", str(config))
    monkeypatch.setenv("LAWLINE_ROUTING__OFFER_TIMEOUT_S", "20")
    settings = Settings()
    assert settings.http_port == 9000
    assert settings.routing.offer_timeout_s == 20
    assert settings.routing.policy(Service.COMPLAINT).steps == [
        RelaxStep(after_s=0, match_domain=False)
    ]
    assert settings.routing.policy(Service.LEGAL_AID) == QueuePolicy()


def test_every_block_is_set_from_the_file_and_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Each package's block, nested two deep where it is, keeps its TOML table and its
    # LAWLINE_A__B__C variable wherever its model lives.
    config = tmp_path / "lawline.toml"
    config.write_text(
        "[telephony.front]\ninvites_per_s = 5\nblocked_user_agents = ['evil']\n"
        "[transcripts.whisper]\nbeam_size = 3\nglossary = ['宅基地']\n"
        "[transcripts.alert_phrases]\nself_harm = ['不想活了']\n"
        "[cases.retention]\nrecordings_days = 30\n"
        "[accounts]\nmax_failed_logins = 7\n"
        "[[webrtc.ice_servers]]\nurls = ['stun:127.0.0.1:3478']\n"
    )
    monkeypatch.setenv("LAWLINE_CONFIG", str(config))
    monkeypatch.setenv("LAWLINE_TELEPHONY__FRONT__PIKE_BLOCK_S", "90")
    monkeypatch.setenv("LAWLINE_CASES__RETENTION__RECORDINGS_DAYS", "40")
    monkeypatch.setenv("LAWLINE_SOCKETS__PER_USER", "3")
    monkeypatch.setenv("LAWLINE_TERMINALS__FRAME_RATE", "25")
    settings = Settings()
    front = settings.telephony.front
    assert (front.invites_per_s, front.pike_block_s, front.blocked_user_agents) == (5, 90, ["evil"])
    assert settings.transcripts.whisper.beam_size == 3
    assert settings.transcripts.whisper.glossary == ["宅基地"]
    assert settings.transcripts.alert_phrases == {"self_harm": ["不想活了"]}
    assert settings.cases.retention.recordings_days == 40
    assert settings.accounts.max_failed_logins == 7
    assert settings.webrtc.ice_servers[0].urls == ["stun:127.0.0.1:3478"]
    assert (settings.sockets.per_user, settings.terminals.frame_rate) == (3, 25)


def test_shipped_word_lists_are_copied_not_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    # A process that edits its settings' lists must not change the next one's defaults.
    monkeypatch.delenv("LAWLINE_CONFIG", raising=False)
    monkeypatch.chdir(EXAMPLE.parent.parent)
    first = Settings()
    first.transcripts.alert_phrases["self_harm"].append("x")
    first.transcripts.whisper.glossary.append("x")
    first.telephony.front.blocked_user_agents.append("x")
    second = Settings()
    assert second.transcripts.alert_phrases == ALERT_PHRASES
    assert second.transcripts.whisper.glossary == LEGAL_GLOSSARY
    assert second.telephony.front.blocked_user_agents == SCANNER_USER_AGENTS


def test_a_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAWLINE_CONFIG", "/nonexistent/lawline.toml")
    with pytest.raises(FileNotFoundError, match="nonexistent"):
        Settings()


@pytest.mark.parametrize(
    "steps, says",
    [
        ([], "after_s = 0"),
        ([{"after_s": 5}], "after_s = 0"),
        ([{"after_s": 0}, {"after_s": 0}], "increasing"),
        ([{"after_s": 0, "min_proficiency": 1}, {"after_s": 10, "min_proficiency": 3}], "loosen"),
        ([{"after_s": 0, "match_domain": False}, {"after_s": 10}], "loosen"),
    ],
)
def test_relax_steps_may_only_loosen(steps: list[dict[str, object]], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        QueuePolicy.model_validate({"steps": steps})


def test_the_centres_time_zone_must_be_one_zoneinfo_knows() -> None:
    assert str(Settings().zone) == "Asia/Shanghai"
    assert str(Settings(timezone="Asia/Urumqi").zone) == "Asia/Urumqi"
    for bad in ("Beijing", "Mars/Base", "../../etc/passwd", ""):
        with pytest.raises(ValidationError, match="time zone"):
            Settings(timezone=bad)
