"""Settings: the shipped example file, the environment, and policies that make no sense."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lawline.config import QueuePolicy, RelaxStep, Settings
from lawline.queue.skills import Service

EXAMPLE = Path(__file__).parent.parent / "lawline.example.toml"


def test_example_file_documents_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
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
