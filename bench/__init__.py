"""Benchmarks: `.venv/bin/python bench/NAME.py --quick`, or `python -m bench.NAME --quick`.

See bench/common.py (sizes, how a bench finds the project) and docs/performance.md.
"""
