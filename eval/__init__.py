"""Eval data for `qa eval`; `python -m eval` runs the suite from the project root."""
