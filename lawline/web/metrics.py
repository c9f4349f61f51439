"""/metrics: the queue's figures for Prometheus, read from Redis at scrape time.

The counters live in Redis (shared by every lawline process), so each scrape
reads them there instead of keeping per-process copies that would disagree.
The figures name every lawyer (their usernames), so only a scraper's service
token (`lawline token issue prometheus --role scraper`, sent as a Bearer header:
Prometheus' `authorization` setting) or an admin may read them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from lawline.cases.ingest import dead_letter_total
from lawline.queue.service import QueueService
from lawline.queue.skills import LawyerState
from lawline.web.deps import HubDep, QueueDep, Scraper

router = APIRouter()


class _Figures:
    """A collector over figures fetched just before the scrape."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self.metrics


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


async def gather(queue: QueueService) -> list[Metric]:
    figures = await queue.queue_figures()
    waiting = _gauge("lawline_queue_waiting", "Contacts waiting for a lawyer", ["queue"])
    longest = _gauge("lawline_queue_longest_wait_seconds", "Longest current wait", ["queue"])
    sl = _gauge(
        "lawline_queue_service_level_ratio",
        "Share answered within the service-level threshold, of answered plus abandoned",
        ["queue"],
    )
    rate = _gauge("lawline_queue_answer_rate_ratio", "Answered / (answered + abandoned)", ["queue"])
    aht = _gauge(
        "lawline_queue_average_handle_seconds", "Average talk time plus wrap-up", ["queue"]
    )
    contacts = CounterMetricFamily(
        "lawline_queue_contacts", "Contacts by outcome", labels=["queue", "outcome"]
    )
    offers = CounterMetricFamily(
        "lawline_queue_offers_missed", "Offers declined or timed out", labels=["queue", "reason"]
    )
    for svc, f in figures.items():
        waiting.add_metric([svc], f["waiting"] or 0)
        longest.add_metric([svc], f["longest_wait_s"] or 0)
        if f["service_level"] is not None:
            sl.add_metric([svc], f["service_level"])
        if f["answer_rate"] is not None:
            rate.add_metric([svc], f["answer_rate"])
        if f["average_handle_s"] is not None:
            aht.add_metric([svc], f["average_handle_s"])
        for outcome in ("entered", "answered", "answered_in_sl", "abandoned", "handled"):
            contacts.add_metric([svc, outcome], f[outcome] or 0)
        offers.add_metric([svc, "timeout"], f["offers_timeout"] or 0)
        offers.add_metric([svc, "rejected"], f["offers_rejected"] or 0)

    lawyers = queue.router.lawyers.values()
    by_state = Counter(lw.state for lw in lawyers)
    states = _gauge("lawline_lawyers", "Lawyers by state", ["state"])
    for state in LawyerState:
        states.add_metric([state], by_state.get(state, 0))
    seconds = CounterMetricFamily(
        "lawline_lawyer_state_seconds",
        "Seconds each lawyer spent in each state",
        labels=["lawyer", "state"],
    )
    handled = CounterMetricFamily(
        "lawline_lawyer_contacts_handled", "Contacts each lawyer handled", labels=["lawyer"]
    )
    extended = CounterMetricFamily(
        "lawline_lawyer_wrapup_extensions",
        "Times each lawyer extended a wrap-up (routing.wrapup_extend_s each)",
        labels=["lawyer"],
    )
    per_lawyer = await queue.all_lawyer_figures(sorted(lw.id for lw in lawyers))
    for lid, f in per_lawyer.items():
        for state in LawyerState:
            seconds.add_metric([lid, state], float(f[f"seconds_{state}"]))
        handled.add_metric([lid], float(f["handled"]))
        extended.add_metric([lid], float(f["wrapups_extended"]))

    router_offers = CounterMetricFamily(
        "lawline_router_offers", "Offers this process committed", labels=[]
    )
    router_offers.add_metric([], queue.offers_made)
    conflicts = CounterMetricFamily(
        "lawline_router_conflicts",
        "Offers this process decided but another change in Redis overtook",
        labels=[],
    )
    conflicts.add_metric([], queue.offer_conflicts)
    dead = CounterMetricFamily(
        "lawline_ledger_events_set_aside", "Events the ledger could not take (P:events:dead)"
    )
    dead.add_metric([], await dead_letter_total(queue.store.redis, queue.store.keys))
    odd_calls = CounterMetricFamily(
        "lawline_telephony_refused",
        "What the telephony workers refused to believe or dial (invalid_caller_number, "
        "unsigned_invite, undialable_callback_number, room_code_wrong, room_code_blocked)",
        labels=["what"],
    )
    counts = await queue.store.redis.hgetall(queue.store.keys.telephony_counts)
    for what, n in sorted(counts.items()):
        odd_calls.add_metric([_text(what)], float(n))
    return [
        waiting,
        longest,
        sl,
        rate,
        aht,
        contacts,
        offers,
        states,
        seconds,
        handled,
        extended,
        router_offers,
        conflicts,
        dead,
        odd_calls,
    ]


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


@router.get("/metrics", include_in_schema=False)
async def metrics(queue: QueueDep, hub: HubDep, _: Scraper) -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Figures(await gather(queue)))  # type: ignore[arg-type]
    registry.register(_Figures(list(hub.figures())))  # type: ignore[arg-type]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
