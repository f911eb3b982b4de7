"""What the generator is asked to produce beyond its defaults: the day's size and the rates of the phenomena
real exports show and a generator that knows only itself would not (people away from their registered home,
sparse hotline rows, households sharing one phone, communities named after a place of China, short town names,
addresses without numbers, whole columns left empty).

Every rate defaults to 0 and the day's size to the population's usual share, which is the generator as it was
before these options: the same seed then gives byte-identical files. One field here is one `jingzhun reference
generate` option (``--away-from-home 0.4``); its help text is the field's ``help`` metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


def _rate(help_text: str) -> float:
    return field(default=0.0, metadata={"help": help_text})


@dataclass(frozen=True)
class Settings:
    day_rows: int | None = field(
        default=None,
        metadata={
            "help": "person rows of the day, whatever the population (default: one for every ten persons; at least "
            "three a source); "
            "the empty and garbage rows real exports carry come on top, about one in a hundred"
        },
    )
    away_from_home: float = _rate(
        "share of the day's residents staying at another house of the district (人户分离); their rows give "
        "that house, and the truth routes them there"
    )
    sparse_hotline: float = _rate("share of hotline rows with only a phone and an address, or 陈先生 and a phone")
    household_phones: float = _rate("share of households of two or more whose members all give one phone")
    place_name_communities: float = _rate(
        "share of communities named after a place of China from the division tables (滨江花园, 东方城市花园)"
    )
    short_town_names: float = _rate(
        "share of addresses with the town in short form before the road (浦东金桥金高路…, 浦兴路长岛路…)"
    )
    numberless_addresses: float = _rate(
        "share of addresses without any number: the community alone, or a crossing and the community "
        "(打浦路斜土路口东泰花园)"
    )
    numberless_places: float = _rate(
        "share of hotline rows about a place without a door number (宏贸路南150米, a crossing); "
        "above 0 the housing table holds such places"
    )
    empty_columns: float = _rate(
        "share of inbox files with a whole personal column empty (a hotline file without names, "
        "a health file with only addresses)"
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "day_rows" and not 0.0 <= value <= 1.0:
                raise ValueError(f"{f.name} must be a share between 0 and 1, not {value}")
        if self.day_rows is not None and self.day_rows < 1:
            raise ValueError(f"day_rows must be positive, not {self.day_rows}")
        from jingzhun.synthetic.messy import address_defects  # here, so that the command line starts without OpenCC

        address_defects(self.short_town_names, self.numberless_addresses)  # they share the addresses with others

    def rates(self) -> dict[str, float]:
        """The phenomena's rates by field name (day_rows is a size, not a rate)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "day_rows"}
