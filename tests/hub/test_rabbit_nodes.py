"""RabbitMQ nodes the tests own: they take messages, keep a quorum queue's through a kill, pause like a
partitioned node, clean up in every virtual host, and leave no folder and no process behind."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue
from kombu.exceptions import OperationalError

from hub.simulation.rabbit_nodes import RabbitCluster, RabbitNode, delete_broker_objects, in_vhost
from tests.helpers.brokers import BrokerWatch, no_beam_left, started

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow, pytest.mark.rabbit_nodes]

QUORUM = {"x-queue-type": "quorum"}


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Iterator[RabbitNode]:
    """One node for the module's tests (each leaves it running): starting one takes seconds."""
    owned = started(RabbitNode(tmp_path_factory.mktemp("rabbit")))
    yield owned
    owned.remove()


def quorum_queue(name: str) -> Queue:
    return Queue(name, Exchange(""), routing_key=name, durable=True, auto_delete=False, queue_arguments=QUORUM)


def publish(url: str, queue: str, bodies: list[str], vhost: str | None = None) -> None:
    """Persistent messages into a durable quorum queue, each confirmed by the broker."""
    with Connection(in_vhost(url, vhost) if vhost else url, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for body in bodies:
            producer.publish(body, routing_key=queue, declare=[quorum_queue(queue)], delivery_mode=2, retry=True)


def consume(url: str, queue: str, count: int) -> list[str]:
    with Connection(url) as conn:
        simple = conn.SimpleQueue(quorum_queue(queue))
        bodies = []
        for _ in range(count):
            message = simple.get(timeout=10)
            bodies.append(message.payload)
            message.ack()
        simple.close()
    return bodies


def test_a_node_takes_messages_and_keeps_a_quorum_queue_through_a_kill(node: RabbitNode):
    assert node.url == f"amqp://guest:guest@127.0.0.1:{node.port}/%2F" and node.port != 5672
    assert node.name in node.ctl("status")
    limits = Path(f"/proc/{node.beam_pid()}/limits").read_text()
    assert any(line.startswith("Max open files") and str(node.open_files) in line for line in limits.splitlines())
    bodies = [f"message {i}" for i in range(50)]
    with Connection(node.url) as conn:
        quorum_queue("kept")(conn.channel()).declare()
    # RabbitMQ 3.10 keeps a new quorum queue's registration in a table it writes out within a second or
    # so; killed sooner, the node forgets the queue. A queue's messages, once confirmed, are on disk.
    time.sleep(2)
    publish(node.url, "kept", bodies)
    killed = node.beam_pid()
    node.kill()
    assert no_beam_left(node.home)
    node.restart()
    assert node.beam_pid() != killed
    assert consume(node.url, "kept", len(bodies)) == bodies


def test_a_paused_node_answers_nobody_until_resumed(node: RabbitNode):
    node.pause()
    try:
        with pytest.raises(OperationalError), Connection(node.url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    finally:
        node.resume()
    with Connection(node.url, connect_timeout=5) as conn:
        conn.ensure_connection(max_retries=3)


def test_the_watch_notices_a_broker_stopped_and_started_or_restarted(node: RabbitNode):
    assert BrokerWatch(node.url, node.ctl).broken() is None
    app_restarted = BrokerWatch(node.url, node.ctl)
    node.ctl("stop_app")
    node.ctl("start_app")
    node.ctl("await_startup")
    assert "closed every connection" in (app_restarted.broken() or "")
    vm_restarted = BrokerWatch(node.url, node.ctl)
    node.kill()
    node.start()
    assert "restarted" in (vm_restarted.broken() or "")


def test_cleanup_reaches_every_virtual_host_and_removes_the_tests_own(node: RabbitNode):
    for vhost in ("hubtest-gone-v", "other"):
        node.ctl("add_vhost", vhost)
        node.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    publish(node.url, "hubtest-gone.q", ["a"])
    publish(node.url, "keep.q", ["a"])
    publish(node.url, "hubtest-gone.q", ["a"], vhost="other")
    publish(node.url, "hubtest-gone.q", ["a"], vhost="hubtest-gone-v")
    with Connection(in_vhost(node.url, "other")) as conn:
        conn.channel().exchange_declare("hubtest-gone.x", "topic", durable=True, auto_delete=False)

    delete_broker_objects(node.url, "hubtest-gone", ctl=node.ctl)

    def names(kind: str, vhost: str) -> set[str]:
        listed = node.ctl(f"list_{kind}", "-q", "-p", vhost, "name", "--formatter", "json")
        return {row["name"] for row in json.loads(listed)}

    vhosts = {row["name"] for row in json.loads(node.ctl("list_vhosts", "-q", "name", "--formatter", "json"))}
    assert "hubtest-gone-v" not in vhosts and "other" in vhosts
    assert not {n for n in names("queues", "/") | names("queues", "other") if n.startswith("hubtest-gone")}
    assert "keep.q" in names("queues", "/")
    assert "hubtest-gone.x" not in names("exchanges", "other")
    node.ctl("delete_vhost", "other")
    node.ctl("delete_queue", "keep.q")


def test_remove_leaves_no_folder_and_no_process(tmp_path: Path):
    owned = started(RabbitNode(tmp_path, plugins=["rabbitmq_prometheus"]))
    assert owned.prometheus_port and owned.running
    owned.pause()  # the worst case: a node that answers nothing
    owned.remove()
    assert not owned.home.exists()
    assert no_beam_left(owned.home)
    names = subprocess.run(["epmd", "-names"], capture_output=True, text=True, timeout=10).stdout
    assert owned.short_name not in names


def test_a_cluster_survives_the_loss_of_its_queue_leader(tmp_path: Path):
    cluster = started(RabbitCluster(3, tmp_path))
    try:
        assert len(cluster.running_nodes()) == 3 and cluster.url == ";".join(cluster.urls)
        publish(cluster.urls[0], "replicated", ["one", "two"])
        leader = cluster.leader_of("replicated")
        leader.kill()
        survivor = next(n for n in cluster.nodes if n is not leader)
        assert consume(survivor.url, "replicated", 2) == ["one", "two"]
        assert cluster.leader_of("replicated") is not leader
        leader.start()  # a rolling restart under load: tests/integration/test_cluster_faults.py
        assert len(cluster.running_nodes()) == 3
    finally:
        cluster.remove()
    assert no_beam_left(tmp_path) and not any(tmp_path.iterdir())
