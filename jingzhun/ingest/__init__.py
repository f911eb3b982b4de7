"""Ingest: the three sources' exports, whatever their format, as one table of raw records.

Three sources are three header mappings over one read path. Ingest never drops a row: every data row of every
readable file becomes one record (bad ones are marked for quarantine downstream), and every file that cannot be
read at all is reported with its reason.
"""
