"""Assembles the hub from settings: topology, publisher, stores, gateway, delivery workers.

`hub serve` and `hub demo` both run this; the demo adds simulators around it.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping

from prometheus_client import REGISTRY
from starlette.applications import Starlette

from hub import logs, metrics
from hub.broker.broker import Publisher, open_broker
from hub.broker.codec import BrokerCodec
from hub.broker.consumer import BatchHandler, ConsumerLoop
from hub.broker.replies import ReplyListener
from hub.broker.topology import Topology
from hub.delivery.circuit import CircuitBreaker
from hub.delivery.deadletter import DeadLetterMover
from hub.delivery.query_worker import QueryWorker
from hub.delivery.worker import DeliveryWorker
from hub.envelope import utcnow
from hub.errors import BrokerUnavailable
from hub.gateway.app import Gateway, Readiness, operations_routes
from hub.gateway.ingest import Ingest
from hub.gateway.pool import PreparePool
from hub.gateway.queries import QueryDesk
from hub.gateway.reception import Reception
from hub.http_server import ServerThread
from hub.keys import read_or_create_key
from hub.operations.admin import AdminApi
from hub.operations.failed_messages import FailedMessages
from hub.operations.observe import HubCollector
from hub.pseudonym import Pseudonymizer
from hub.rules.access import AccessTable, load_rules
from hub.rules.routing import Router
from hub.settings import Settings
from hub.soap.signature import SignatureVerifier, Signer, TrustedCertificates
from hub.store.audit import AuditLog
from hub.store.crypto import Sealer
from hub.store.db import Database
from hub.store.failed import FailedStore
from hub.store.message_ids import UsedMessageIds
from hub.store.message_log import MessageLog
from hub.store.status import StatusStore
from hub.systems import SystemAdapter, Target, TargetSettings, discover
from hub.xml.parser import HardenedParser
from hub.xml.schema import Schema

log = logging.getLogger(__name__)


class SignatureConfigError(ValueError):
    pass


def load_signatures(
    settings: Settings, systems: Mapping[str, SystemAdapter]
) -> tuple[Signer | None, SignatureVerifier | None]:
    """The hub's own signer and the verifier of partners' signatures; neither when signatures are off."""
    if settings.signatures == "off":
        log.warning("signatures are off: any caller may claim to be any system; only for closed test networks")
        return None, None
    try:
        key = (
            settings.signing_key.get_secret_value().encode()
            if settings.signing_key
            else settings.signing_key_file.read_bytes()
        )
        signer = Signer.from_pem(key, settings.signing_cert_file.read_bytes())
    except (OSError, ValueError) as exc:
        raise SignatureConfigError(
            f"the hub's signing key or certificate cannot be read ({exc}): set HUB_SIGNING_KEY (or "
            "HUB_SIGNING_KEY_FILE) and HUB_SIGNING_CERT_FILE; `hub pki dev` makes development ones"
        ) from None
    callers = sorted(name for name, system in systems.items() if system.calls_hub)
    trusted = TrustedCertificates.from_dir(settings.partner_certs_dir, callers)
    for name in sorted(set(callers) - trusted.systems()):
        log.warning(
            "no certificate for a partner: every request from it is refused",
            extra={"system": name, "partner_certs_dir": str(settings.partner_certs_dir)},
        )
    return signer, SignatureVerifier(trusted, max_age_seconds=settings.signature_max_age_seconds)


def build_ingest(
    settings: Settings,
    systems: Mapping[str, SystemAdapter],
    router: Router,
    access: AccessTable,
    topology: Topology,
    codec: BrokerCodec,
    verifier: SignatureVerifier | None = None,
) -> Ingest:
    """The gateway's pipeline without its HTTP server: also what contract checks run."""
    schemas = {
        name: Schema(system.schema_dir(settings.schemas_dir) / system.xsd)
        for name, system in systems.items()
        if (system.operations or system.services) and system.xsd
    }
    return Ingest(
        systems=systems,
        schemas=schemas,
        header_schema=Schema(settings.schemas_dir / "hub" / "viss-header-v1.xsd"),
        parser=HardenedParser(
            max_bytes=settings.max_request_bytes,
            max_depth=settings.xml_max_depth,
            max_attributes=settings.xml_max_attributes,
            max_namespaces_per_element=settings.xml_max_namespaces_per_element,
            max_namespaces=settings.xml_max_namespaces,
        ),
        router=router,
        access=access,
        topology=topology,
        max_records=settings.max_batch_records,
        verifier=verifier,
        codec=codec,
        cpu_seconds=settings.request_cpu_seconds,
    )


def standalone_reception(settings: Settings) -> Reception:
    """The gateway's way in from its settings alone: what each process of the gateway's pool builds."""
    systems = discover()
    router, access = load_rules(settings, systems)
    signer, verifier = load_signatures(settings, systems)
    db = open_database(settings)
    codec = BrokerCodec(db.sealer)
    ingest = build_ingest(settings, systems, router, access, build_topology(settings, router), codec, verifier)
    return Reception(ingest, StatusStore(db), UsedMessageIds(db), signer)


def build_topology(settings: Settings, router: Router) -> Topology:
    return Topology(
        settings.broker_prefix,
        router.targets,
        {target: router.delays_for(target) for target in router.targets},
        settings.delivery_limit,
        router.query_targets,
    )


def open_pseudonymizer(settings: Settings) -> Pseudonymizer:
    key = settings.pseudonym_key.get_secret_value() if settings.pseudonym_key else None
    return Pseudonymizer.from_config(key, settings.pseudonym_key_file)


def open_database(settings: Settings) -> Database:
    keys = settings.store_keys.get_secret_value() if settings.store_keys else None
    sealer = Sealer.from_config(keys, settings.store_key_file)
    return Database(settings.store_url, sealer, open_pseudonymizer(settings).scrub)


class AuditKeyMissing(LookupError):
    pass


def open_audit(settings: Settings, db: Database, *, create_key: bool = True) -> AuditLog:
    """The audit trail with its key and checkpoint file. `create_key=False` is for checking: a key made
    up then would make every entry and checkpoint look forged."""
    if settings.audit_key:
        key = settings.audit_key.get_secret_value().encode()
    elif create_key or settings.audit_key_file.exists():
        key = read_or_create_key(settings.audit_key_file, lambda: secrets.token_hex(32).encode()).strip()
    else:
        raise AuditKeyMissing(
            f"no audit key: set HUB_AUDIT_KEY, or HUB_AUDIT_KEY_FILE to the hub's key file "
            f"({settings.audit_key_file} does not exist)"
        )
    return AuditLog(
        db,
        key,
        checkpoint_file=settings.audit_checkpoint_file,
        checkpoint_every=settings.audit_checkpoint_entries,
    )


class Hub:
    def __init__(self, settings: Settings, systems: Mapping[str, SystemAdapter] | None = None) -> None:
        self.settings = settings
        self.systems = dict(systems or discover())
        self.router, self.access = load_rules(settings, self.systems)
        self.signer, self.verifier = load_signatures(settings, self.systems)
        self.topology = build_topology(settings, self.router)
        self.db = open_database(settings)
        self.codec = BrokerCodec(self.db.sealer)
        self.store = StatusStore(self.db)
        self.failed = FailedStore(self.db)
        self.audit = open_audit(settings, self.db)
        self.message_log = MessageLog(self.db)
        self.used_message_ids = UsedMessageIds(self.db)
        self.broker = open_broker(settings.broker_url)
        self.publisher: Publisher = self.broker.publisher(self.topology)
        self.delayer = self.broker.delayer(self.publisher, self.topology)
        every_target = sorted({*self.router.targets, *self.router.query_targets})
        self.breakers = {t: CircuitBreaker(t, self.router.breaker_for(t)) for t in every_target}
        self.pseudonymize = open_pseudonymizer(settings)
        self.replies = ReplyListener(self.broker, settings.broker_prefix)
        self.stop_event = threading.Event()
        self.consumers: list[ConsumerLoop] = []
        self._threads: list[threading.Thread] = []
        self._closing: list[Callable[[], None]] = []
        self._http: ServerThread | None = None
        self._pool: PreparePool | None = None
        self._topology_declared = False
        self._collector: HubCollector | None = None

    def start(self, *, gateway: bool = True, workers: bool = True) -> Hub:
        self.broker.declare(self.topology)
        self._topology_declared = True
        self.publisher.start(timeout=30)
        self._count_from_zero(gateway=gateway, workers=workers)
        if workers:
            self._start_workers()
        if gateway:
            self._start_loop(self.replies.loop)
            self._start_housekeeping()
            self._start_pool()
        self._collector = HubCollector(
            broker_connected=lambda: self.publisher.connected,
            consumers=lambda: (sum(c.connected.is_set() for c in self.consumers), len(self.consumers)),
            stores=(self.store, self.failed) if gateway else None,
        )
        REGISTRY.register(self._collector)
        app = self.gateway().app() if gateway else Starlette(routes=operations_routes(self.readiness))
        self._http = ServerThread(app, self.settings.http_host, self.settings.http_port, name="http").start()
        log.info("listening", extra={"url": self._http.url, "gateway": gateway})
        return self

    def _count_from_zero(self, *, gateway: bool, workers: bool) -> None:
        """Each route's record counters and delivery latency exported at zero from the start, in the
        processes that count them: Prometheus's `increase()` and `rate()` see a series from its second
        sample on, so one born at its first burst's total counts none of it (the dashboard's records of
        the last hour, after a restart)."""
        for type_, route in self.router.routes.items():
            if route.kind != "record":
                continue
            for source in sorted(self.access.senders(type_)):
                if gateway:
                    metrics.messages_received.labels(route.flow, source, type_)
                if workers:
                    for target in route.possible_targets:
                        metrics.messages_delivered.labels(route.flow, source, target, type_)
                        metrics.delivery_latency.labels(route.flow, target, type_)

    def _start_pool(self) -> None:
        settings = self.settings
        if not settings.gateway_processes:
            return
        if self.systems != discover():
            raise ValueError("the gateway's processes prepare for the discovered adapters only")
        if ":memory:" in settings.store_url:
            raise ValueError("the gateway's processes share the store: it cannot be an in-memory database")
        self._pool = PreparePool(
            settings.gateway_processes,
            functools.partial(standalone_reception, settings),
            functools.partial(logs.configure, settings.log_level, settings.log_format, self.pseudonymize.scrub),
        )
        self._closing.append(self._pool.close)

    @property
    def gateway_url(self) -> str:
        """Base URL of this process's HTTP server (SOAP only when it runs the gateway)."""
        if self._http is None:
            raise RuntimeError("the hub is not running")
        return self._http.url

    def gateway(self) -> Gateway:
        settings = self.settings
        ingest = build_ingest(
            settings, self.systems, self.router, self.access, self.topology, self.codec, self.verifier
        )
        return Gateway(
            systems=self.systems,
            reception=Reception(ingest, self.store, self.used_message_ids, self.signer),
            publisher=self.publisher,
            signer=self.signer,
            schemas_dir=settings.schemas_dir,
            max_request_bytes=settings.max_request_bytes,
            publish_timeout=settings.publish_timeout_seconds,
            readiness=self.readiness,
            pool=self._pool,
            queries=QueryDesk(
                publisher=self.publisher,
                replies=self.replies,
                topology=self.topology,
                audit=self.audit,
                pseudonymize=self.pseudonymize,
                publish_timeout=settings.publish_timeout_seconds,
                codec=self.codec,
            ),
            admin=AdminApi(self.operators(), settings.admin_token.get_secret_value()) if settings.admin_token else None,
        )

    def operators(self) -> FailedMessages:
        return FailedMessages(self.failed, self.audit, self.message_log, self.topology, self.publisher, self.codec)

    def readiness(self) -> Readiness:
        checks = {"topology_declared": self._topology_declared, "broker_connected": self.publisher.connected}
        if self.consumers:
            checks["workers_connected"] = all(c.connected.is_set() for c in self.consumers)
        circuits = {target: breaker.state.name.lower() for target, breaker in self.breakers.items()}
        return {"checks": checks, "circuits": circuits}

    def _start_housekeeping(self) -> None:
        """In the gateway process: hourly, forget what is past its retention; every
        HUB_AUDIT_CHECKPOINT_SECONDS, checkpoint the audit chain's head when any process moved it."""

        def run() -> None:
            while True:
                self.purge()
                if self.stop_event.wait(3600):
                    return

        def checkpoint() -> None:
            while not self.stop_event.wait(self.settings.audit_checkpoint_seconds):
                self.audit.checkpoint_if_moved()

        for target, name in ((run, "housekeeping"), (checkpoint, "audit-checkpoints")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def purge(self) -> dict[str, int]:
        """Forget what is past its retention: message-log events, stored payloads, used MessageIDs."""
        now = utcnow()
        tasks = {
            "message_log_events": (self.message_log.purge, self.settings.message_log_retention_days),
            "record_payloads": (self.store.forget_payloads, self.settings.payload_retention_days),
            "failed_payloads": (self.failed.forget_payloads, self.settings.payload_retention_days),
            "used_message_ids": (self.used_message_ids.forget, 0),
        }
        removed = {}
        for name, (forget, days) in tasks.items():
            before = now - dt.timedelta(days=days)
            try:
                removed[name] = forget(before)
            except Exception as exc:
                log.warning("retention purge failed", extra={"what": name, "error": str(exc)[:200]})
                continue
            if removed[name]:
                log.info("forgotten after retention", extra={"what": name, "count": removed[name], "before": before})
        return removed

    def _target(self, name: str) -> Target:
        settings = self.settings
        system = self.systems[name]
        assert system.target is not None
        endpoint = settings.endpoints.get(name) or system.default_endpoint
        if not endpoint:
            raise ValueError(f"no endpoint for {name}: set HUB_ENDPOINTS__{name.upper()}")
        return system.target(
            TargetSettings(
                endpoint,
                settings.target_timeout_seconds,
                settings.schemas_dir,
                self.signer,
                connections=max(settings.query_concurrency, settings.workers_per_target),
            )
        )

    def _start_workers(self) -> None:
        settings = self.settings
        for target_name in self.router.targets:
            for number in range(settings.workers_per_target):
                target = self._target(target_name)
                worker = DeliveryWorker(
                    target_name=target_name,
                    target=target,
                    router=self.router,
                    breaker=self.breakers[target_name],
                    delayer=self.delayer,
                    topology=self.topology,
                    status=self.store,
                    failed=self.failed,
                    message_log=self.message_log,
                    codec=self.codec,
                    stop=self.stop_event,
                    batch_size=settings.delivery_batch_size,
                )
                self._consume(
                    self.topology.delivery_queue(target_name),
                    worker.handle,
                    f"worker-{target_name}-{number}",
                    pause=worker.pause_seconds,
                    closing=target,
                )
        for target_name in self.router.query_targets:
            target = self._target(target_name)
            asker = QueryWorker(
                target_name=target_name,
                target=target,
                publisher=self.publisher,
                breaker=self.breakers[target_name],
                concurrency=settings.query_concurrency,
                codec=self.codec,
            )
            self._consume(
                self.topology.query_queue(target_name),
                asker.handle,
                f"queries-{target_name}",
                closing=target,
                batch_size=1,
                flush_seconds=0.002,
            )
            self._closing.append(asker.close)
        mover = DeadLetterMover(self.failed, self.message_log, self.settings.broker_prefix, self.codec)
        self._consume(self.topology.dead_queue, mover.handle, "dead-letters")

    def _consume(
        self,
        queue: str,
        handler: BatchHandler,
        name: str,
        *,
        pause=None,  # type: ignore[no-untyped-def]
        closing: Target | None = None,
        batch_size: int | None = None,
        flush_seconds: float | None = None,
    ) -> None:
        settings = self.settings
        loop = self.broker.consumer(
            queue,
            handler,
            prefetch=settings.prefetch_count,
            batch_size=batch_size or settings.delivery_batch_size,
            flush_seconds=flush_seconds or settings.delivery_flush_seconds,
            name=name,
            **({"pause": pause} if pause else {}),
        )
        if closing is not None:
            self._closing.append(closing.close)
        self._start_loop(loop)

    def _start_loop(self, loop: ConsumerLoop) -> None:
        thread = threading.Thread(target=loop.run, args=(self.stop_event,), name=loop.name, daemon=True)
        self.consumers.append(loop)
        self._threads.append(thread)
        thread.start()

    def wait_until_consuming(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        for consumer in self.consumers:
            if not consumer.connected.wait(max(deadline - time.monotonic(), 0.01)):
                raise BrokerUnavailable(f"{consumer.name} is not consuming")

    def stop(self) -> None:
        if self._collector is not None:
            REGISTRY.unregister(self._collector)
            self._collector = None
        if self._http is not None:
            self._http.stop()
            self._http = None
        self.stop_event.set()
        for thread in self._threads:
            thread.join(timeout=30)
        for close in self._closing:
            close()
        self.audit.checkpoint_if_moved()  # the entries since the last checkpoint, witnessed before leaving
        self.delayer.close()
        self.publisher.close()
        self.db.close()
