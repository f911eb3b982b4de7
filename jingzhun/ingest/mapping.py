"""Header mapping: which standard field a column of an export means, per source (`jingzhun/rules/mappings.yaml`)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from jingzhun.core import rules
from jingzhun.core.errors import UserError

SOURCES = ("checkpoint", "hotline", "health")
# What people call the sources, in every file and report they read.
SOURCE_NAMES = {"checkpoint": "道口登记", "hotline": "12345工单", "health": "健康云申报"}
# Fields through which a record can be tied to a person or a house; a file with none of them is unusable.
IDENTIFYING_FIELDS = ("name", "id_number", "phone", "address")


# Python's \s is exactly str.isspace(); ＊ and ： are gone after NFKC but kept in case a caller skips it.
_HEADER_NOISE = re.compile(r"[\s*＊:：]+")


def header_key(header: object) -> str:
    """Headers as people type them: full-width, padded, starred as required (`*姓名`)."""
    # Ingest asks this of every filled cell (is the row a repeated header?): keep it cheap.
    return _HEADER_NOISE.sub("", unicodedata.normalize("NFKC", str(header or "")))


@dataclass(frozen=True)
class HeaderMapping:
    aliases: dict[str, dict[str, str]]  # source -> header key -> field
    fields: dict[str, tuple[str, ...]]  # source -> standard fields in declared order
    standard_headers: dict[str, dict[str, str]]  # source -> field -> standard (Chinese) header

    @classmethod
    def load(cls, override: Path | None = None) -> HeaderMapping:
        declared = {
            source: {f: list(h) for f, h in fields.items()}
            for source, fields in rules.load("mappings")["sources"].items()
        }
        if override is not None:
            for source, fields in _read_override(override).items():
                for field, headers in fields.items():
                    known = declared.setdefault(source, {}).setdefault(field, [])
                    known.extend(h for h in headers if h not in known)
        return cls(
            aliases={s: {header_key(h): f for f, hs in fs.items() for h in hs} for s, fs in declared.items()},
            fields={s: tuple(fs) for s, fs in declared.items()},
            standard_headers={s: {f: hs[0] for f, hs in fs.items()} for s, fs in declared.items()},
        )

    def field_of(self, source: str, header: object) -> str | None:
        return self.aliases[source].get(header_key(header))

    def all_fields(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for source in SOURCES:
            seen.update(dict.fromkeys(self.fields[source]))
        return tuple(seen)


def _read_override(path: Path) -> dict[str, dict[str, list[str]]]:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise UserError(f"cannot read mapping file {path}: {error} (表头映射文件无法读取)") from error
    # The whole file may be the `sources:` mapping itself; anything else (a list, a number) is not a mapping.
    sources = (content.get("sources", content) if isinstance(content, dict) else content) or {}
    if not isinstance(sources, dict) or not all(
        s in SOURCES and isinstance(fs, dict) and all(isinstance(h, list) for h in fs.values())
        for s, fs in sources.items()
    ):
        raise UserError(
            f"mapping file {path} must map a source ({', '.join(SOURCES)}) to fields and lists of headers, "
            "as jingzhun/rules/mappings.yaml does (表头映射文件格式不对：应为 来源 → 字段 → 表头列表)"
        )
    return {s: {f: [str(h) for h in hs] for f, hs in fs.items()} for s, fs in sources.items()}
