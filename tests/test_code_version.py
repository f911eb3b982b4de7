"""The digest kept results are stored under changes with every input it names, and only with them."""

from __future__ import annotations

from pathlib import Path

from jingzhun.core import code_version
from jingzhun.core.code_version import code_digest


def test_the_digest_follows_the_files_contents_names_and_parts(tmp_path: Path) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n", encoding="utf-8")
    b.write_text("y = 2\n", encoding="utf-8")
    first = code_digest([a, b], "310115")
    assert code_digest([a, b], "310115") == first
    assert code_digest([a, b], "310104") != first  # another setting
    assert code_digest([a]) != code_digest([a, b])  # another file
    a.write_text("x = 2\n", encoding="utf-8")
    assert code_digest([a, b], "310115") != first  # another content
    a.write_text("x = 1\n", encoding="utf-8")
    assert code_digest([a, b], "310115") == first
    renamed = tmp_path / "c.py"
    a.rename(renamed)
    assert code_digest([renamed, b], "310115") != first  # the same content under another name


def test_the_digest_follows_the_text_libraries(monkeypatch, tmp_path: Path) -> None:
    file = tmp_path / "a.py"
    file.write_text("x = 1\n", encoding="utf-8")
    before = code_digest([file])
    real = code_version.importlib.metadata.version
    monkeypatch.setattr(
        code_version.importlib.metadata, "version", lambda name: "9.9" if name == "OpenCC" else real(name)
    )
    assert code_digest([file]) != before
