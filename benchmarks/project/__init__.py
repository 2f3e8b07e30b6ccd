"""A small Django project that `python -m benchmarks.throughput` runs as a user would.

``python -m django runshareconsumers --settings benchmarks.project.settings`` with the run
described in the ``BENCH_RUN`` environment variable (see consumers.py).
"""
