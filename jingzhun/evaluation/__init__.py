"""Evaluation: the quality of a run measured against ground truth (person linkage, house and committee routing).

It reads a run's `match_results.parquet` and a truth file; it never reads the pipeline's internals, so it
measures what users get.
"""
