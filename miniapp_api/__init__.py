"""The mini-program's HTTP API under `/api/v1`."""
