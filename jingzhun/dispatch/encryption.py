"""Packages that travel: a subdistrict's work list sealed as one AES-256 zip with that subdistrict's password, and
zips returned to `INBOX/feedback/` opened with the same password.

Off unless `jingzhun/rules/packages.yaml` says `encrypt: true`. The passwords live outside OUT, in the CSV file named by
the environment variable JINGZHUN_PASSWORDS (subdistrict_code,password); this module must never write one to a file
of a run, print it or log it. The cryptography is pyzipper's (WinZip AES-256, AE-2), not ours.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from jingzhun.core import rules
from jingzhun.core.errors import UserError

PASSWORDS_ENV = "JINGZHUN_PASSWORDS"
PACKAGE_SUFFIX = ".zip"
# A returned zip is read only up to this size inside: a work list is a few megabytes, not a zip bomb.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024


class PackageError(Exception):
    """A package that cannot be opened; the message says why in words staff read."""


@dataclass(frozen=True)
class Passwords:
    file: Path
    by_subdistrict: dict[str, str] = field(repr=False)  # never in a log line or a traceback's locals summary

    def for_package(self, path: Path) -> list[str]:
        """The password of the subdistrict a package's name starts with (<code>_<name>.zip); all of them when the
        name does not say (a renamed file), so that a package opens with the one password that fits."""
        code = path.name.split("_")[0]
        return [self.by_subdistrict[code]] if code in self.by_subdistrict else list(self.by_subdistrict.values())


def encryption_enabled() -> bool:
    return bool(rules.load("packages").get("encrypt", False))


def load_passwords(out: Path | None = None) -> Passwords | None:
    """The passwords file named by JINGZHUN_PASSWORDS, or None when the variable is not set. A file that cannot be
    read, lies inside OUT or has a line without a code or password is a `UserError`."""
    named = os.environ.get(PASSWORDS_ENV)
    if not named:
        return None
    path = Path(named)
    if out is not None and path.resolve().is_relative_to(Path(out).resolve()):
        raise UserError(f"密码文件不能放在输出目录中 / the passwords file {path} must be kept outside OUT ({out})")
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UserError(
            f"密码文件无法读取 / the passwords file {path} ({PASSWORDS_ENV}) cannot be read: {type(error).__name__}"
        ) from error
    passwords: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        code, password = (row.get("subdistrict_code") or "").strip(), row.get("password") or ""
        if not code or not password or code in passwords:
            raise UserError(
                f"密码文件第{line}行无效 / the passwords file {path} line {line}: needs columns "
                "subdistrict_code,password, a password and a code not named before"
            )
        passwords[code] = password
    return Passwords(path, passwords)


def require_passwords(out: Path, subdistrict_codes: Iterable[str]) -> Passwords | None:
    """When packages are encrypted: the passwords, one of `min_password_length` characters for every subdistrict
    the grid names (checked before any work); None when they are not."""
    if not encryption_enabled():
        return None
    passwords = load_passwords(out)
    if passwords is None:
        raise UserError(
            f"jingzhun/rules/packages.yaml 要求加密派单，但未设置 {PASSWORDS_ENV} / packages are to be "
            f"encrypted (jingzhun/rules/packages.yaml) but {PASSWORDS_ENV} names no passwords file"
        )
    shortest = int(rules.load("packages").get("min_password_length", 10))
    missing = sorted(c for c in set(subdistrict_codes) if len(passwords.by_subdistrict.get(c, "")) < shortest)
    if missing:
        raise UserError(
            f"以下街镇没有密码或密码短于{shortest}位 / no password of {shortest} characters or more for "
            f"subdistricts {', '.join(missing)} in {passwords.file}"
        )
    return passwords


def seal(files: list[Path], password: str, run_date: dt.date) -> Path:
    """`files` (a subdistrict's .xlsx and .csv, same stem) into `<stem>.zip`, AES-256 with `password`; the plain
    files are removed. Members are dated the run date; the zip's bytes still differ between runs (a fresh salt
    each time, as AES requires), the files inside do not."""
    import pyzipper

    package = files[0].with_suffix(PACKAGE_SUFFIX)
    with pyzipper.AESZipFile(package, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(password.encode("utf-8"))
        zf.setencryption(pyzipper.WZ_AES, nbits=256)
        for path in files:
            member = zf.zipinfo_cls(path.name, date_time=(run_date.year, run_date.month, run_date.day, 0, 0, 0))
            member.compress_type = pyzipper.ZIP_DEFLATED
            zf.writestr(member, path.read_bytes())
    for path in files:
        path.unlink()
    return package


def open_package(path: Path, passwords: Passwords | None) -> list[tuple[str, bytes]]:
    """The files in a package, (name, content), with the password of its subdistrict; `PackageError` in words when
    it cannot be opened (no password configured, the wrong one, a broken or oversized zip)."""
    import pyzipper

    broken = (pyzipper.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError, ValueError, KeyError)
    try:
        with pyzipper.AESZipFile(path) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
                raise PackageError("压缩文件解压后过大，不是派单文件")
            if not any(m.flag_bits & 0x1 for m in members):
                return [(m.filename, zf.read(m)) for m in members]
            if passwords is None:
                raise PackageError(f"文件已加密，但未配置密码文件（{PASSWORDS_ENV}）")
            for password in passwords.for_package(path):
                zf.setpassword(password.encode("utf-8"))
                try:
                    return [(m.filename, zf.read(m)) for m in members]
                except RuntimeError:  # pyzipper's word for a password that does not fit
                    continue
            raise PackageError("文件已加密，密码不对：请用本街镇的派单密码加密后重新回传")
    except broken as error:
        raise PackageError(f"压缩文件已损坏，无法打开（{type(error).__name__}）") from error
