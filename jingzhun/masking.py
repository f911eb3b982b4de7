"""Masking of personal data: one definition for every file and report that shows a person's fields.

Dispatch files mask the ID number only (staff need name, phone and address to do the visit); reports mask
everything. Never log or print an unmasked value outside the files meant for the subdistrict.
"""

from __future__ import annotations

import re

# House numbers and rooms in any digits (\d is every Unicode digit: full-width １５８ too) or Chinese numerals.
_NUMBERS = re.compile(r"[\d〇零一二三四五六七八九十百千两幺]")


def mask_id_number(value: str | None) -> str | None:
    """Keep the area code and the last four characters: enough to tell people apart, not to misuse."""
    if not value:
        return value
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_phone(value: str | None) -> str | None:
    if not value:
        return value
    return value[:3] + "****" + value[-4:] if len(value) >= 11 else "*" * len(value)


def mask_name(value: str | None) -> str | None:
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1) if len(value) > 1 else "*"


def mask_address(value: str | None) -> str | None:
    """House numbers and rooms are what identify a home; the road and community names are kept (a numeral in a
    name, 三林镇, is masked too: over-masking a report is the safe side)."""
    return _NUMBERS.sub("*", value) if value else value


MASKS = {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone, "address": mask_address}


def mask_record(values: dict[str, object]) -> dict[str, object]:
    """A raw record (field -> value) with every personal field masked; free text (content, extras) dropped."""
    masked: dict[str, object] = {}
    for field, value in values.items():
        if field in MASKS:
            masked[field] = MASKS[field](str(value)) if value is not None else None
        elif field not in ("content", "extras"):
            masked[field] = value
    return masked
