"""Names and declarations of every exchange and queue the hub uses.

Declared by the hub at start on both transports, so the embedded broker and RabbitMQ route
alike. On RabbitMQ every queue is a durable quorum queue:

- `<p>.deliver.<target>`: messages waiting for a target. A message delivered more than
  `delivery_limit` times without an ack (a worker that keeps crashing on it) is dead-lettered.
- `<p>.retry.<delay>`: messages waiting out a retry delay, one queue per distinct delay shared by
  every target, fed by a fanout exchange of the same name. A message is published there with its
  target as routing key; when the delay (the queue's message TTL) has passed, RabbitMQ dead-letters
  it to `<p>.deliver` with that same key (the queue sets no dead-letter routing key), so it returns
  to its own target's queue. A new target adds no delay queue, only a new delay does.
- `<p>.dead`: dead-lettered messages, which the hub moves into the failed-message store.
- `<p>.query.<target>`: per-person queries waiting for a target's query worker; each carries an
  expiration, so the broker drops a query its caller stopped waiting for. Answers go to the asking
  gateway's own exclusive reply queue.

Dead-lettering is at-least-once (quorum queues, `overflow: reject-publish`), so no message is
lost between queues. The embedded broker declares the same names without these arguments (it has
no dead-lettering: see `hub.broker.broker.Capabilities`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kombu import Exchange, Queue

DEAD_KEY = "dead"


@dataclass(frozen=True)
class Topology:
    prefix: str
    targets: tuple[str, ...]
    delays: Mapping[str, tuple[float, ...]] = field(default_factory=dict)  # per target, seconds
    delivery_limit: int = 5
    query_targets: tuple[str, ...] = ()

    @property
    def delivery_exchange(self) -> str:
        return f"{self.prefix}.deliver"

    @property
    def dead_exchange(self) -> str:
        return f"{self.prefix}.dead"

    @property
    def query_exchange(self) -> str:
        return f"{self.prefix}.query"

    def query_queue(self, target: str) -> str:
        return f"{self.prefix}.query.{target}"

    def delivery_queue(self, target: str) -> str:
        return f"{self.prefix}.deliver.{target}"

    @property
    def retry_delays(self) -> tuple[float, ...]:
        """The distinct delays of every target's routes: one delay queue each, whichever targets use it."""
        return tuple(sorted({d for target in self.targets for d in self.delays.get(target, ())}))

    def retry_exchange(self, delay: float) -> str:
        """A fanout exchange per delay: the routing key (the target) passes through untouched."""
        return f"{self.prefix}.retry.{delay_queue_suffix(delay)}"

    def retry_queue(self, delay: float) -> str:
        return f"{self.prefix}.retry.{delay_queue_suffix(delay)}"

    @property
    def dead_queue(self) -> str:
        return f"{self.prefix}.dead"

    def queues(self, *, quorum: bool) -> list[Queue]:
        """Every queue with its exchange and binding; `quorum`: RabbitMQ's arguments (quorum queues,
        delivery limit, dead-lettering), which the embedded broker has no use for."""

        def arguments(**extra: object) -> dict[str, object]:
            if not quorum:
                return {}
            return {"x-queue-type": "quorum", **extra}

        at_least_once = {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
        deliver = Exchange(self.delivery_exchange, type="direct", durable=True)
        dead = Exchange(self.dead_exchange, type="direct", durable=True)
        queues = []
        for target in self.targets:
            queues.append(
                Queue(
                    self.delivery_queue(target),
                    deliver,
                    routing_key=target,
                    durable=True,
                    queue_arguments=arguments(
                        **{
                            "x-delivery-limit": self.delivery_limit,
                            "x-dead-letter-exchange": self.dead_exchange,
                            "x-dead-letter-routing-key": DEAD_KEY,
                        },
                        **at_least_once,
                    ),
                )
            )
        for delay in self.retry_delays:
            queues.append(
                Queue(
                    self.retry_queue(delay),
                    Exchange(self.retry_exchange(delay), type="fanout", durable=True),
                    durable=True,
                    queue_arguments=arguments(
                        **{"x-message-ttl": round(delay * 1000), "x-dead-letter-exchange": self.delivery_exchange},
                        **at_least_once,
                    ),
                )
            )
        queues.append(Queue(self.dead_queue, dead, routing_key=DEAD_KEY, durable=True, queue_arguments=arguments()))
        query = Exchange(self.query_exchange, type="direct", durable=True)
        for target in self.query_targets:
            queues.append(
                Queue(self.query_queue(target), query, routing_key=target, durable=True, queue_arguments=arguments())
            )
        return queues

    def bound_routes(self) -> set[tuple[str, str]]:
        """(exchange, routing key) pairs that reach a queue; the in-memory publisher checks against them."""
        routes = {(self.delivery_exchange, target) for target in self.targets}
        routes |= {(self.retry_exchange(delay), target) for delay in self.retry_delays for target in self.targets}
        routes.add((self.dead_exchange, DEAD_KEY))
        routes |= {(self.query_exchange, target) for target in self.query_targets}
        return routes

    def all_queue_names(self) -> list[str]:
        names = [self.delivery_queue(t) for t in self.targets]
        names += [self.retry_queue(d) for d in self.retry_delays]
        names += [self.query_queue(t) for t in self.query_targets]
        return [*names, self.dead_queue]

    @property
    def exchanges(self) -> tuple[str, ...]:
        retry = tuple(self.retry_exchange(d) for d in self.retry_delays)
        return (self.delivery_exchange, *retry, self.dead_exchange, self.query_exchange)


def delay_queue_suffix(seconds: float) -> str:
    """Queue name part for a delay: 5s, 2m, 1h, 250ms."""
    ms = round(seconds * 1000)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
