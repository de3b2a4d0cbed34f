"""The broker as one object (`Broker`: RabbitMQ or the embedded one, with what each can do), and the
pieces the hub uses on it: topology, publisher, delayer, the one consumer loop, reply queues, the
codec that seals what travels, and the hub's headers."""
