"""Which duty lawyer gets which contact: the routing decision, with no I/O.

`Router` holds the waiting contacts and the lawyers, and answers three
questions at a given `now`: the best contact for a lawyer who just became
free, the best lawyer for a contact that just arrived, and a whole plan of
offers for a periodic pass. Redis stays the authority: every offer the plan
makes is committed by a Lua script that re-checks it (store.py), and the
service loop feeds the outcome back in.

The rules (see RoutingSettings):
- language is never relaxed; the service skill is always required;
- the domain requirement relaxes in timed steps per service queue;
- a contact that asked for a named lawyer waits for them alone for a while;
- contacts are ordered by seconds waited plus the green-channel boost;
- a lawyer on leave today (请假, Lawyer.on_leave on the centre's calendar) is offered
  nothing, even when signed on; the week's shifts do not gate offers (a lawyer who
  signs on outside them is covering, and is served contacts);
- among eligible lawyers: anyone who has not declined or missed this contact,
  then the citizen's chosen lawyer, then best domain proficiency, then best
  service proficiency, then the longest idle.

`now` must not go backwards for one Router; earlier values are treated as the
latest seen.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sortedcontainers import SortedList

from lawline.queue.model import Contact, Lawyer
from lawline.queue.settings import QueuePolicy, RoutingSettings
from lawline.queue.skills import Channel, ContactState, Domain, Service

# Free lawyers above which a backlog pass stops matching contacts to their best
# lawyer (quadratic at worst) and goes lawyer by lawyer.
MATCH_LIMIT = 64

# A queue in the contact-centre sense: contacts that compete for the same lawyers.
QueueKey = tuple[Channel, str, Service]
# Within a queue, contacts of one domain and one boost are ordered by entry time,
# so the oldest is both the most urgent and the first to pass any wait threshold.
_GroupKey = tuple[Domain | None, float]


@dataclass(frozen=True, slots=True)
class Offer:
    contact_id: str
    lawyer_id: str


def _thresholds(policy: QueuePolicy) -> list[float | None]:
    """For domain proficiency 0..5: seconds of waiting before such a lawyer qualifies."""
    table: list[float | None] = []
    for proficiency in range(6):
        table.append(
            next(
                (
                    s.after_s
                    for s in policy.steps
                    if not s.match_domain or (proficiency >= s.min_proficiency)
                ),
                None,
            )
        )
    return table


class Router:
    def __init__(self, settings: RoutingSettings, tz: ZoneInfo | None = None) -> None:
        self.settings = settings
        # The centre's calendar, on which leave is taken (Settings.timezone).
        self.tz = tz or ZoneInfo("Asia/Shanghai")
        self._threshold = {svc: _thresholds(settings.policy(svc)) for svc in Service}
        self._now = 0.0
        self._today = date.min
        self._day_ends = float("-inf")
        self.contacts: dict[str, Contact] = {}
        self.lawyers: dict[str, Lawyer] = {}
        self._groups: dict[QueueKey, dict[_GroupKey, SortedList]] = defaultdict(dict)
        # Contacts still inside their chosen lawyer's window, by that lawyer.
        self._held: dict[str, set[str]] = defaultdict(set)
        self._release: list[tuple[float, str]] = []  # heap of (window ends, contact id)
        # Lawyers able to take an offer now, by the queues they serve, best first:
        # per legal domain those who have it (most proficient first), and everyone.
        self._free_by_domain: dict[QueueKey, dict[Domain, SortedList]] = defaultdict(dict)
        self._free_any: dict[QueueKey, SortedList] = defaultdict(SortedList)
        self._free_lawyers: set[str] = set()

    # ----- keeping the picture up to date -------------------------------------------

    def upsert_contact(self, contact: Contact) -> None:
        """Record a contact's latest state; only waiting contacts stay in the router."""
        self.remove_contact(contact.id)
        if contact.state != ContactState.WAITING:
            return
        self.contacts[contact.id] = contact
        if self._in_window(contact, self._now):
            assert contact.preferred_lawyer is not None
            self._held[contact.preferred_lawyer].add(contact.id)
            heapq.heappush(self._release, (self._window_end(contact), contact.id))
        else:
            self._group_of(contact).add((contact.entered_at, contact.id))

    def remove_contact(self, contact_id: str) -> None:
        old = self.contacts.pop(contact_id, None)
        if old is None:
            return
        if old.preferred_lawyer and contact_id in self._held.get(old.preferred_lawyer, ()):
            self._held[old.preferred_lawyer].discard(contact_id)
            return  # its stale release-heap entry is skipped when popped
        key = (old.channel, old.language, old.service)
        groups = self._groups[key]
        group_key = (old.domain, self._boost(old))
        group = groups[group_key]
        group.discard((old.entered_at, old.id))
        if not group:  # keep only non-empty groups: best_contact_for walks them all
            del groups[group_key]
            if not groups:
                del self._groups[key]

    def upsert_lawyer(self, lawyer: Lawyer) -> None:
        self.remove_lawyer(lawyer.id)
        self.lawyers[lawyer.id] = lawyer
        if self._on_leave(lawyer):
            return  # known, but in no free-lawyer index until the leave is over
        for key in self._queues_of(lawyer):
            self._free_lawyers.add(lawyer.id)
            for entries, entry in self._free_entries(key, lawyer, create=True):
                entries.add(entry)

    def remove_lawyer(self, lawyer_id: str) -> None:
        old = self.lawyers.pop(lawyer_id, None)
        if old is None or lawyer_id not in self._free_lawyers:
            return
        self._free_lawyers.discard(lawyer_id)
        for key in self._queues_of(old):
            for entries, entry in self._free_entries(key, old, create=False):
                entries.discard(entry)

    def _free_entries(
        self, key: QueueKey, lw: Lawyer, create: bool
    ) -> Iterator[tuple[SortedList, tuple[object, ...]]]:
        """The free-lawyer indexes this lawyer belongs in for one queue, with its entry."""
        service_level = -lw.services.get(key[2], 0)
        yield self._free_any[key], (service_level, lw.idle_since, lw.id)
        by_domain = self._free_by_domain[key]
        for domain, level in lw.domains.items():
            if level >= 1:
                entries = by_domain.get(domain)
                if entries is None:
                    if not create:
                        continue
                    entries = by_domain[domain] = SortedList()
                yield entries, (-level, service_level, lw.idle_since, lw.id)

    def advance(self, now: float) -> None:
        """Move the clock on: release contacts whose chosen lawyer's window has passed;
        at the centre's midnight, lawyers whose leave starts or ends move in or out of
        the free-lawyer indexes."""
        self._now = max(self._now, now)
        if self._now >= self._day_ends:
            local = datetime.fromtimestamp(self._now, self.tz)
            self._today = local.date()
            tomorrow = datetime.combine(self._today + timedelta(days=1), time(), self.tz)
            self._day_ends = tomorrow.timestamp()
            for lawyer in [lw for lw in self.lawyers.values() if lw.exceptions]:
                self.upsert_lawyer(lawyer)
        while self._release and self._release[0][0] <= self._now:
            _, cid = heapq.heappop(self._release)
            contact = self.contacts.get(cid)
            if contact is None or contact.preferred_lawyer is None:
                continue
            if self._window_end(contact) > self._now:
                continue  # a stale entry from an earlier version of this contact
            held = self._held[contact.preferred_lawyer]
            if cid in held:
                held.discard(cid)
                self._group_of(contact).add((contact.entered_at, cid))

    # ----- the decision -------------------------------------------------------------

    def eligible(self, lawyer: Lawyer, contact: Contact, now: float) -> bool:
        """May this contact be offered to this lawyer now?"""
        if self._on_leave(lawyer):
            return False
        if contact.language not in lawyer.languages:
            return False
        if lawyer.services.get(contact.service, 0) < 1 or not lawyer.can_take(contact.channel):
            return False
        if contact.preferred_lawyer is not None and self._in_window(contact, now):
            return contact.preferred_lawyer == lawyer.id
        return now - contact.entered_at >= self._wait_needed(lawyer, contact)

    def priority(self, contact: Contact) -> float:
        """Lower is served first: entry time less the green-channel boost."""
        return contact.entered_at - self._boost(contact)

    def best_contact_for(self, lawyer: Lawyer, now: float) -> Contact | None:
        """The most urgent waiting contact this lawyer may take now."""
        self.advance(now)
        now = self._now
        if self._on_leave(lawyer):
            return None
        best: tuple[float, float, str] | None = None
        held = self._held.get(lawyer.id, ())
        proficiency = lawyer.domains
        for ch in Channel:
            if not lawyer.can_take(ch):
                continue
            for lang in lawyer.languages:
                for svc, level in lawyer.services.items():
                    if level < 1:
                        continue
                    for cid in held:
                        c = self.contacts[cid]
                        if (c.channel, c.language, c.service) == (ch, lang, svc):
                            cand = (self.priority(c), c.entered_at, cid)
                            if best is None or cand < best:
                                best = cand
                    groups = self._groups.get((ch, lang, svc))
                    if not groups:
                        continue
                    thresholds = self._threshold[svc]
                    for (domain, boost), entries in groups.items():
                        # The oldest entry is the most urgent and the first to qualify.
                        entered, cid = entries[0]
                        if domain is not None:
                            wait_needed = thresholds[proficiency.get(domain, 0)]
                            if wait_needed is None or now - entered < wait_needed:
                                continue
                        cand = (entered - boost, entered, cid)
                        if best is None or cand < best:
                            best = cand
        return None if best is None else self.contacts[best[2]]

    def best_lawyer_for(self, contact: Contact, now: float) -> Lawyer | None:
        """The best free lawyer for this contact now, or None.

        The free-lawyer indexes are ordered by the ranking itself, so this reads
        their heads: domain proficiency only lowers the wait a lawyer needs, so
        once one lawyer in the domain index needs more wait than the contact has,
        every one after them does too.
        """
        self.advance(now)
        now = self._now
        key = (contact.channel, contact.language, contact.service)
        preferred = contact.preferred_lawyer
        if preferred is not None and self._in_window(contact, now):
            lawyer = self.lawyers.get(preferred)
            ok = lawyer is not None and preferred in self._free_lawyers
            return lawyer if ok and self.eligible(lawyer, contact, now) else None
        if (
            preferred in self._free_lawyers
            and preferred not in contact.declined_by
            and self.eligible(self.lawyers[preferred], contact, now)
        ):
            return self.lawyers[preferred]
        waited = now - contact.entered_at
        fallback: Lawyer | None = None  # someone who passed this contact over before
        if contact.domain is not None:
            thresholds = self._threshold[contact.service]
            for level, *_, lid in self._free_by_domain[key].get(contact.domain, ()):
                needed = thresholds[-level]
                if needed is None or waited < needed:
                    break
                if lid not in contact.declined_by:
                    return self.lawyers[lid]
                fallback = fallback or self.lawyers[lid]
            needed = thresholds[0]
            if needed is None or waited < needed:
                return fallback  # nobody without the domain qualifies yet
        for *_, lid in self._free_any.get(key, ()):
            if lid not in contact.declined_by:
                return self.lawyers[lid]
            fallback = fallback or self.lawyers[lid]
        return fallback

    def plan(self, now: float, limit: int | None = None) -> list[Offer]:
        """Offers for free lawyers that have an eligible contact; at most `limit` of them.

        Two promises: a lawyer is offered the most urgent contact they may take, and a
        contact goes to the best free lawyer for it. With few contacts waiting, they
        are served most urgent first. With a backlog, walking 10,000 contacts would be
        wasted work: each free lawyer nominates the most urgent contact they may take,
        the most urgent nominee goes to its best free lawyer, and only the lawyers who
        had nominated it look again (`_match`). Under overload (more than
        MATCH_LIMIT lawyers free at once, which only happens when routing falls
        behind) a pass goes lawyer by lawyer instead, longest idle first, and keeps
        only the first promise. A caller that gets exactly `limit` offers should call
        again.

        The router assumes the offers it returns are made: their contacts leave the
        waiting set and their lawyers hold an offer. When Redis refuses one, the
        caller upserts the true contact and lawyer again.
        """
        self.advance(now)
        now = self._now
        if not self._free_lawyers or not self.contacts:
            return []
        cap = limit if limit is not None else len(self._free_lawyers)
        offers: list[Offer] = []
        if len(self.contacts) <= len(self._free_lawyers):
            for contact in sorted(self.contacts.values(), key=self._order):
                if len(offers) >= cap:
                    break
                lawyer = self.best_lawyer_for(contact, now)
                if lawyer is not None:
                    offers.append(self.assign(contact.id, lawyer.id))
            return offers
        if len(self._free_lawyers) <= MATCH_LIMIT:
            return self._match(now, cap)
        for lid in sorted(self._free_lawyers, key=lambda i: (self.lawyers[i].idle_since, i)):
            if len(offers) >= cap:
                break
            contact = self.best_contact_for(self.lawyers[lid], now)
            if contact is not None:
                offers.append(self.assign(contact.id, lid))
        return offers

    def _match(self, now: float, cap: int) -> list[Offer]:
        """Serve the most urgent nominated contact first, each by its best free lawyer."""
        nominee: dict[str, str] = {}
        nominators: dict[str, set[str]] = defaultdict(set)
        heap: list[tuple[float, float, str]] = []

        def nominate(lid: str) -> None:
            contact = self.best_contact_for(self.lawyers[lid], now)
            if contact is not None:
                nominee[lid] = contact.id
                nominators[contact.id].add(lid)
                heapq.heappush(heap, self._order(contact))

        for lid in list(self._free_lawyers):
            nominate(lid)
        offers: list[Offer] = []
        while heap and len(offers) < cap:
            cid = heapq.heappop(heap)[2]
            if not nominators.get(cid) or cid not in self.contacts:
                continue  # served already, or nobody nominates it any more
            best = self.best_lawyer_for(self.contacts[cid], now)
            assert best is not None  # its nominators may take it
            looked_here = nominators.pop(cid)
            other = nominee.pop(best.id, None)
            if other is not None and other != cid:
                nominators[other].discard(best.id)
            offers.append(self.assign(cid, best.id))
            for lid in looked_here - {best.id}:
                nominee.pop(lid, None)
                nominate(lid)
        return offers

    def assign(self, contact_id: str, lawyer_id: str) -> Offer:
        """Record locally that this offer is being made (see `plan`)."""
        self.remove_contact(contact_id)
        lawyer = self.lawyers[lawyer_id]
        self.upsert_lawyer(lawyer.with_changes(offer=contact_id))
        return Offer(contact_id, lawyer_id)

    # ----- what waiting callers are told ----------------------------------------------

    def positions(self) -> Iterator[tuple[Contact, int]]:
        """Every waiting contact with its 1-based place in its queue."""
        by_queue: dict[QueueKey, list[Contact]] = defaultdict(list)
        for c in self.contacts.values():
            by_queue[(c.channel, c.language, c.service)].append(c)
        for contacts in by_queue.values():
            contacts.sort(key=self._order)
            yield from ((c, i) for i, c in enumerate(contacts, start=1))

    def staffed(self, key: QueueKey) -> int:
        """Lawyers on duty (not offline, not on break) who serve this queue."""
        ch, lang, svc = key
        return sum(
            1
            for lw in self.lawyers.values()
            if lw.presence == "available"
            and not self._on_leave(lw)
            and lw.capacity.get(ch, 0) > 0
            and lang in lw.languages
            and lw.services.get(svc, 0) >= 1
        )

    # ----- internals ------------------------------------------------------------------

    def _on_leave(self, lawyer: Lawyer) -> bool:
        return bool(lawyer.exceptions) and lawyer.on_leave(self._today)

    def _order(self, c: Contact) -> tuple[float, float, str]:
        return (self.priority(c), c.entered_at, c.id)

    def _boost(self, c: Contact) -> float:
        return self.settings.green_boost_s if c.green else 0.0

    def _window_end(self, c: Contact) -> float:
        # A contact handed to a named colleague waits for them from the transfer on.
        return (c.transferred_at or c.entered_at) + self.settings.preferred_lawyer_s

    def _in_window(self, c: Contact, now: float) -> bool:
        return c.preferred_lawyer is not None and now < self._window_end(c)

    def _wait_needed(self, lawyer: Lawyer, c: Contact) -> float:
        if c.domain is None:
            return 0.0
        needed = self._threshold[c.service][lawyer.domains.get(c.domain, 0)]
        return float("inf") if needed is None else needed

    def _group_of(self, c: Contact) -> SortedList:
        groups = self._groups[(c.channel, c.language, c.service)]
        key = (c.domain, self._boost(c))
        group = groups.get(key)
        if group is None:
            group = groups[key] = SortedList()
        return group

    @staticmethod
    def _queues_of(lawyer: Lawyer) -> Iterable[QueueKey]:
        for ch in Channel:
            if not lawyer.can_take(ch):
                continue
            for lang in lawyer.languages:
                for svc, level in lawyer.services.items():
                    if level >= 1:
                        yield (ch, lang, svc)
