"""Loopback emulators of the platforms and AI services, following their documented protocols."""
