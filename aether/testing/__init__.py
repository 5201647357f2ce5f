"""Helpers for testing code built on Aether, and suites to check your own plug-ins."""
