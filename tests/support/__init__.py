"""Helpers shared by tests and benchmarks (a real GCS emulator, subprocess writers)."""
