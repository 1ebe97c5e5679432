"""Shared fixtures. The simulated-region fixture lives in sim/testing.py."""
