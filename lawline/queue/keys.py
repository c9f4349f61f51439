"""Every Redis key of the queue, named once: contacts, lawyers, deadlines, counters,
the event stream and what hangs off it.

P is `settings.redis_prefix` (default `ll`; give it a hash tag, `{ll}`, on a Redis
Cluster so a script's keys share one slot). Each key's docstring says what it holds,
its Redis type and how long it lives, as the scripts' headers do for their KEYS.
"""

from __future__ import annotations

from dataclasses import dataclass

# The consumer group of the case ledger on the event stream (cases/ingest.py); the
# scripts' trim (includes/common.lua LEDGER_GROUP) never drops what it has not read.
LEDGER_GROUP = "ledger"


@dataclass(frozen=True, slots=True)
class QueueKeys:
    prefix: str

    def contact(self, contact_id: str) -> str:
        """hash `P:contact:ID`: a contact (model.Contact.to_hash plus state fields); no
        TTL while live, expires `routing.ended_contact_ttl_s` after it ends."""
        return f"{self.prefix}:contact:{contact_id}"

    def lawyer(self, lawyer_id: str) -> str:
        """hash `P:lawyer:ID`: a lawyer (model.Lawyer.to_hash plus state and time in
        state); kept for good."""
        return f"{self.prefix}:lawyer:{lawyer_id}"

    @property
    def lawyers(self) -> str:
        """set `P:lawyers`: every lawyer id; kept for good."""
        return f"{self.prefix}:lawyers"

    @property
    def waiting(self) -> str:
        """zset `P:waiting`: waiting contact ids by entry time; no TTL."""
        return f"{self.prefix}:waiting"

    @property
    def offers(self) -> str:
        """zset `P:offers`: offered contact ids by offer deadline; no TTL."""
        return f"{self.prefix}:offers"

    @property
    def wrapups(self) -> str:
        """zset `P:wrapups`: lawyer ids by end of wrap-up (延长整理 moves it); no TTL."""
        return f"{self.prefix}:wrapups"

    @property
    def consoles(self) -> str:
        """zset `P:consoles`: lawyer ids by when their console was last heard from; no TTL."""
        return f"{self.prefix}:consoles"

    @property
    def callbacks(self) -> str:
        """zset `P:callbacks`: contact ids whose failed callback is retried, by retry time;
        no TTL."""
        return f"{self.prefix}:callbacks"

    def stats(self, service: str) -> str:
        """hash `P:stats:SVC`: the counters of one service queue; kept for good."""
        return f"{self.prefix}:stats:{service}"

    @property
    def events(self) -> str:
        """stream `P:events`: every change, for routers, consoles, wallboard and ledger;
        trimmed near store.EVENTS_MAXLEN, never past what LEDGER_GROUP has not acked."""
        return f"{self.prefix}:events"

    @property
    def dead_events(self) -> str:
        """stream `P:events:dead`: events the ledger could not take (id, reason, fields),
        for a person to read; trimmed near cases/ingest.DEAD_MAXLEN."""
        return f"{self.prefix}:events:dead"

    @property
    def dead_events_count(self) -> str:
        """string `P:events:dead:count`: how many events were ever set aside; kept for good."""
        return f"{self.prefix}:events:dead:count"

    def history(self, number: str) -> str:
        """zset `P:history:NUM`: contact ids from one number by entry time (first-contact
        accountability); expires `routing.ended_contact_ttl_s` after its last contact."""
        return f"{self.prefix}:history:{number}"

    def callbacks_day(self, number: str, day: str) -> str:
        """string `P:callbacks-day:NUM:YYYYMMDD`: callbacks one number asked for that day;
        expires two days after the first."""
        return f"{self.prefix}:callbacks-day:{number}:{day}"

    def dialout(self, contact_id: str, attempt: int) -> str:
        """string `P:dialout:ID:N`: the worker placing attempt N of a contact's callback
        (SET NX: one worker dials); expires after an hour."""
        return f"{self.prefix}:dialout:{contact_id}:{attempt}"

    @property
    def alert_phrases(self) -> str:
        """hash `P:alert-phrases`: the watch list as an admin last saved it (`doc`: JSON
        category -> phrases, `version`, `by`, `at`); absent: the settings' list. Kept
        (transcripts/alert_phrases.py, queue/versioned.py)."""
        return f"{self.prefix}:alert-phrases"

    @property
    def alert_phrases_history(self) -> str:
        """stream `P:alert-phrases:history`: each saved list with who and when; the last
        ~1,000 kept."""
        return f"{self.prefix}:alert-phrases:history"

    @property
    def routing_policy(self) -> str:
        """hash `P:routing-policy`: the routing policy as an admin last saved it (`doc`:
        JSON {default, queues}, `version`, `by`, `at`); absent: the settings'. Kept
        (queue/live_policy.py)."""
        return f"{self.prefix}:routing-policy"

    @property
    def routing_policy_history(self) -> str:
        """stream `P:routing-policy:history`: each saved policy with who and when; the
        last ~1,000 kept."""
        return f"{self.prefix}:routing-policy:history"

    @property
    def alerts(self) -> str:
        """list `P:alerts`: public-opinion alerts raised from transcripts, newest first;
        trimmed to store.ALERTS_KEPT."""
        return f"{self.prefix}:alerts"

    @property
    def telephony_counts(self) -> str:
        """hash `P:telephony:counts`: what the telephony workers refused to believe or dial
        (reason -> count), read by /metrics; kept for good."""
        return f"{self.prefix}:telephony:counts"
