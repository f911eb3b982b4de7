"""Screening: which records need a person to act, from the declarative rules in `jingzhun/rules/screening.yaml`.

Rules are compiled to DuckDB SQL conditions over standardized fields; this stage never changes a record and never
decides routing, it only says which rules fired.
"""
