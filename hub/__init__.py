"""The welfare data-exchange hub: SOAP/XML at the edges, JSON on RabbitMQ inside."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("welfare-hub")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
