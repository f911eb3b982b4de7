"""Matching: tie each standardized record to a house (and so a grid, committee and subdistrict) and a person.

Stages run cheapest first and each says how it decided (`address_method`, `person_method`) so that every
routing can be explained to the staff who act on it. Matching never changes a record's values.
"""
