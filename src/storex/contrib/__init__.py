"""Integrations of StoreX with other frameworks."""
