"""Resident identity numbers per GB 11643-1999 (18 digits, ISO 7064 MOD 11-2 check character).

Numbers are built vectorised from an area code, a birth date and a sequence number whose parity
encodes the sex (odd = male). This module must never emit an invalid or duplicate number for the
population; deliberately broken numbers are produced only by ``jingzhun.synthetic.messy``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from jingzhun.synthetic.unique import draw_unique

WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK_CHARS = "10X98765432"
_CHECK_SERIES = pl.Series(list(CHECK_CHARS), dtype=pl.Utf8)


def _yyyymmdd(days: np.ndarray) -> np.ndarray:
    """datetime64[D] -> int yyyymmdd."""
    years = days.astype("datetime64[Y]")
    months = days.astype("datetime64[M]")
    y = years.astype(np.int64) + 1970
    m = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
    d = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    return y * 10000 + m * 100 + d


def id_bodies(area: np.ndarray, birth: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """The first 17 digits as one int64: area(6) + yyyymmdd(8) + sequence(3)."""
    return area.astype(np.int64) * 10**11 + _yyyymmdd(birth) * 1000 + seq


def unique_bodies(
    rng: np.random.Generator,
    area: np.ndarray,
    birth: np.ndarray,
    male: np.ndarray,
    taken: np.ndarray | None = None,
) -> np.ndarray:
    """Draw sequence numbers so that all bodies are unique (and not in ``taken``).

    Only the sequence is redrawn on a clash, so area, birth date and sex stay as sampled.
    """
    without_sequence = id_bodies(area, birth, np.zeros(area.size, dtype=np.int64))

    def draw(positions: np.ndarray) -> np.ndarray:
        # Sequence 001..999; the last digit is odd for men and even for women.
        return without_sequence[positions] + 2 * rng.integers(1, 500, size=positions.size) + male[positions]

    return draw_unique(draw, area.size, taken)


def id_numbers(bodies: np.ndarray) -> pl.Series:
    weighted = np.zeros(bodies.size, dtype=np.int64)
    rest = bodies.copy()
    # Peel digits from the right; a 2-D digit matrix would cost 17x the memory at 10M rows.
    for weight in WEIGHTS[::-1]:
        weighted += (rest % 10) * weight
        rest //= 10
    check = weighted % 11
    return pl.Series(bodies).cast(pl.Utf8) + _CHECK_SERIES.gather(check)
