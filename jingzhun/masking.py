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


# Fields shown as they are in reports: they say what happened, not who it happened to. Any other field is
# masked, so that a field added to a mapping later is masked until someone decides otherwise.
NOT_PERSONAL = frozenset({"registered_at", "received_at", "declared_at", "checkpoint", "origin", "category",
                          "travel", "fever", "code_color", "ticket_id"})


def mask_record(values: dict[str, object], columns_trusted: bool = True) -> dict[str, object]:
    """A raw record (field -> value) for a report: personal fields masked, everything not known to be harmless
    masked too, free text (content, extras) dropped. When the row's cells may sit under the wrong headers (a
    ragged row, an unknown header), no name tells what a value is, so every value is masked."""
    masked: dict[str, object] = {}
    for field, value in values.items():
        if field in ("content", "extras"):
            continue
        if value is None or (columns_trusted and field in NOT_PERSONAL):
            masked[field] = value
        elif columns_trusted and field in MASKS:
            masked[field] = MASKS[field](str(value))
        else:
            masked[field] = mask_address(mask_name(str(value)))
    return masked
