"""One hub process: the gateway, the delivery workers, or both (`hub serve --role`), on the parts
`build` made; the demo runs the same with simulators around it."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping

from prometheus_client import REGISTRY
from starlette.applications import Starlette

from hub import logs
from hub.broker.broker import Publisher
from hub.broker.consumer import BatchHandler, ConsumerLoop
from hub.broker.replies import ReplyListener
from hub.delivery.circuit import CircuitBreaker
from hub.delivery.deadletter import DeadLetterMover
from hub.delivery.query_worker import QueryWorker
from hub.delivery.worker import DeliveryWorker
from hub.errors import BrokerUnavailable
from hub.gateway.app import Gateway, Readiness, operations_routes
from hub.gateway.pool import ReceptionPool
from hub.gateway.queries import QueryDesk
from hub.http_server import ServerThread
from hub.operations.failed_messages import FailedMessages
from hub.operations.observe import HubCollector
from hub.operations.series import LabelSpace, Role, start_at_zero
from hub.runtime.components import build, standalone_reception
from hub.runtime.housekeeping import Housekeeping
from hub.runtime.supervisor import Supervisor
from hub.settings import Settings
from hub.systems import DeliveryTarget, QueryTarget, SystemAdapter, TargetSettings, discover

log = logging.getLogger(__name__)


class Hub:
    def __init__(self, settings: Settings, systems: Mapping[str, SystemAdapter] | None = None) -> None:
        self.parts = parts = build(settings, systems)
        self.settings, self.systems = settings, parts.systems
        self.router, self.access, self.topology, self.broker = parts.router, parts.access, parts.topology, parts.broker
        self.signer = parts.signer
        self.db, self.codec, self.store, self.failed = parts.db, parts.codec, parts.store, parts.failed
        self.audit, self.message_log, self.pseudonymize = parts.audit, parts.message_log, parts.pseudonymizer
        self.publisher: Publisher = self.broker.publisher(self.topology)
        self.delayer = self.broker.delayer(self.publisher, self.topology)
        every_target = sorted({*self.router.targets, *self.router.query_targets})
        self.breakers = {t: CircuitBreaker(t, self.router.breaker_for(t)) for t in every_target}
        self.replies = ReplyListener(self.broker, settings.broker_prefix)
        self.housekeeping = Housekeeping(parts)
        self.supervisor = Supervisor()
        self.consumers: list[ConsumerLoop] = []
        self._http: ServerThread | None = None
        self._console: ServerThread | None = None
        self._pool: ReceptionPool | None = None
        self._topology_declared = False
        self._collector: HubCollector | None = None
        self.label_space = LabelSpace.of(self.router, self.access, self.systems)

    def start(self, *, gateway: bool = True, workers: bool = True) -> Hub:
        self.broker.declare(self.topology)
        self._topology_declared = True
        self.publisher.start(timeout=30)
        roles: list[Role] = ["gateway"] * gateway + ["worker"] * workers
        start_at_zero(self.label_space, roles)
        if workers:
            self._start_workers()
        if gateway:
            self._start_loop(self.replies.loop)
            self.housekeeping.start(self.supervisor)
            self._start_pool()
        self._collector = HubCollector(
            broker_connected=lambda: self.publisher.connected,
            consumers=lambda: (sum(c.connected.is_set() for c in self.consumers), len(self.consumers)),
            stores=(self.store, self.failed) if gateway else None,
            space=self.label_space,
        )
        REGISTRY.register(self._collector)
        app = self.gateway().app() if gateway else Starlette(routes=operations_routes(self.readiness))
        self._http = ServerThread(app, self.settings.http_host, self.settings.http_port, name="http").start()
        log.info("listening", extra={"url": self._http.url, "gateway": gateway})
        if gateway and self.settings.admin_port is not None:
            self._start_console()
        return self

    def _start_pool(self) -> None:
        settings = self.settings
        if not settings.gateway_processes:
            return
        if self.systems != discover():
            raise ValueError("the gateway's processes prepare for the discovered adapters only")
        if ":memory:" in settings.store_url:
            raise ValueError("the gateway's processes share the store: it cannot be an in-memory database")
        self._pool = ReceptionPool(
            settings.gateway_processes,
            functools.partial(standalone_reception, settings),
            functools.partial(logs.configure, settings.log_level, settings.log_format, self.pseudonymize.scrub),
        )
        self.supervisor.on_stop(self._pool.close)

    def _start_console(self) -> None:
        """The operators' console on the admin listener, apart from the partners' port; its replay jobs
        run in this process, and unfinished ones left by a process that stopped are taken up. (Imported
        here: the console's pages use the runtime's parts.)"""
        from hub.console.app import console_app
        from hub.console.replays import ReplayJobs
        from hub.operations.admin import AdminApi

        settings = self.settings
        service = self.operators()
        jobs = ReplayJobs(self.db, service).start()
        self.supervisor.on_stop(jobs.stop)
        app = console_app(self.parts, service, jobs=jobs, api_routes=AdminApi(service).routes())
        self._console = ServerThread(app, settings.admin_host, settings.admin_port or 0, name="console").start()
        log.info("console listening", extra={"url": self._console.url})

    @property
    def console_url(self) -> str | None:
        """Base URL of the console (admin listener), None where it is off."""
        return None if self._console is None else self._console.url

    @property
    def gateway_url(self) -> str:
        """Base URL of this process's HTTP server (SOAP only when it runs the gateway)."""
        if self._http is None:
            raise RuntimeError("the hub is not running")
        return self._http.url

    def gateway(self) -> Gateway:
        settings = self.settings
        return Gateway(
            systems=self.systems,
            reception=self.parts.reception(),
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
        )

    def operators(self) -> FailedMessages:
        return self.parts.operators(self.publisher)

    def purge(self) -> dict[str, int]:
        return self.housekeeping.purge()

    def readiness(self) -> Readiness:
        checks = {"topology_declared": self._topology_declared, "broker_connected": self.publisher.connected}
        if self.consumers:
            checks["workers_connected"] = all(c.connected.is_set() for c in self.consumers)
        circuits = {target: breaker.state.name.lower() for target, breaker in self.breakers.items()}
        return {"checks": checks, "circuits": circuits}

    def _target_settings(self, name: str) -> TargetSettings:
        settings = self.settings
        endpoint = settings.endpoints.get(name) or self.systems[name].default_endpoint
        if not endpoint:
            raise ValueError(f"no endpoint for {name}: set HUB_ENDPOINTS__{name.upper()}")
        return TargetSettings(
            endpoint,
            settings.target_timeout_seconds,
            settings.schemas_dir,
            self.signer,
        )

    def _delivery_target(self, name: str) -> DeliveryTarget:
        make = self.systems[name].delivery_target
        assert make is not None, "the routes name only systems the hub can deliver to"
        return make(self._target_settings(name))

    def _query_target(self, name: str) -> QueryTarget:
        make = self.systems[name].query_target
        assert make is not None, "the routes name only systems the hub can ask"
        return make(self._target_settings(name))

    def _start_workers(self) -> None:
        settings = self.settings
        for target_name in self.router.targets:
            for number in range(settings.workers_per_target):
                target = self._delivery_target(target_name)
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
                    stop=self.supervisor.stopping,
                    batch_size=settings.delivery_batch_size,
                )
                self._consume(
                    self.topology.delivery_queue(target_name),
                    worker.handle,
                    f"worker-{target_name}-{number}",
                    pause=worker.pause_seconds,
                    closing=target.close,
                )
        for target_name in self.router.query_targets:
            target = self._query_target(target_name)
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
                closing=target.close,
                batch_size=1,
                flush_seconds=0.002,
            )
            self.supervisor.on_stop(asker.close)
        mover = DeadLetterMover(self.failed, self.message_log, self.settings.broker_prefix, self.codec)
        self._consume(self.topology.dead_queue, mover.handle, "dead-letters")

    def _consume(
        self,
        queue: str,
        handler: BatchHandler,
        name: str,
        *,
        pause: Callable[[], float] | None = None,
        closing: Callable[[], None] | None = None,
        batch_size: int | None = None,
        flush_seconds: float | None = None,
    ) -> None:
        settings = self.settings
        loop = ConsumerLoop(
            self.broker,
            queue,
            handler,
            prefetch=settings.prefetch_count,
            batch_size=batch_size or settings.delivery_batch_size,
            flush_seconds=flush_seconds or settings.delivery_flush_seconds,
            name=name,
            **({"pause": pause} if pause else {}),
        )
        if closing is not None:
            self.supervisor.on_stop(closing)
        self._start_loop(loop)

    def _start_loop(self, loop: ConsumerLoop) -> None:
        self.consumers.append(loop)
        self.supervisor.run(loop.name, loop.run)

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
        if self._console is not None:
            self._console.stop()
            self._console = None
        self.supervisor.stop()
        self.audit.checkpoint_if_moved()  # the entries since the last checkpoint, witnessed before leaving
        self.delayer.close()
        self.publisher.close()
        self.parts.close()
