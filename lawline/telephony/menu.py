"""The voice menu (语音导航) as data: a tree of nodes, each a prompt and its keys.

A centre can replace the default with its own tree in the settings file
(`[telephony.menu]`); the default follows the 12348 layout the issue asks for.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, model_validator

from lawline.labels import LABELS
from lawline.queue.skills import Domain, GreenReason, Service

STEP = " › "  # between two choices of a path in words


class Route(BaseModel):
    """Where a caller goes: the skills their contact carries into the queue."""

    service: Service
    domain: Domain | None = None
    language: str | None = None  # None: the caller's language so far (Mandarin)
    green: GreenReason | None = None


class Key(BaseModel):
    """What one key does at a node: go to another node, into the queue, or into a
    mediation room (the caller enters its number and their PIN)."""

    goto: str | None = None
    route: Route | None = None
    room: bool = False
    # Marks the caller for the green channel (and goes to `goto` or `route`).
    green: GreenReason | None = None
    # The choice in words (the ledger shows it); none: said by its route or node.
    label: str = Field(default="", max_length=40)

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if sum((self.goto is not None, self.route is not None, self.room)) != 1:
            raise ValueError("a key needs exactly one of goto, route or room")
        return self


class Node(BaseModel):
    prompt: str = Field(description="Prompt id, a file in the prompts directory")
    # What a caller chose by going here, in words (e.g. 法律咨询).
    label: str = Field(default="", max_length=40)
    keys: dict[str, Key]
    # Where a caller goes who presses nothing, or keeps pressing wrong keys.
    default: Route

    @model_validator(mode="after")
    def _keys_are_digits(self) -> Self:
        for k in self.keys:
            if k not in "0123456789*#" or len(k) != 1:
                raise ValueError(f"menu key {k!r} is not a phone key")
        return self


class Menu(BaseModel):
    start: str = "main"
    nodes: dict[str, Node]
    greeting: str = "welcome"
    invalid_prompt: str = "invalid"
    # Wrong keys at one node before the caller is routed to its default.
    max_invalid: int = Field(default=3, ge=1)
    # Seconds to wait for a key after the prompt ends.
    no_input_s: float = Field(default=8, gt=0)

    @property
    def default_route(self) -> Route:
        """Where a caller goes who chose nothing: the start node's default."""
        return self.nodes[self.start].default

    def choice_words(self, node: str, digit: str) -> str:
        """One key pressed at one node, as the caller chose it: e.g. 劳动争议."""
        if digit == "timeout":
            return "未按键"
        if digit.endswith("?"):
            return f"无效按键 {digit[:-1]}"
        key = self.nodes[node].keys.get(digit) if node in self.nodes else None
        if key is None:
            return f"按键 {digit}"  # a menu changed since: the key at least
        if key.label:
            return key.label
        if key.green is not None:
            return LABELS["green"][key.green.value]
        if key.route is not None:
            return _route_words(key.route)
        if key.room:
            return "进入调解室"
        target = self.nodes.get(key.goto or "")
        return target.label if target is not None and target.label else f"按键 {digit}"

    def path_words(self, path: str) -> str:
        """A recorded menu path ('main:1 consultation:1') in words: 法律咨询 › 劳动争议."""
        steps = [step.partition(":") for step in path.split()]
        return STEP.join(self.choice_words(node, digit) for node, _, digit in steps if digit)

    @model_validator(mode="after")
    def _targets_exist(self) -> Self:
        if self.start not in self.nodes:
            raise ValueError(f"start node {self.start!r} is not defined")
        for name, node in self.nodes.items():
            for digit, key in node.keys.items():
                if key.goto is not None and key.goto not in self.nodes:
                    raise ValueError(f"key {digit} of {name!r} goes to unknown {key.goto!r}")
        return self


def _route_words(route: Route) -> str:
    words = (
        LABELS["domain"][route.domain.value]
        if route.domain is not None
        else LABELS["service"][route.service.value]
    )
    if route.language and route.language != "zh":
        words += f"（{LABELS['language'].get(route.language, route.language)}）"
    return words


CONSULTATION = Route(service=Service.CONSULTATION)


def default_menu() -> Menu:
    def consult(domain: Domain) -> Key:
        return Key(route=Route(service=Service.CONSULTATION, domain=domain))

    def green(reason: GreenReason) -> Key:
        return Key(goto="main", green=reason)

    return Menu(
        nodes={
            "main": Node(
                prompt="main_menu",
                keys={
                    "1": Key(goto="consultation"),
                    "2": Key(route=Route(service=Service.LEGAL_AID)),
                    "3": Key(route=Route(service=Service.MEDIATION)),
                    "4": Key(route=Route(service=Service.NOTARISATION)),
                    "5": Key(route=Route(service=Service.COMPLAINT)),
                    "8": Key(goto="green"),
                    "9": Key(route=Route(service=Service.CONSULTATION, language="mn")),
                    "0": Key(room=True),
                },
                default=CONSULTATION,
            ),
            "consultation": Node(
                prompt="domain_menu",
                label=LABELS["service"]["consultation"],
                keys={
                    "1": consult(Domain.LABOUR),
                    "2": consult(Domain.MARRIAGE_FAMILY),
                    "3": consult(Domain.LAND_HOMESTEAD),
                    "4": consult(Domain.TRAFFIC),
                    "5": consult(Domain.LENDING_CONTRACTS),
                    "6": consult(Domain.OTHER),
                },
                default=CONSULTATION,
            ),
            "green": Node(
                prompt="green_menu",
                label="绿色通道",
                keys={
                    "1": green(GreenReason.ELDERLY),
                    "2": green(GreenReason.DISABLED),
                    "3": green(GreenReason.MINOR),
                    "4": green(GreenReason.MIGRANT_WAGES),
                },
                default=CONSULTATION,
            ),
        }
    )
