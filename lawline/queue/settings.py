"""The queue's settings (`[routing]`): offer and wrap-up times, and how each service
queue relaxes its requirements as a contact waits."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, model_validator

from lawline.queue.skills import Service


class RelaxStep(BaseModel):
    """From `after_s` seconds of waiting on, a contact accepts lawyers like this."""

    after_s: float = Field(ge=0)
    # Minimum proficiency in the contact's legal domain (1-5).
    min_proficiency: int = Field(default=1, ge=1, le=5)
    # False: any lawyer with the service skill will do, whatever their domain.
    match_domain: bool = True


def _default_steps() -> list[RelaxStep]:
    return [
        RelaxStep(after_s=0, min_proficiency=3),
        RelaxStep(after_s=30, min_proficiency=1),
        RelaxStep(after_s=90, match_domain=False),
    ]


class QueuePolicy(BaseModel):
    """How requirements relax over time for one service queue. Language never relaxes."""

    steps: list[RelaxStep] = Field(default_factory=_default_steps)

    @model_validator(mode="after")
    def _steps_only_relax(self) -> Self:
        if not self.steps or self.steps[0].after_s != 0:
            raise ValueError("the first relax step must start at after_s = 0")
        for before, after in zip(self.steps, self.steps[1:], strict=False):
            if after.after_s <= before.after_s:
                raise ValueError("relax steps must be in increasing after_s order")
            if after.min_proficiency > before.min_proficiency or (
                after.match_domain and not before.match_domain
            ):
                raise ValueError("a later relax step may only loosen requirements")
        return self


class RoutingSettings(BaseModel):
    offer_timeout_s: float = Field(default=15, gt=0)
    # Offers missed in a row before a lawyer is put on break (like app_queue autopause).
    max_missed_offers: int = Field(default=3, ge=1)
    wrapup_s: float = Field(default=60, ge=0)
    # Seconds added to a green-channel contact's wait when ordering the queue.
    green_boost_s: float = Field(default=120, ge=0)
    # A contact that asked for a named lawyer waits this long for them alone.
    preferred_lawyer_s: float = Field(default=60, ge=0)
    # Service level: share of contacts answered within this many seconds.
    service_level_s: float = Field(default=15, gt=0)
    # A console that has not been heard from for this long is taken offline.
    console_timeout_s: float = Field(default=20, gt=0)
    # Average handle time assumed for wait estimates before any call is handled.
    default_handle_s: float = Field(default=300, gt=0)
    # Callbacks one number may ask for per local day (a caller cannot make the hotline
    # dial someone over and over).
    callbacks_per_number_per_day: int = Field(default=3, ge=1, le=100)
    # An ended or abandoned contact's copy in Redis, and a number's contact history, are
    # kept this long (the ledger keeps the record); 0: for ever.
    ended_contact_ttl_s: int = Field(default=3 * 86400, ge=0)
    default_policy: QueuePolicy = Field(default_factory=QueuePolicy)
    queues: dict[Service, QueuePolicy] = Field(default_factory=dict)

    def policy(self, service: Service) -> QueuePolicy:
        return self.queues.get(service, self.default_policy)
