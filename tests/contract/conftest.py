import pytest

from hub.access import AccessTable
from hub.broker.topology import Topology
from hub.routing import Router
from hub.runtime import build_ingest
from hub.settings import Settings
from hub.systems import discover


@pytest.fixture(scope="session")
def ingest():
    """The gateway's pipeline without broker or HTTP: what the contract tests hold samples against."""
    settings = Settings()
    systems = discover()
    router = Router.load(settings.routes_file, systems)
    access = AccessTable.load(settings.access_file, systems, router)
    return build_ingest(settings, systems, router, access, Topology("contract", router.targets))
