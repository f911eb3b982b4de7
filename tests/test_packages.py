"""Packages that travel: with `encrypt: true` in jingzhun/rules/packages.yaml each subdistrict's work list leaves as an
AES-256 zip that only its password opens, the manifest's checksums verify what is inside, and a work list
returned sealed with the same password is read back; the wrong password is an issue line, not a crash."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import shutil
import zipfile

import openpyxl
import pytest
import pyzipper

from jingzhun.core import rules
from jingzhun.core.errors import UserError
from jingzhun.core.run import Run
from jingzhun.dispatch.encryption import PASSWORDS_ENV, load_passwords
from jingzhun.feedback.returned import read_returned
from jingzhun.flows import steps
from tests.conftest import RUN_DATE


@pytest.fixture
def encrypt(monkeypatch):
    """jingzhun/rules/packages.yaml with `encrypt: true`, as an operator would set it."""
    original = rules.load

    def load(name: str):
        loaded = original(name)
        return {**loaded, "encrypt": True} if name == "packages" else loaded

    monkeypatch.setattr(rules, "load", load)


def _passwords_file(folder, codes, monkeypatch):
    """A passwords file outside OUT, named by the environment variable; one password per subdistrict."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "passwords.csv"
    passwords = {code: f"口令-{code}-Zx9" for code in codes}
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["subdistrict_code", "subdistrict_name", "password"])
        writer.writerows([code, "某街道", password] for code, password in passwords.items())
    monkeypatch.setenv(PASSWORDS_ENV, str(path))
    return passwords


def _grid_codes(district):
    with open(district / "reference" / "grid.csv", encoding="utf-8", newline="") as f:
        return sorted({row["subdistrict_code"] for row in csv.DictReader(f)})


def _unseal(path, password: str) -> dict[str, bytes]:
    with pyzipper.AESZipFile(path) as zf:
        zf.setpassword(password.encode())
        return {m.filename: zf.read(m) for m in zf.infolist()}


@pytest.fixture
def sealed(flow_run, district, tmp_path, monkeypatch, encrypt):
    """The session's day dispatched and reported again, with packages encrypted."""
    out = tmp_path / "out"
    shutil.copytree(flow_run[0].parent, out)
    passwords = _passwords_file(tmp_path / "secrets", _grid_codes(district), monkeypatch)
    run = Run(inbox=district / "inbox", reference=district / "reference", out=out, run_date=RUN_DATE)
    run.day_dir.rename(run.dir)  # steps write the day where the flow does, before it is published
    shutil.rmtree(run.dir / "dispatch")
    steps.check_inputs(run)
    steps.dispatch(run)
    steps.report(run)
    return {"run": run, "passwords": passwords, "plain": flow_run[0] / "dispatch", "tmp": tmp_path}


def test_each_subdistrict_gets_one_package_only_its_password_opens(sealed):
    folder = sealed["run"].dir / "dispatch"
    packages = sorted(folder.iterdir())
    plain = sorted(sealed["plain"].glob("*.xlsx"))
    assert [p.name for p in packages] == [p.with_suffix(".zip").name for p in plain]  # nothing left in the clear
    for package, workbook in zip(packages, plain, strict=True):
        code = package.name.split("_")[0]
        members = _unseal(package, sealed["passwords"][code])
        # Inside: the very files an unencrypted run writes, byte for byte.
        assert members == {
            workbook.name: workbook.read_bytes(),
            workbook.with_suffix(".csv").name: workbook.with_suffix(".csv").read_bytes(),
        }
        assert openpyxl.load_workbook(io.BytesIO(members[workbook.name]))["派单"].max_row > 1
        with pytest.raises(RuntimeError, match="Bad password"):
            other = next(p for c, p in sealed["passwords"].items() if c != code)
            _unseal(package, other)
        with zipfile.ZipFile(package) as zf, pytest.raises(RuntimeError):  # a plain unzip cannot read it
            zf.read(workbook.name)


def test_the_manifest_lets_a_recipient_verify_the_package_and_each_file_in_it(sealed):
    run_dir = sealed["run"].dir
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    listed = {o["path"]: o for o in manifest["outputs"] if o["path"].startswith("dispatch/")}
    assert listed and all(path.endswith(".zip") for path in listed)
    for path, entry in listed.items():
        package = run_dir / path
        assert hashlib.sha256(package.read_bytes()).hexdigest() == entry["sha256"]
        members = _unseal(package, sealed["passwords"][package.name.split("_")[0]])
        assert {c["path"]: c["sha256"] for c in entry["contents"]} == {
            name: hashlib.sha256(content).hexdigest() for name, content in members.items()
        }
        csv_rows = next(c["rows"] for c in entry["contents"] if c["path"].endswith(".csv"))
        assert csv_rows == members[next(n for n in members if n.endswith(".csv"))].decode("utf-8-sig").count("\n") - 1
    assert not any(p in (run_dir / "manifest.json").read_text(encoding="utf-8") for p in sealed["passwords"].values())


def test_a_returned_package_is_read_with_its_password_and_a_wrong_one_is_an_issue(sealed):
    passwords = load_passwords()
    package = sorted((sealed["run"].dir / "dispatch").glob("*.zip"))[0]
    code = package.name.split("_")[0]
    members = _unseal(package, sealed["passwords"][code])
    name = next(n for n in members if n.endswith(".xlsx"))
    book = openpyxl.load_workbook(io.BytesIO(members[name]))
    sheet = book["派单"]
    header = [c.value for c in sheet[1]]
    sheet.cell(2, header.index("核查结果") + 1, "已核实-无异常")
    sheet.cell(2, header.index("处置时间") + 1, "2026-11-22 15:00")
    filled = io.BytesIO()
    book.save(filled)
    returned = sealed["tmp"] / "inbox" / "feedback"
    returned.mkdir(parents=True)

    def seal_as(zip_name: str, password: str | None) -> None:
        with pyzipper.AESZipFile(
            returned / zip_name,
            "w",
            compression=pyzipper.ZIP_DEFLATED,
            encryption=pyzipper.WZ_AES if password else None,
        ) as zf:
            if password:
                zf.setpassword(password.encode())
            zf.writestr(name, filled.getvalue())

    seal_as(package.name, sealed["passwords"][code])  # as staff send it back
    seal_as("回传.zip", sealed["passwords"][code])  # renamed: the password that fits opens it
    seal_as(f"{code}_错误密码.zip", "not-the-password")  # sealed with another password
    (returned / "损坏.zip").write_bytes(package.read_bytes()[:200])  # cut off on the way
    lines = read_returned(sealed["tmp"] / "inbox", passwords)
    by_file = {r["feedback_file"]: r for r in lines.iter_rows(named=True)}
    dispatch_id = sheet.cell(2, header.index("派单编号") + 1).value
    for opened in (f"{package.name}/{name}", f"回传.zip/{name}"):
        assert by_file[opened]["dispatch_id"] == dispatch_id and by_file[opened]["issue"] is None
        assert by_file[opened]["disposed_at"] == dt.datetime(2026, 11, 22, 15, 0)
    assert "密码不对" in by_file[f"{code}_错误密码.zip"]["issue"]
    assert "损坏" in by_file["损坏.zip"]["issue"]
    # Without a passwords file the sealed ones are issues too, never a crash.
    unopened = read_returned(sealed["tmp"] / "inbox", None)
    assert unopened.filter(unopened["issue"].str.contains("未配置密码文件")).height == 3


def test_encryption_without_a_password_for_every_subdistrict_stops_before_any_work(
    district, tmp_path, monkeypatch, encrypt
):
    run = Run(inbox=district / "inbox", reference=district / "reference", out=tmp_path / "out", run_date=RUN_DATE)
    monkeypatch.delenv(PASSWORDS_ENV, raising=False)
    with pytest.raises(UserError, match=PASSWORDS_ENV):
        steps.check_inputs(run)
    codes = _grid_codes(district)
    _passwords_file(tmp_path / "secrets", codes[1:], monkeypatch)
    with pytest.raises(UserError, match=codes[0]):
        steps.check_inputs(run)
    _passwords_file(tmp_path / "out" / "secrets", codes, monkeypatch)  # inside OUT
    with pytest.raises(UserError, match="outside OUT"):
        steps.check_inputs(run)
    (tmp_path / "short").mkdir()
    (tmp_path / "short" / "p.csv").write_text("subdistrict_code,password\n" + "".join(f"{c},abc\n" for c in codes))
    monkeypatch.setenv(PASSWORDS_ENV, str(tmp_path / "short" / "p.csv"))
    with pytest.raises(UserError, match="10 characters"):
        steps.check_inputs(run)
    assert not (tmp_path / "out" / RUN_DATE.isoformat()).exists()
