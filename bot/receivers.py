"""Signal receivers (member notifications)."""
