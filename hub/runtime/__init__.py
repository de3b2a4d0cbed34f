"""The hub assembled: `build(settings)` makes its parts, `Hub` runs them as one process."""

from hub.runtime.components import Components, SignatureConfigError, build
from hub.runtime.hub import Hub

__all__ = ["Components", "Hub", "SignatureConfigError", "build"]
