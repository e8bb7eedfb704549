"""Fixtures of the dashboard's page tests (defined in dashboard_support)."""

from dashboard_support import client, filled

__all__ = ["client", "filled"]
