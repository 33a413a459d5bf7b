"""Logs, metrics and request ids for the production stack."""
