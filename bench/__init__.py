"""Benchmarks: `python -m bench` measures cold start, ingest, retrieval at scale, answers, memory."""
