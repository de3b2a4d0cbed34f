"""Contracts for partners: WSDLs generated from the adapters, and the offline contract kit."""
