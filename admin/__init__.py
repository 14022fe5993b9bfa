"""Operator and cashier HTTP API under `/admin/api/v1`."""
