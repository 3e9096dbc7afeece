"""Importable helpers for the tests (conftest.py only declares fixtures and hooks)."""
