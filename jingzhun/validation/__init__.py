"""Validation: the expectations of `jingzhun/rules/expectations.yaml`, run with Great Expectations on each source.

Validation measures and reports; it never changes or removes a record (quarantine is decided in cleansing).
"""
