"""What the hub keeps outside the broker: receipts and the status of every accepted record."""
