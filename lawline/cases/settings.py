"""Case ledger settings (`[cases]`, `[cases.retention]`): deadlines, star grading,
and how long citizens' data is kept."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, model_validator


class StarRule(BaseModel):
    """A lawyer whose ratings average at least `min_average` has `stars` (1-5)."""

    stars: int = Field(ge=1, le=5)
    min_average: float = Field(ge=1, le=5)


def _default_stars() -> list[StarRule]:
    return [
        StarRule(stars=5, min_average=4.8),
        StarRule(stars=4, min_average=4.5),
        StarRule(stars=3, min_average=4.0),
        StarRule(stars=2, min_average=3.0),
        StarRule(stars=1, min_average=1.0),
    ]


class RetentionSettings(BaseModel):
    """How long citizens' data is kept once a contact has ended, applied by `lawline
    retention purge` (run it daily from cron or a systemd timer). Days; 0 keeps it for
    ever, the default: how long is the centre's records policy to decide, not lawline's."""

    # Each leg's audio and after-hours voicemail (files under data_dir).
    recordings_days: int = Field(default=0, ge=0)
    # The transcript text in the ledger (and its full-text index).
    transcripts_days: int = Field(default=0, ge=0)
    # A ledger contact's caller number and case form; the contact itself, its times,
    # lawyers and rating stay for the figures.
    contact_details_days: int = Field(default=0, ge=0)


class CaseSettings(BaseModel):
    # Time-limited completion: days from opening to the deadline, by triage class.
    deadline_days: dict[str, float] = Field(
        default_factory=lambda: {"simple": 1, "general": 7, "complex": 30}
    )
    # Events another lawline process took but did not finish (it died) are taken
    # over by the ledger after this long.
    claim_idle_s: float = Field(default=30, gt=0)
    # Five-level star grading from the citizens' ratings (quality evaluation): the
    # first rule a lawyer's average meets, once they have `min_ratings` ratings.
    stars: list[StarRule] = Field(default_factory=_default_stars)
    min_ratings: int = Field(default=10, ge=1)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    @model_validator(mode="after")
    def _every_class(self) -> Self:
        missing = {"simple", "general", "complex"} - set(self.deadline_days)
        if missing:
            raise ValueError(f"deadline_days needs simple, general and complex ({missing})")
        return self
