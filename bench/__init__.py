"""Benchmarks: engine latency and batch throughput against a hand-written baseline."""
