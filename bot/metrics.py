"""`/metrics` in Prometheus' text format. Every figure is read from the database when it is
scraped, so it is the same whichever web worker answers and covers the clock's work too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client.core import CollectorRegistry, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from storage import clock
from storage import digest as digest_store
from storage.metrics import delivery_counts


class SlabotCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        with self.engine.connect() as connection:
            counts = delivery_counts(connection)
            breaches = digest_store.open_breaches(connection, at=now, owners=None)
            unowned = digest_store.unowned_open(connection, assigned_before=now)
            beat = clock.last_beat(connection)
            took = clock.timings(connection)

        messages = GaugeMetricFamily(
            "slabot_messages",
            "Messages in the outbox by state: pending (queued), sending, sent, failed",
            labels=["state"],
        )
        for state in ("pending", "sending", "sent", "failed"):
            messages.add_metric([state], counts.statuses.get(state, 0))
        yield messages
        yield GaugeMetricFamily(
            "slabot_messages_retried",
            "Messages that needed more than one try",
            value=counts.retried,
        )
        yield GaugeMetricFamily(
            "slabot_open_breaches",
            "Leads with an SLA clock past its deadline and still open",
            value=sum(count for _, count in breaches),
        )
        yield GaugeMetricFamily(
            "slabot_unowned_leads", "Handed-off leads no known rep owns, untouched", value=unowned
        )
        for name, text, rows in (
            ("slabot_webhook_deliveries_applied", "Webhook deliveries applied", counts.applied),
            ("slabot_webhook_events_rejected", "Webhook events set aside", counts.rejected),
        ):
            family = GaugeMetricFamily(name, text, labels=["crm"])
            for system, count in rows:
                family.add_metric([system], count)
            yield family
        durations = GaugeMetricFamily(
            "slabot_job_seconds", "How long the clock's last run of a job took", labels=["job"]
        )
        for job, seconds in took.items():
            durations.add_metric([job], seconds)
        yield durations
        if beat is not None:
            yield GaugeMetricFamily(
                "slabot_clock_last_beat_timestamp_seconds",
                "When the active clock last beat (Unix time)",
                value=beat[2].timestamp(),
            )


def registry(engine: Engine) -> CollectorRegistry:
    found = CollectorRegistry(auto_describe=False)
    found.register(SlabotCollector(engine))
    return found
