"""Field accuracy of the address parser against human labels in the NAACL 2019 format (one `CHAR TAG` a line,
BIO tags, an empty line between addresses; Li et al., "Neural Chinese Address Parsing").

The scoring follows `shared/eval/README.md`: eleven fields, values compared after removing administrative and
number suffixes, full-width forms and Chinese numerals; an upper level (province, city, district) that the parser
infers but the text does not contain is not counted against it. The labels are read as they are: this module
never looks at what the parser would say to decide what is right.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from jingzhun.cleansing.address import chinese_numeral_to_arabic
from jingzhun.cleansing.text import normalize_text

# NAACL label → the parser's field.
LABEL_FIELDS = {
    "prov": "province",
    "city": "city",
    "district": "district",
    "town": "town",
    "road": "road",
    "roadno": "road_number",
    "poi": "community",
    "houseno": "building",
    "cellno": "unit",
    "floorno": "floor",
    "roomno": "room",
}
SCORED_FIELDS = tuple(LABEL_FIELDS.values())
INFERRED_LEVELS = ("province", "city", "district")

_SUFFIX = re.compile(
    r"(?:特别行政区|维吾尔自治区|壮族自治区|回族自治区|自治区|自治州|自治县|省|市|新区|区|县|旗|"
    r"街道办事处|街道|镇|乡|大道|大街|路|街|巷|弄|号楼|号院|号|栋|幢|座|单元|层|楼|室|房|户)$"
)
_PHASE = re.compile(r"[0-9０-９〇零一二三四五六七八九十]+期")
_CN_NUMERAL = re.compile(r"[〇零一二三四五六七八九十百千两幺]+")


@dataclass
class LabelledAddress:
    text: str
    fields: dict[str, str]  # the first span of each scored label


def read_labelled(path: Path) -> list[LabelledAddress]:
    """Addresses of a NAACL-format file, with the first span of each scored label (the text as written)."""
    out: list[LabelledAddress] = []
    chars: list[str] = []
    tags: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in [*f, "\n"]:
            parts = line.rstrip("\n").split(" ")
            if len(parts) < 2:
                if chars:
                    out.append(LabelledAddress("".join(chars), _spans(chars, tags)))
                chars, tags = [], []
                continue
            char, tag = parts[0], parts[-1]
            chars.append(" " if char == "_" else char)  # `_` marks a space the annotators kept
            tags.append(tag)
    return out


def _spans(chars: list[str], tags: list[str]) -> dict[str, str]:
    labelled = _labelled_spans(chars, tags)
    spans: dict[str, str] = {}
    for i, (label, text) in enumerate(labelled):
        field_name = LABEL_FIELDS.get(label)
        if field_name is None or field_name in spans:
            continue
        if label == "poi" and i + 1 < len(labelled):
            # The guide: "XXX小区一期" is one poi as a whole, the phase is no subpoi; the annotators often split it.
            after_label, after = labelled[i + 1]
            if after_label == "subpoi" and _PHASE.fullmatch(after):
                text += after
        spans[field_name] = text
    if "community" not in spans:
        # The parser's community is the most precise named place: the poi, or where the address names none, the
        # village or neighbourhood the guide labels `community` (社区、自然村), as in 张江村3组12号.
        village = next((text for label, text in labelled if label == "community"), None)
        if village:
            spans["community"] = village
    return spans


def _labelled_spans(chars: list[str], tags: list[str]) -> list[tuple[str, str]]:
    """(label, text) of every labelled span, in order."""
    spans: list[tuple[str, str]] = []
    current, buffer = None, []
    for char, tag in [*zip(chars, tags, strict=True), ("", "O")]:
        kind, _, label = tag.partition("-")
        label = label.lower()
        if current is not None and not (kind == "I" and label == current):
            spans.append((current, "".join(buffer).strip()))
            current, buffer = None, []
        if kind in ("B", "I") and current is None:
            current, buffer = label, [char]
        elif kind == "I":
            buffer.append(char)
    return spans


def comparable(value: str | None) -> str | None:
    """A field value as the scoring compares it: simplified, half-width, Arabic numerals, no suffix."""
    text = normalize_text(value)
    if not text:
        return None
    text = text.replace(" ", "")
    text = _CN_NUMERAL.sub(lambda m: chinese_numeral_to_arabic(m.group()) or m.group(), text)
    for _ in range(2):  # 3号楼 → 3号 → 3
        text = _SUFFIX.sub("", text) or text
    return text.upper()


@dataclass
class FieldCounts:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0

    def f1(self) -> float:
        denominator = 2 * self.true_positive + self.false_positive + self.false_negative
        return 2 * self.true_positive / denominator if denominator else 1.0

    def precision(self) -> float:
        predicted = self.true_positive + self.false_positive
        return self.true_positive / predicted if predicted else 1.0

    def recall(self) -> float:
        labelled = self.true_positive + self.false_negative
        return self.true_positive / labelled if labelled else 1.0


@dataclass
class ParsingScore:
    fields: dict[str, FieldCounts] = field(default_factory=lambda: {f: FieldCounts() for f in SCORED_FIELDS})
    addresses: int = 0

    def micro(self) -> FieldCounts:
        total = FieldCounts()
        for counts in self.fields.values():
            total.true_positive += counts.true_positive
            total.false_positive += counts.false_positive
            total.false_negative += counts.false_negative
        return total


def score_parser(addresses: Iterable[LabelledAddress], parse: Callable[[str], dict[str, str | None]]) -> ParsingScore:
    score = ParsingScore()
    for _address, got, gold in _compared(addresses, parse):
        score.addresses += 1
        for name in SCORED_FIELDS:
            counts = score.fields[name]
            if got[name] is not None and got[name] == gold[name]:
                counts.true_positive += 1
                continue
            if got[name] is not None:
                counts.false_positive += 1
            if gold[name] is not None:
                counts.false_negative += 1
    return score


def errors(
    addresses: Iterable[LabelledAddress], parse: Callable[[str], dict[str, str | None]], field_name: str
) -> Iterator[tuple[str, str | None, str | None]]:
    """(text, labelled, parsed) for every address where `field_name` is scored wrong: for development."""
    for address, got, gold in _compared(addresses, parse):
        if got[field_name] != gold[field_name]:
            yield address.text, address.fields.get(field_name), got[field_name]


def _compared(addresses: Iterable[LabelledAddress], parse: Callable[[str], dict[str, str | None]]):
    for address in addresses:
        parsed = parse(address.text)
        gold = {name: comparable(address.fields.get(name)) for name in SCORED_FIELDS}
        got = {name: comparable(parsed.get(name)) for name in SCORED_FIELDS}
        squeezed = comparable(address.text) or ""
        for level in INFERRED_LEVELS:
            # An upper level the parser infers from a lower one is right or harmless, not a false field.
            if gold[level] is None and got[level] is not None and got[level] not in squeezed:
                got[level] = None
        yield address, got, gold
