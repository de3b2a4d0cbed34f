"""What the hub is made of, built from settings in one place: `build(settings)` for every entry point
(`hub serve` and the demo, the gateway's preparing processes, the operators' and contract commands,
the tests and the bench). Each part is made when first asked for, so `hub status` opens the database
and nothing else, and the offline contract kit touches no key file. The operators' commands build with
`create=False`: they open the hub's store and keys, and make neither where they are missing."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Mapping
from functools import cached_property

from hub.broker import Broker, open_broker
from hub.broker.broker import Publisher
from hub.broker.codec import BrokerCodec
from hub.broker.topology import Topology
from hub.errors import ConfigurationError
from hub.gateway.reader import Reader
from hub.gateway.reception import Reception
from hub.keys import read_or_create_key
from hub.operations.failed_messages import FailedMessages
from hub.pseudonym import Pseudonymizer
from hub.rules.access import AccessTable, load_rules
from hub.rules.routing import Router
from hub.settings import Settings
from hub.soap.signature import SignatureVerifier, Signer, TrustedCertificates
from hub.store.audit import AuditLog
from hub.store.crypto import Sealer
from hub.store.db import Database, create_store_engine
from hub.store.failed import FailedStore
from hub.store.message_ids import UsedMessageIds
from hub.store.message_log import MessageLog
from hub.store.status import StatusStore
from hub.systems import SystemAdapter, discover
from hub.xml.parser import HardenedParser
from hub.xml.schema import Schema

CLAIM_STAGING_SECONDS = 10.0  # staging a load after its claim, the largest on a busy host, with room

log = logging.getLogger(__name__)


class SignatureConfigError(ConfigurationError):
    pass


class Components:
    def __init__(
        self, settings: Settings, systems: Mapping[str, SystemAdapter] | None = None, *, create: bool = True
    ) -> None:
        """`create` False: the store and the key files must exist (the operators' commands): what is missing
        is refused, never made, since a new store or key would answer from nothing or seal in vain."""
        self.settings = settings
        self.systems = dict(systems or discover())
        self.create = create

    # -- configuration -------------------------------------------------------------------------

    @cached_property
    def _rules(self) -> tuple[Router, AccessTable]:
        return load_rules(self.settings, self.systems)

    @property
    def router(self) -> Router:
        return self._rules[0]

    @property
    def access(self) -> AccessTable:
        return self._rules[1]

    @cached_property
    def topology(self) -> Topology:
        router = self.router
        return Topology(
            self.settings.broker_prefix,
            router.targets,
            {target: router.delays_for(target) for target in router.targets},
            self.settings.delivery_limit,
            router.query_targets,
        )

    @cached_property
    def _signatures(self) -> tuple[Signer | None, SignatureVerifier | None]:
        """The hub's own signer and the verifier of partners' signatures; neither when signatures are off."""
        settings = self.settings
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
        callers = sorted(name for name, system in self.systems.items() if system.calls_hub)
        trusted = TrustedCertificates.from_dir(settings.partner_certs_dir, callers)
        for name in sorted(set(callers) - trusted.systems()):
            log.warning(
                "no certificate for a partner: every request from it is refused",
                extra={"system": name, "partner_certs_dir": str(settings.partner_certs_dir)},
            )
        return signer, SignatureVerifier(trusted, max_age_seconds=settings.signature_max_age_seconds)

    @property
    def signer(self) -> Signer | None:
        return self._signatures[0]

    @property
    def verifier(self) -> SignatureVerifier | None:
        return self._signatures[1]

    # -- stores --------------------------------------------------------------------------------

    @cached_property
    def pseudonymizer(self) -> Pseudonymizer:
        key = self.settings.pseudonym_key.get_secret_value() if self.settings.pseudonym_key else None
        return Pseudonymizer.from_config(key, self.settings.pseudonym_key_file, create=self.create)

    @cached_property
    def db(self) -> Database:
        settings = self.settings
        engine = create_store_engine(settings.store_url, create=self.create)  # a missing store is said before its keys
        keys = settings.store_keys.get_secret_value() if settings.store_keys else None
        sealer = Sealer.from_config(keys, settings.store_key_file, create=self.create)
        return Database(engine, sealer, self.pseudonymizer.scrub, create=self.create)

    @cached_property
    def codec(self) -> BrokerCodec:
        return BrokerCodec(self.db.sealer)

    @cached_property
    def store(self) -> StatusStore:
        return StatusStore(self.db)

    @cached_property
    def failed(self) -> FailedStore:
        return FailedStore(self.db, self.store)

    @cached_property
    def message_log(self) -> MessageLog:
        return MessageLog(self.db)

    @cached_property
    def used_message_ids(self) -> UsedMessageIds:
        return UsedMessageIds(self.db)

    @cached_property
    def audit(self) -> AuditLog:
        """The audit trail with its key and checkpoint file. Without `create`, a key is never made: one
        made up would make every entry and checkpoint look forged."""
        settings = self.settings
        db = self.db  # a missing store is said before its keys
        if settings.audit_key:
            key = settings.audit_key.get_secret_value().encode()
        else:
            key = read_or_create_key(
                settings.audit_key_file,
                lambda: secrets.token_hex(32).encode(),
                create=self.create,
                settings="HUB_AUDIT_KEY, or HUB_AUDIT_KEY_FILE to the hub's key file",
            ).strip()
        return AuditLog(
            db,
            key,
            checkpoint_file=settings.audit_checkpoint_file,
            checkpoint_every=settings.audit_checkpoint_entries,
        )

    # -- the broker and what uses the parts together ---------------------------------------------

    @cached_property
    def broker(self) -> Broker:
        return open_broker(self.settings.broker_url)

    def reader(self, *, offline: bool = False) -> Reader:
        """How the gateway reads requests. `offline`: what the contract kit checks messages with,
        which reads no signature (a partner's key is not there)."""
        settings = self.settings
        schemas = {
            name: Schema(system.schema_dir(settings.schemas_dir) / system.xsd)
            for name, system in self.systems.items()
            if (system.operations or system.services) and system.xsd
        }
        return Reader(
            systems=self.systems,
            schemas=schemas,
            header_schema=Schema(settings.schemas_dir / "hub" / "viss-header-v1.xsd"),
            parser=HardenedParser(
                max_bytes=settings.max_request_bytes,
                max_depth=settings.xml_max_depth,
                max_attributes=settings.xml_max_attributes,
                max_namespaces_per_element=settings.xml_max_namespaces_per_element,
                max_namespaces=settings.xml_max_namespaces,
            ),
            router=self.router,
            access=self.access,
            max_records=settings.max_batch_records,
            verifier=None if offline else self.verifier,
            cpu_seconds=settings.request_cpu_seconds,
        )

    def reception(self) -> Reception:
        """A request's way in up to the broker: what the gateway's threads, or each of its preparing
        processes, run."""
        # a load's claim is the holder's for as long as it may take: staging, then the broker's confirms
        stale_claim = dt.timedelta(seconds=self.settings.publish_timeout_seconds + CLAIM_STAGING_SECONDS)
        return Reception(
            self.reader(), self.store, self.used_message_ids, self.codec, self.topology, self.signer, stale_claim
        )

    def operators(self, publisher: Publisher | None) -> FailedMessages:
        """The operators' service; `publisher` None: it finds and shows, but cannot replay."""
        return FailedMessages(self.failed, self.audit, self.message_log, self.topology, publisher, self.codec)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.close()


def build(settings: Settings, systems: Mapping[str, SystemAdapter] | None = None, *, create: bool = True) -> Components:
    """The hub's parts; `create` False for commands that open the hub's store and keys and make none."""
    return Components(settings, systems, create=create)


def standalone_reception(settings: Settings) -> Reception:
    """What each process of the gateway's pool builds from the settings alone."""
    return build(settings).reception()
