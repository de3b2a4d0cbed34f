"""Names and declarations of every exchange and queue the hub uses.

Declared by the hub at start on both transports, so the embedded broker and RabbitMQ route
alike; on RabbitMQ the queues are durable quorum queues.
"""

from __future__ import annotations

from dataclasses import dataclass

from kombu import Connection, Exchange, Queue

PARKED_KEY = "parked"


@dataclass(frozen=True)
class Topology:
    prefix: str
    targets: tuple[str, ...]

    @property
    def delivery_exchange(self) -> str:
        return f"{self.prefix}.deliver"

    @property
    def parked_exchange(self) -> str:
        return f"{self.prefix}.parked"

    def delivery_queue(self, target: str) -> str:
        return f"{self.prefix}.deliver.{target}"

    @property
    def parked_queue(self) -> str:
        """Messages that failed for good, with their reason, until the failed-message store takes them."""
        return f"{self.prefix}.parked"

    def queues(self, connection: Connection) -> list[Queue]:
        quorum = {"x-queue-type": "quorum"} if connection.transport.driver_type == "amqp" else {}
        deliver = Exchange(self.delivery_exchange, type="direct", durable=True)
        parked = Exchange(self.parked_exchange, type="direct", durable=True)
        queues = [
            Queue(self.delivery_queue(target), deliver, routing_key=target, durable=True, queue_arguments=quorum)
            for target in self.targets
        ]
        queues.append(Queue(self.parked_queue, parked, routing_key=PARKED_KEY, durable=True, queue_arguments=quorum))
        return queues

    def bound_routes(self) -> set[tuple[str, str]]:
        """(exchange, routing key) pairs that reach a queue; the in-memory publisher checks against them."""
        routes = {(self.delivery_exchange, target) for target in self.targets}
        routes.add((self.parked_exchange, PARKED_KEY))
        return routes

    def declare(self, connection: Connection) -> None:
        """Declare everything; raises if RabbitMQ holds a queue of the same name with other arguments."""
        channel = connection.channel()
        try:
            for queue in self.queues(connection):
                queue.bind(channel).declare()
        finally:
            channel.close()
