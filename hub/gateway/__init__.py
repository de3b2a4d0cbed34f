"""The inbound SOAP gateway: partners' SOAP over HTTP in, confirmed broker messages out."""
