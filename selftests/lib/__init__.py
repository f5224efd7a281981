"""Shared helpers of the howlong selftests (see selftests/run.py)."""
