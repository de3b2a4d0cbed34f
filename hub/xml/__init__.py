"""Hardened XML parsing and XSD validation with errors that name the field and the rule."""
