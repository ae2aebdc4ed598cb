"""The benchmark: our whole sync beside raw COPY, pandas + GX and dlt, in one run.

``make bench`` (``python -m bench``) runs it; `bench.run` is the harness, `bench.report` writes
``docs/BENCHMARKS.md``. This package imports nothing at import time: its dlt peer runs in a
virtualenv that has neither lienthong nor its dependencies.
"""
