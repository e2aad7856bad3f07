"""The recommendation service: storage now, the HTTP API on top of it."""
