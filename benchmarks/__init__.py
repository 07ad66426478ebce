"""Benchmarks behind BENCHMARKS.md: `python3 -m invoke bench` (or `--quick` for a smoke run).

Every figure that decides a target is a ratio of two things measured side by side in the same
run, so a busy machine slows both sides alike. Nothing here asserts timings; the smoke test
(tests/test_benchmarks_smoke.py) only keeps the code paths working.
"""
