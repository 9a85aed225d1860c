"""Platform adapters: one interface (base.py), one HTTP factory (http.py), one registry."""

from .registry import get_adapter

__all__ = ["get_adapter"]
