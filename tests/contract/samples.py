"""The samples, for the contract tests (one definition: hub.contracts.samples)."""

from hub.contracts.samples import SCHEMAS, Sample, invalid_samples, valid_samples

__all__ = ["SCHEMAS", "Sample", "invalid_samples", "valid_samples"]
