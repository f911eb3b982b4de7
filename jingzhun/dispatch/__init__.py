"""Dispatch: the files people open — one work list per subdistrict, the review queue and the quarantine.

Every file is written through `jingzhun.dispatch.files`, which neutralizes cell values that Excel or WPS would execute
and writes the same rows as `.xlsx` and UTF-8-with-BOM `.csv`. A subdistrict's files hold its rows only.
"""
