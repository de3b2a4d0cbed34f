"""The operators' web console: failed messages, replays, the audit trail, behind a login, on the admin
listener (HUB_ADMIN_PORT), never on the partners' SOAP port."""
