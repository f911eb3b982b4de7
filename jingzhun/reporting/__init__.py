"""Reporting: the figures of a run, the auditors' `report.html` and the `manifest.json` that reconciles it.

Every figure is computed once, in `jingzhun.reporting.figures`, and shown from there (report, console, Prefect
artifacts). Personal data never appears unmasked in a report.
"""
