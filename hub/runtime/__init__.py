"""The hub assembled: `build(settings)` makes its parts, `Hub` runs them as one process."""

from hub.runtime.components import AuditKeyMissing, Components, SignatureConfigError, build
from hub.runtime.hub import Hub

__all__ = ["AuditKeyMissing", "Components", "Hub", "SignatureConfigError", "build"]
