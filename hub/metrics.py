"""Every Prometheus metric the hub exports, defined once. No label ever holds a person code or
another unbounded value: labels are flows (F1...), system names, canonical types, rule names,
error classes."""

from __future__ import annotations

import platform

from prometheus_client import Counter, Gauge, Histogram, Info

from hub import __version__

# Receipt-to-target latency spans milliseconds (healthy) to a day (target outage, replays); no bucket
# is more than twice the one before it, so a quantile read from them is off by less than that.
LATENCY_BUCKETS = (
    0.01, 0.02, 0.04, 0.075, 0.15, 0.3, 0.6, 1, 2, 4, 8, 15, 30, 60, 120, 240, 480, 900,
    1800, 3600, 7200, 14400, 28800, 57600, 86400,
)  # fmt: skip
# A target's own answer time: tens of milliseconds healthy, up to the longest configured timeout.
CALL_BUCKETS = (0.005, 0.01, 0.02, 0.04, 0.075, 0.15, 0.3, 0.6, 1, 2, 4, 8, 15, 30, 60, 120)

messages_received = Counter(
    "hub_messages_received_total",
    "Records the gateway accepted and the broker confirmed",
    ["flow", "source", "type"],
)
messages_delivered = Counter(
    "hub_messages_delivered_total", "Records the target confirmed", ["flow", "source", "target", "type"]
)
messages_failed = Counter(
    "hub_messages_failed_total",
    "Records that failed for good after acceptance, by error class",
    ["flow", "source", "target", "type", "error_class"],
)
target_duplicates = Counter(
    "hub_target_duplicates_total", "Deliveries the target already had (redeliveries, resends)", ["target"]
)
delivery_latency = Histogram(
    "hub_delivery_latency_seconds",
    "From the receipt to the target's confirmation",
    ["flow", "target", "type"],
    buckets=LATENCY_BUCKETS,
)
validation_failures = Counter("hub_validation_failures_total", "Rejected inputs by broken rule", ["system", "rule"])
gateway_requests = Counter(
    "hub_gateway_requests_total", "SOAP requests by operation and outcome", ["system", "operation", "outcome"]
)
gateway_request_duration = Histogram(
    "hub_gateway_request_duration_seconds",
    "SOAP request handling time, body read to response",
    ["system", "operation", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
delivery_attempts = Counter("hub_delivery_attempts_total", "Calls to targets by outcome", ["target", "outcome"])
target_call_duration = Histogram(
    "hub_target_call_duration_seconds",
    "A target's own response time per call (a delivery batch or a query), by outcome",
    ["target", "outcome"],
    buckets=CALL_BUCKETS,
)
retry_attempts = Counter(
    "hub_retry_attempts_total",
    "Records sent to a target again after an earlier failed attempt, by the call's outcome",
    ["target", "outcome"],
)
circuit_state = Gauge(
    "hub_target_circuit_state", "Circuit breaker per target: 0 closed, 1 half-open, 2 open", ["target"]
)
circuit_opened = Counter("hub_target_circuit_opened_total", "Times the circuit to a target opened", ["target"])
retries_scheduled = Counter(
    "hub_retries_scheduled_total", "Messages sent back to the broker for a delayed retry", ["target", "delay"]
)
replays = Counter("hub_replays_total", "Failed messages replayed by operators", ["target"])
failed_stored = Counter(
    "hub_failed_stored_total", "Messages put into the failed-message store", ["target", "error_class"]
)
deduplicated = Counter(
    "hub_deduplicated_total", "Redelivered messages the hub had already delivered, not sent again", ["target"]
)
delivered_without_row = Counter(
    "hub_delivered_without_row_total",
    "Records a target confirmed that the status store holds no row for: their load was refused after its "
    "publish reached the broker; counted delivered only if the partner's resend gives them a receipt",
    ["target"],
)
query_duration = Histogram(
    "hub_query_duration_seconds",
    "Per-person queries, from the request to the answer (or the Fault)",
    ["flow", "source", "target", "type", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
query_late_replies = Counter("hub_query_late_replies_total", "Answers that came after their caller's deadline")
query_expired = Counter(
    "hub_query_expired_total", "Queries whose caller had stopped waiting before a worker took them", ["target"]
)
build_info = Info("hub_build", "The running hub's version")
build_info.info({"version": __version__, "python": platform.python_version()})
