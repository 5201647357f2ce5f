"""Aether's benchmarks: ``python -m benchmarks`` (or ``python3 dev.py bench``)."""
