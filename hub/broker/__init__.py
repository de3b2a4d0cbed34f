"""RabbitMQ (or the embedded in-memory broker) behind three small pieces: topology, publisher, consumer."""
