"""The routing core (`Router`) on its own: no Redis, time passed in.

The property tests run random interleavings of lawyer and contact updates and
routing passes against an oracle written from the rules in RoutingSettings and
the routing module's docstring, not from the router's own data structures.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from lawline.queue.model import Contact, Lawyer
from lawline.queue.routing import Offer, Router
from lawline.queue.settings import QueuePolicy, RelaxStep, RoutingSettings
from lawline.queue.skills import (
    Channel,
    ContactState,
    Domain,
    GreenReason,
    LawyerState,
    Presence,
    Service,
)
from tests.queue_helpers import contact

T0 = 1_700_000_000.0
LAWYER_IDS = ["L0", "L1", "L2", "L3", "L4"]
CONTACT_IDS = [f"C{i}" for i in range(10)]
SERVICES = [Service.CONSULTATION, Service.LEGAL_AID]
DOMAINS = [Domain.LABOUR, Domain.MARRIAGE_FAMILY, Domain.TRAFFIC]

# ----- the oracle: the rules, written out plainly ----------------------------------------


def wait_needed(policy: QueuePolicy, proficiency: int) -> float | None:
    """Seconds a contact must wait before a lawyer of this domain proficiency qualifies."""
    for step in policy.steps:
        if not step.match_domain or proficiency >= step.min_proficiency:
            return step.after_s
    return None


def free_for(lw: Lawyer, channel: Channel) -> bool:
    """On duty, nothing pending, not in wrap-up, room left on this channel and no other."""
    return (
        lw.presence == Presence.AVAILABLE
        and lw.state in (LawyerState.AVAILABLE, LawyerState.BUSY)
        and lw.offer is None
        and lw.load.get(channel, 0) < lw.capacity.get(channel, 0)
        and all(n == 0 for ch, n in lw.load.items() if ch != channel)
    )


def oracle_eligible(cfg: RoutingSettings, lw: Lawyer, c: Contact, now: float) -> bool:
    if c.language not in lw.languages or lw.services.get(c.service, 0) < 1:
        return False
    if not free_for(lw, c.channel):
        return False
    if c.preferred_lawyer is not None and now < c.entered_at + cfg.preferred_lawyer_s:
        return lw.id == c.preferred_lawyer
    if c.domain is None:
        return True
    needed = wait_needed(cfg.policy(c.service), lw.domains.get(c.domain, 0))
    return needed is not None and now - c.entered_at >= needed


def urgency(cfg: RoutingSettings, c: Contact) -> tuple[float, float, str]:
    """Lower is served first: waited time plus the green boost, then entry, then id."""
    return (c.entered_at - (cfg.green_boost_s if c.green else 0.0), c.entered_at, c.id)


def lawyer_rank(c: Contact, lw: Lawyer) -> tuple[int, int, int, float, str]:
    """Lower wins: the chosen lawyer, best domain, best service, longest idle."""
    return (
        0 if c.preferred_lawyer == lw.id else 1,
        -(lw.domains.get(c.domain, 0) if c.domain else 0),
        -lw.services.get(c.service, 0),
        lw.idle_since,
        lw.id,
    )


# ----- building values -----------------------------------------------------------------


def mk_lawyer(
    lid: str,
    *,
    services: dict[Service, int] | None = None,
    domains: dict[Domain, int] | None = None,
    languages: Iterable[str] = ("zh",),
    voice: int = 1,
    video: int = 0,
    idle_since: float = T0 - 100,
    presence: Presence = Presence.AVAILABLE,
    state: LawyerState | None = None,
) -> Lawyer:
    if state is None:
        state = {
            Presence.AVAILABLE: LawyerState.AVAILABLE,
            Presence.BREAK: LawyerState.BREAK,
            Presence.OFFLINE: LawyerState.OFFLINE,
        }[presence]
    return Lawyer(
        id=lid,
        services=services if services is not None else {Service.CONSULTATION: 3},
        domains=domains or {},
        languages=frozenset(languages),
        capacity={Channel.VOICE: voice, Channel.VIDEO: video},
        presence=presence,
        state=state,
        load={Channel.VOICE: 0, Channel.VIDEO: 0},
        idle_since=idle_since,
    )


def mk_contact(cid: str, entered_at: float, *, preferred: str | None = None, **kw: Any) -> Contact:
    return contact(cid, entered_at, preferred_lawyer=preferred, **kw)


@st.composite
def lawyers(draw: st.DrawFn) -> Lawyer:
    """A lawyer as an event would report them; mostly on duty and free."""
    lid = draw(st.sampled_from(LAWYER_IDS))
    services = draw(st.dictionaries(st.sampled_from(SERVICES), st.integers(1, 5), max_size=2))
    domains = draw(st.dictionaries(st.sampled_from(DOMAINS), st.integers(1, 5), max_size=3))
    languages = draw(st.sampled_from([{"zh"}, {"zh"}, {"zh"}, {"mn"}, {"zh", "mn"}]))
    voice, video = draw(st.sampled_from([(1, 0), (1, 0), (1, 1), (2, 0), (0, 1), (0, 0)]))
    capacity = {Channel.VOICE: voice, Channel.VIDEO: video}
    presence, state = draw(
        st.sampled_from(
            [(Presence.AVAILABLE, LawyerState.AVAILABLE)] * 6
            + [
                (Presence.AVAILABLE, LawyerState.WRAPUP),
                (Presence.AVAILABLE, LawyerState.OFFERED),
                (Presence.BREAK, LawyerState.BREAK),
                (Presence.OFFLINE, LawyerState.OFFLINE),
            ]
        )
    )
    load = {Channel.VOICE: 0, Channel.VIDEO: 0}
    if voice == 2 and draw(st.booleans()):
        load[Channel.VOICE], state = 1, LawyerState.BUSY
    return Lawyer(
        id=lid,
        services=services,
        domains=domains,
        languages=frozenset(languages),
        capacity=capacity,
        presence=presence,
        state=state,
        offer="elsewhere" if state == LawyerState.OFFERED else None,
        load=load,
        idle_since=T0 - draw(st.integers(0, 5)) * 10.0,
    )


# Waits cluster on the policy's edges (30 s, 60 s, 90 s, 120 s) where mistakes hide.
WAITS = st.one_of(
    st.integers(0, 40).map(float),
    st.sampled_from([29.5, 30.0, 59.5, 60.0, 89.5, 90.0, 119.5, 120.0, 180.0]),
    st.integers(0, 200).map(float),
)


@st.composite
def contacts(draw: st.DrawFn) -> Contact:
    """A contact whose entered_at is how long it has waited (set when it is applied).

    Mostly Mandarin voice consultations, so that contacts compete in one queue.
    """
    return Contact(
        id=draw(st.sampled_from(CONTACT_IDS)),
        channel=draw(st.sampled_from([Channel.VOICE] * 4 + [Channel.VIDEO])),
        service=draw(st.sampled_from([Service.CONSULTATION] * 3 + [Service.LEGAL_AID])),
        language=draw(st.sampled_from(["zh"] * 4 + ["mn"])),
        entered_at=draw(WAITS),
        domain=draw(st.sampled_from([None, *DOMAINS])),
        green=draw(st.sampled_from([None, None, GreenReason.ELDERLY, GreenReason.MIGRANT_WAGES])),
        preferred_lawyer=draw(st.sampled_from([None, None, None, *LAWYER_IDS[:2]])),
        state=draw(st.sampled_from([ContactState.WAITING] * 5 + [ContactState.OFFERED])),
    )


Op = tuple[Any, ...]
OPS = [
    *[st.tuples(st.just("lawyer"), lawyers())] * 2,
    st.tuples(st.just("drop_lawyer"), st.sampled_from(LAWYER_IDS)),
    *[st.tuples(st.just("contact"), contacts())] * 4,
    st.tuples(st.just("drop_contact"), st.sampled_from(CONTACT_IDS)),
    # The lawyer holding an offer accepts (True) or declines it; a busy lawyer hangs up.
    *[st.tuples(st.just("answer"), st.sampled_from(LAWYER_IDS), st.booleans())] * 2,
    st.tuples(st.just("hang_up"), st.sampled_from(LAWYER_IDS)),
    *[st.tuples(st.just("plan"), WAITS.map(lambda w: w / 4))] * 3,
]
# A staffed queue with callers waiting, then anything in any order.
ops_strategy = st.builds(
    lambda a, b, c: [*a, *b, *c],
    st.lists(st.tuples(st.just("lawyer"), lawyers()), min_size=2, max_size=5),
    st.lists(st.tuples(st.just("contact"), contacts()), min_size=1, max_size=8),
    st.lists(st.one_of(*OPS), min_size=5, max_size=40),
)
configs = st.builds(
    RoutingSettings,
    green_boost_s=st.sampled_from([0.0, 60.0, 120.0]),
    preferred_lawyer_s=st.sampled_from([0.0, 30.0, 60.0]),
)


# ----- the interleaving runner ---------------------------------------------------------


class Run:
    """Feeds ops to a Router and to a plain mirror of what it should hold.

    Between plans, offers made are answered as the Redis events would report them:
    accepted (the lawyer is busy), declined (the contact is back with its entry time)
    or the call ends (the lawyer is free again).
    """

    def __init__(self, cfg: RoutingSettings) -> None:
        self.cfg = cfg
        self.router = Router(cfg)
        self.now = T0
        self.contacts: dict[str, Contact] = {}
        self.lawyers: dict[str, Lawyer] = {}
        self.offered: dict[str, Contact] = {}  # lawyer id -> the contact offered
        self.plans: list[tuple[float, dict[str, Contact], dict[str, Lawyer], list[Offer]]] = []

    def set_lawyer(self, lw: Lawyer) -> None:
        self.router.upsert_lawyer(lw)
        self.lawyers[lw.id] = lw

    def set_contact(self, c: Contact) -> None:
        self.router.upsert_contact(c)
        self.contacts.pop(c.id, None)
        if c.state == ContactState.WAITING:
            self.contacts[c.id] = c

    def apply(self, op: Op) -> None:
        kind = op[0]
        if kind == "lawyer":
            self.offered.pop(op[1].id, None)
            self.set_lawyer(op[1])
        elif kind == "drop_lawyer":
            self.router.remove_lawyer(op[1])
            self.lawyers.pop(op[1], None)
            self.offered.pop(op[1], None)
        elif kind == "contact":
            self.set_contact(replace(op[1], entered_at=self.now - op[1].entered_at))
        elif kind == "drop_contact":
            self.router.remove_contact(op[1])
            self.contacts.pop(op[1], None)
        elif kind == "answer":
            lw, c = self.lawyers.get(op[1]), self.offered.pop(op[1], None)
            if lw is None or c is None or lw.offer != c.id:
                return
            if op[2]:
                load = {**lw.load, c.channel: lw.load.get(c.channel, 0) + 1}
                self.set_lawyer(replace(lw, offer=None, state=LawyerState.BUSY, load=load))
                self.set_contact(replace(c, state=ContactState.CONNECTED, lawyer=lw.id))
            else:
                busy = sum(lw.load.values()) > 0
                state = LawyerState.BUSY if busy else LawyerState.AVAILABLE
                self.set_lawyer(replace(lw, offer=None, state=state, idle_since=self.now))
                self.set_contact(c)  # back in the queue with its first entry time
        elif kind == "hang_up":
            lw = self.lawyers.get(op[1])
            if lw is None or lw.state != LawyerState.BUSY:
                return
            load = {ch: max(0, n - 1) for ch, n in lw.load.items()}
            if sum(load.values()) > 0:
                self.set_lawyer(replace(lw, load=load))
            else:
                self.set_lawyer(
                    replace(lw, load=load, state=LawyerState.AVAILABLE, idle_since=self.now)
                )
        elif kind == "plan":
            self.now += op[1]
            before_c, before_l = dict(self.contacts), dict(self.lawyers)
            offers = self.router.plan(self.now)
            for o in offers:
                c = self.contacts.pop(o.contact_id)
                self.offered[o.lawyer_id] = c
                self.lawyers[o.lawyer_id] = replace(self.lawyers[o.lawyer_id], offer=c.id)
            self.plans.append((self.now, before_c, before_l, offers))
        else:  # pragma: no cover
            raise AssertionError(kind)

    def eligible_pairs(
        self, lawyers: dict[str, Lawyer], contacts: dict[str, Contact]
    ) -> list[tuple[Lawyer, Contact]]:
        return [
            (lw, c)
            for lw in lawyers.values()
            for c in contacts.values()
            if oracle_eligible(self.cfg, lw, c, self.now)
        ]


def check_positions(run: Run) -> None:
    by_queue: dict[tuple[Channel, str, Service], list[tuple[Contact, int]]] = defaultdict(list)
    for c, pos in run.router.positions():
        by_queue[(c.channel, c.language, c.service)].append((c, pos))
    seen = [c.id for entries in by_queue.values() for c, _ in entries]
    assert sorted(seen) == sorted(run.contacts), "every waiting contact has exactly one place"
    for entries in by_queue.values():
        assert [p for _, p in entries] == list(range(1, len(entries) + 1))
        ranked = sorted((c for c, _ in entries), key=lambda c: urgency(run.cfg, c))
        assert [c.id for c, _ in sorted(entries, key=lambda e: e[1])] == [c.id for c in ranked]


def check_plan(
    run: Run, offers: list[Offer], before_c: dict[str, Contact], before_l: dict[str, Lawyer]
) -> None:
    now, cfg = run.now, run.cfg
    contact_ids = [o.contact_id for o in offers]
    lawyer_ids = [o.lawyer_id for o in offers]
    assert len(set(contact_ids)) == len(contact_ids), "a contact offered twice in one plan"
    assert len(set(lawyer_ids)) == len(lawyer_ids), "a lawyer given two offers in one plan"
    for o in offers:
        c, lw = before_c[o.contact_id], before_l[o.lawyer_id]
        assert c.language in lw.languages, "language is never relaxed"
        assert oracle_eligible(cfg, lw, c, now), f"{o} not allowed at +{now - T0:g}s"
        assert run.router.eligible(lw, c, now)
    # The router's picture afterwards is the old one with the offers made.
    assert run.router.contacts == run.contacts
    assert run.router.lawyers == run.lawyers
    # No starvation: no lawyer left free with a contact they may take.
    left = run.eligible_pairs(run.lawyers, run.contacts)
    assert not left, f"free {left[0][0].id} could take waiting {left[0][1].id}"
    # Urgency: nobody got a contact while a more urgent one they could take stays waiting.
    for o in offers:
        lw, c = before_l[o.lawyer_id], before_c[o.contact_id]
        for other in run.contacts.values():
            if oracle_eligible(cfg, lw, other, now):
                assert urgency(cfg, other) > urgency(cfg, c), (
                    f"{lw.id} got {c.id} while more urgent {other.id} waits"
                )


def check_best_queries(run: Run) -> None:
    """best_lawyer_for and best_contact_for agree with the oracle at this moment."""
    now, cfg = run.now, run.cfg
    for c in run.contacts.values():
        fits = [lw for lw in run.lawyers.values() if oracle_eligible(cfg, lw, c, now)]
        want = min(fits, key=lambda lw: lawyer_rank(c, lw)).id if fits else None
        got = run.router.best_lawyer_for(c, now)
        assert (got.id if got else None) == want
    for lw in run.lawyers.values():
        fits_c = [c for c in run.contacts.values() if oracle_eligible(cfg, lw, c, now)]
        want = min(fits_c, key=lambda c: urgency(cfg, c)).id if fits_c else None
        got_c = run.router.best_contact_for(lw, now)
        assert (got_c.id if got_c else None) == want


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs, ops=ops_strategy)
def test_random_interleavings_keep_the_routing_rules(cfg: RoutingSettings, ops: list[Op]) -> None:
    run = Run(cfg)
    for op in ops:
        if op[0] == "plan":
            # Move the clock, ask the single questions, then plan at that same moment.
            run.now += op[1]
            check_best_queries(run)
            op = ("plan", 0.0)
        before_c, before_l = dict(run.contacts), dict(run.lawyers)
        run.apply(op)
        if op[0] == "plan":
            check_plan(run, run.plans[-1][3], before_c, before_l)
        check_positions(run)


# The plan hands contacts to lawyers in idle order whenever more contacts wait than
# lawyers are free, even contacts nobody on duty can serve (here two in Mongolian).
# Then the less proficient, longer-idle L0 gets the labour case while the specialist
# L1 is free and stays idle.
SHIFT_START_BACKLOG: list[Op] = [
    (
        "lawyer",
        mk_lawyer("L0", domains={Domain.LABOUR: 1}, idle_since=T0 - 100),
    ),
    (
        "lawyer",
        mk_lawyer("L1", domains={Domain.LABOUR: 5}, idle_since=T0 - 10),
    ),
    ("contact", mk_contact("C0", 40.0, domain=Domain.LABOUR)),
    ("contact", mk_contact("C1", 0.0, language="mn")),
    ("contact", mk_contact("C2", 0.0, language="mn")),
    ("plan", 0.0),
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(cfg=RoutingSettings(), ops=SHIFT_START_BACKLOG)
@given(cfg=configs, ops=ops_strategy)
def test_a_contact_never_goes_to_a_worse_lawyer_while_a_better_one_stays_free(
    cfg: RoutingSettings, ops: list[Op]
) -> None:
    run = Run(cfg)
    for op in ops:
        run.apply(op)
        if op[0] != "plan":
            continue
        now, before_c, before_l, offers = run.plans[-1]
        given_offer = {o.lawyer_id for o in offers}
        for o in offers:
            c, lw = before_c[o.contact_id], before_l[o.lawyer_id]
            for other in before_l.values():
                if other.id in given_offer or not oracle_eligible(cfg, other, c, now):
                    continue
                assert lawyer_rank(c, lw) < lawyer_rank(c, other), (
                    f"{c.id} went to {lw.id} while better {other.id} stayed free"
                )


# ----- the rules, one example each ----------------------------------------------------------


def router(**overrides: Any) -> Router:
    return Router(RoutingSettings(**overrides))


def offers_of(r: Router, now: float) -> list[tuple[str, str]]:
    return [(o.contact_id, o.lawyer_id) for o in r.plan(now)]


def test_a_mongolian_caller_is_never_offered_to_a_lawyer_without_mongolian() -> None:
    r = router()
    r.upsert_lawyer(mk_lawyer("zh-only", domains={Domain.LAND_HOMESTEAD: 5}))
    r.upsert_contact(mk_contact("herder", T0, domain=Domain.LAND_HOMESTEAD, language="mn"))
    assert offers_of(r, T0) == []
    assert offers_of(r, T0 + 10_000) == [], "language must not relax with waiting"
    r.upsert_lawyer(mk_lawyer("bilingual", languages=("zh", "mn")))
    assert offers_of(r, T0 + 10_001) == [("herder", "bilingual")]


@pytest.mark.parametrize(
    ("proficiency", "needed_s"),
    [(5, 0.0), (3, 0.0), (2, 30.0), (1, 30.0), (None, 90.0)],
)
def test_domain_requirement_relaxes_in_the_default_steps(
    proficiency: int | None, needed_s: float
) -> None:
    r = router()
    domains = {Domain.LABOUR: proficiency} if proficiency else {Domain.MARRIAGE_FAMILY: 5}
    r.upsert_lawyer(mk_lawyer("L", domains=domains))
    r.upsert_contact(mk_contact("wages", T0, domain=Domain.LABOUR))
    if needed_s > 0:
        assert offers_of(r, T0 + needed_s - 0.001) == []
    assert offers_of(r, T0 + needed_s) == [("wages", "L")]


def test_a_contact_without_a_domain_goes_to_any_lawyer_with_the_service() -> None:
    r = router()
    r.upsert_lawyer(mk_lawyer("aid-only", services={Service.LEGAL_AID: 2}))
    r.upsert_lawyer(mk_lawyer("consult", services={Service.CONSULTATION: 1}))
    r.upsert_contact(mk_contact("unsure", T0))
    assert offers_of(r, T0) == [("unsure", "consult")]


def test_a_policy_per_service_queue_is_used_for_that_queue() -> None:
    strict = QueuePolicy(steps=[RelaxStep(after_s=0, min_proficiency=5)])
    r = router(queues={Service.LEGAL_AID: strict})
    r.upsert_lawyer(
        mk_lawyer(
            "L",
            services={Service.LEGAL_AID: 3, Service.CONSULTATION: 3},
            domains={Domain.LABOUR: 4},
        )
    )
    r.upsert_contact(mk_contact("aid", T0, service=Service.LEGAL_AID, domain=Domain.LABOUR))
    assert offers_of(r, T0 + 3600) == [], "legal aid here needs proficiency 5, never relaxed"
    r.upsert_contact(mk_contact("consult", T0, domain=Domain.LABOUR))
    assert offers_of(r, T0 + 3600) == [("consult", "L")]


@pytest.mark.parametrize("lawyers_free", [1, 3])
def test_green_channel_goes_first_within_the_boost(lawyers_free: int) -> None:
    r = router(green_boost_s=120)
    for i in range(lawyers_free):
        r.upsert_lawyer(mk_lawyer(f"L{i}", languages=("mn",) if i else ("zh",)))
    r.upsert_contact(mk_contact("younger-man", T0))
    r.upsert_contact(mk_contact("elderly", T0 + 100, green=GreenReason.ELDERLY))
    assert offers_of(r, T0 + 100) == [("elderly", "L0")]


def test_green_channel_does_not_overtake_a_contact_older_than_the_boost() -> None:
    r = router(green_boost_s=120)
    r.upsert_lawyer(mk_lawyer("L0"))
    r.upsert_contact(mk_contact("long-waiter", T0))
    r.upsert_contact(mk_contact("minor", T0 + 121, green=GreenReason.MINOR))
    assert offers_of(r, T0 + 121) == [("long-waiter", "L0")]


def test_the_chosen_lawyer_alone_gets_the_contact_during_the_window() -> None:
    r = router(preferred_lawyer_s=60)
    r.upsert_lawyer(mk_lawyer("chosen", presence=Presence.OFFLINE))
    r.upsert_lawyer(mk_lawyer("other", domains={Domain.TRAFFIC: 5}))
    r.upsert_contact(mk_contact("fan", T0, domain=Domain.TRAFFIC, preferred="chosen"))
    assert offers_of(r, T0) == []
    assert offers_of(r, T0 + 59.999) == []
    assert offers_of(r, T0 + 60) == [("fan", "other")]


def test_the_chosen_lawyer_wins_over_a_better_and_longer_idle_lawyer() -> None:
    r = router()
    r.upsert_lawyer(mk_lawyer("chosen", domains={Domain.TRAFFIC: 1}, idle_since=T0))
    r.upsert_lawyer(mk_lawyer("expert", domains={Domain.TRAFFIC: 5}, idle_since=T0 - 900))
    r.upsert_contact(mk_contact("fan", T0, domain=Domain.TRAFFIC, preferred="chosen"))
    assert offers_of(r, T0 + 1) == [("fan", "chosen")]


def test_the_chosen_lawyer_becoming_free_in_the_window_gets_the_contact() -> None:
    r = router(preferred_lawyer_s=60)
    r.upsert_lawyer(mk_lawyer("other"))
    r.upsert_lawyer(mk_lawyer("chosen", presence=Presence.BREAK))
    r.upsert_contact(mk_contact("fan", T0, preferred="chosen"))
    assert offers_of(r, T0 + 30) == []
    r.upsert_lawyer(mk_lawyer("chosen"))
    assert offers_of(r, T0 + 31) == [("fan", "chosen")]


def test_the_chosen_lawyer_still_wins_after_the_window_with_a_backlog() -> None:
    # Morning shift: overnight callers wait, more than the lawyers logging in.
    r = router(preferred_lawyer_s=60)
    r.upsert_contact(mk_contact("fan", T0 - 3600, preferred="chosen"))
    r.upsert_contact(mk_contact("herder-1", T0 - 3000, language="mn"))
    r.upsert_contact(mk_contact("herder-2", T0 - 3000, language="mn"))
    r.upsert_lawyer(mk_lawyer("early-bird", idle_since=T0 - 5))
    r.upsert_lawyer(mk_lawyer("chosen", idle_since=T0 - 1))
    assert ("fan", "chosen") in offers_of(r, T0)


def test_best_proficiency_wins_then_longest_idle() -> None:
    r = router()
    r.upsert_lawyer(mk_lawyer("good-idle", domains={Domain.LABOUR: 4}, idle_since=T0 - 900))
    r.upsert_lawyer(mk_lawyer("best-a", domains={Domain.LABOUR: 5}, idle_since=T0 - 10))
    r.upsert_lawyer(mk_lawyer("best-b", domains={Domain.LABOUR: 5}, idle_since=T0 - 20))
    r.upsert_contact(mk_contact("wages", T0, domain=Domain.LABOUR))
    assert offers_of(r, T0) == [("wages", "best-b")]


def test_service_proficiency_breaks_a_domain_tie() -> None:
    r = router()
    r.upsert_lawyer(mk_lawyer("a", services={Service.LEGAL_AID: 2}, idle_since=T0 - 900))
    r.upsert_lawyer(mk_lawyer("b", services={Service.LEGAL_AID: 4}, idle_since=T0))
    r.upsert_contact(mk_contact("aid", T0, service=Service.LEGAL_AID))
    assert offers_of(r, T0) == [("aid", "b")]


def test_a_lawyer_in_a_voice_call_gets_no_video_and_respects_capacity() -> None:
    r = router()
    busy = replace(
        mk_lawyer("L", voice=2, video=1),
        state=LawyerState.BUSY,
        load={Channel.VOICE: 1, Channel.VIDEO: 0},
    )
    r.upsert_lawyer(busy)
    r.upsert_contact(mk_contact("village", T0, channel=Channel.VIDEO))
    assert offers_of(r, T0) == []
    r.upsert_contact(mk_contact("phone", T0 + 1))
    assert offers_of(r, T0 + 1) == [("phone", "L")]
    full = replace(busy, load={Channel.VOICE: 2, Channel.VIDEO: 0})
    r.upsert_lawyer(full)
    r.upsert_contact(mk_contact("phone-2", T0 + 2))
    assert offers_of(r, T0 + 2) == []


def test_a_lawyer_holding_an_offer_gets_no_second_one() -> None:
    r = router()
    r.upsert_lawyer(mk_lawyer("L"))
    r.upsert_contact(mk_contact("a", T0))
    r.upsert_contact(mk_contact("b", T0))
    assert offers_of(r, T0) == [("a", "L")]
    assert offers_of(r, T0 + 1) == []


def test_positions_number_each_queue_in_priority_order() -> None:
    r = router(green_boost_s=120)
    r.upsert_contact(mk_contact("first", T0))
    r.upsert_contact(mk_contact("second", T0 + 10))
    r.upsert_contact(mk_contact("green", T0 + 50, green=GreenReason.DISABLED))
    r.upsert_contact(mk_contact("herder", T0 + 20, language="mn"))
    r.upsert_contact(mk_contact("village", T0 + 30, channel=Channel.VIDEO))
    r.upsert_contact(mk_contact("aid", T0 + 40, service=Service.LEGAL_AID))
    places = {c.id: p for c, p in r.positions()}
    assert places == {
        "green": 1,
        "first": 2,
        "second": 3,
        "herder": 1,
        "village": 1,
        "aid": 1,
    }
    r.upsert_contact(replace(mk_contact("green", T0 + 50), state=ContactState.OFFERED))
    assert {c.id: p for c, p in r.positions() if c.language == "zh"} == {
        "first": 1,
        "second": 2,
        "village": 1,
        "aid": 1,
    }


# ----- configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "steps",
    [
        # proficiency demanded goes up again
        [{"after_s": 0, "min_proficiency": 2}, {"after_s": 30, "min_proficiency": 4}],
        # domain matching switched back on
        [{"after_s": 0}, {"after_s": 30, "match_domain": False}, {"after_s": 60}],
        # not in increasing time order
        [{"after_s": 0, "min_proficiency": 3}, {"after_s": 0, "min_proficiency": 1}],
        [{"after_s": 0, "min_proficiency": 3}, {"after_s": 60}, {"after_s": 30}],
        # no step from the start
        [{"after_s": 10}],
        [],
    ],
)
def test_relax_steps_that_tighten_later_are_rejected(steps: list[dict[str, Any]]) -> None:
    with pytest.raises(ValidationError):
        QueuePolicy.model_validate({"steps": steps})
    with pytest.raises(ValidationError):
        RoutingSettings.model_validate({"queues": {"legal_aid": {"steps": steps}}})


def test_relax_steps_that_only_loosen_are_accepted() -> None:
    cfg = RoutingSettings.model_validate(
        {
            "queues": {
                "mediation": {
                    "steps": [
                        {"after_s": 0, "min_proficiency": 4},
                        {"after_s": 20, "min_proficiency": 4},
                        {"after_s": 45, "min_proficiency": 2},
                        {"after_s": 300, "match_domain": False},
                    ]
                }
            }
        }
    )
    assert wait_needed(cfg.policy(Service.MEDIATION), 3) == 45
    assert wait_needed(cfg.policy(Service.CONSULTATION), 3) == 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(1, 5), st.booleans()), min_size=1, max_size=4)
)
def test_relax_steps_are_accepted_exactly_when_they_only_loosen(
    raw: list[tuple[int, int, bool]],
) -> None:
    steps = [{"after_s": float(t * 30), "min_proficiency": p, "match_domain": m} for t, p, m in raw]
    loosening = raw[0][0] == 0 and all(
        b[0] > a[0] and b[1] <= a[1] and (a[2] or not b[2]) for a, b in itertools.pairwise(raw)
    )
    if loosening:
        QueuePolicy.model_validate({"steps": steps})
    else:
        with pytest.raises(ValidationError):
            QueuePolicy.model_validate({"steps": steps})


def test_a_contact_updated_with_a_later_window_stays_held_for_its_lawyer() -> None:
    """Found by the property test: an update must not be released by its old window."""
    r = router(preferred_lawyer_s=30)
    r.upsert_lawyer(mk_lawyer("chosen"))
    r.upsert_lawyer(mk_lawyer("other"))
    first = mk_contact("c", T0 - 30, preferred="chosen")
    r.upsert_contact(first)
    r.upsert_contact(replace(first, entered_at=T0))
    assert r.best_contact_for(r.lawyers["other"], T0 + 1) is None
    assert r.best_contact_for(r.lawyers["other"], T0 + 31) is not None


def test_under_overload_each_lawyer_still_gets_their_most_urgent_contact() -> None:
    """More lawyers free than MATCH_LIMIT: passes go lawyer by lawyer, urgency kept."""
    from lawline.queue.routing import MATCH_LIMIT

    r = router()
    domains = list(Domain)
    for i in range(MATCH_LIMIT + 20):
        r.upsert_lawyer(
            mk_lawyer(f"L{i:03}", domains={domains[i % len(domains)]: 1 + i % 5}, idle_since=T0 - i)
        )
    for i in range(400):
        r.upsert_contact(mk_contact(f"C{i:03}", T0 - i % 120, domain=domains[i % 7]))
    now = T0 + 1
    before_contacts = dict(r.contacts)
    before_lawyers = dict(r.lawyers)
    offers = r.plan(now)
    assert len(offers) == MATCH_LIMIT + 20
    taken = {o.contact_id for o in offers}
    for o in offers:
        lw, got = before_lawyers[o.lawyer_id], before_contacts[o.contact_id]
        for other in before_contacts.values():
            if other.id not in taken and r.eligible(lw, other, now):
                assert r._order(other) > r._order(got), f"{lw.id} passed over {other.id}"
