"""Benchmark scripts: run them (`make bench`, or one at a time, see README.md)."""
