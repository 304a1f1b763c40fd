"""Safe zip inspection: every hostile layout is refused with the entry named."""

from __future__ import annotations

import io
import zipfile

import pytest

from app.packages import safezip
from app.packages.safezip import ZipLimits, ZipRefused
from tests.packages import builders

# Does not use the test database: runs once, in the SQLite pass (deselected in the PostgreSQL pass).
pytestmark = pytest.mark.db_independent


def _codes(blob: bytes, limits: ZipLimits = ZipLimits()) -> set[str]:
    return {i.code for i in safezip.inspect(io.BytesIO(blob), limits).errors}


@pytest.mark.parametrize(
    "name,code",
    [
        ("../evil.sh", "unsafe-path"),
        ("a/../../evil.sh", "unsafe-path"),
        ("/etc/cron.d/x", "unsafe-path"),
        ("C:/Windows/x.dll", "unsafe-path"),
        ("a\\..\\..\\evil", "unsafe-path"),
        ("evil\x00.html", "unsafe-path"),
    ],
)
def test_hostile_names(name, code):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.html", b"x")
        info = zipfile.ZipInfo("placeholder")
        info.filename = name  # bypass zipfile's own normalisation on write
        zf.writestr(info, b"payload")
    report = safezip.inspect(io.BytesIO(buf.getvalue()), ZipLimits())
    assert code in {i.code for i in report.errors}
    assert any(i.entry in (name, name.split("\x00")[0]) for i in report.errors)


def test_zip_slip_package():
    assert "unsafe-path" in _codes(builders.zip_slip())


def test_symlink():
    report = safezip.inspect(io.BytesIO(builders.with_symlink()), ZipLimits())
    assert [(i.code, i.entry) for i in report.errors] == [("symlink", "story_content/data.js")]


def test_case_and_unicode_collisions():
    assert "name-collision" in _codes(builders.zip_bytes({"Index.html": b"a", "index.HTML": b"b"}))
    nfc, nfd = "caf\u00e9.html", "cafe\u0301.html"
    assert "name-collision" in _codes(builders.zip_bytes({nfc: b"a", nfd: b"b"}))


def test_encrypted_entries():
    assert "encrypted" in _codes(builders.encrypted_flag())


def test_bomb_by_ratio():
    assert "compression-ratio" in _codes(builders.bomb(16))


def test_limits_on_count_and_size():
    files = {f"f{i}.txt": b"x" for i in range(30)}
    assert "too-many-files" in _codes(builders.zip_bytes(files), ZipLimits(max_files=20))
    big = builders.zip_bytes({"a.bin": b"x" * 5000, "b.bin": b"y" * 5000}, compression=zipfile.ZIP_STORED)
    assert "too-large" in _codes(big, ZipLimits(max_total_bytes=8000))
    assert "file-too-large" in _codes(big, ZipLimits(max_file_bytes=4000))


@pytest.mark.parametrize("blob", [b"", b"not a zip at all", b"PK\x03\x04" + b"\0" * 40])
def test_not_a_zip(blob):
    assert _codes(blob) == {"not-a-zip"}


def test_truncated_zip():
    blob = builders.scorm12()
    assert "not-a-zip" in _codes(blob[: len(blob) // 2])


def test_lying_sizes_are_caught_while_inflating():
    # An entry that declares 10 bytes but inflates to 1 MB: the reader never yields past the
    # declared size (the zip's CRC check fails) and we refuse it.
    real = builders.zip_bytes({"index.html": b"A" * 1_000_000})
    data = bytearray(real)
    central = data.find(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")  # uncompressed size in the central directory
    blob = bytes(data)
    report = safezip.inspect(io.BytesIO(blob), ZipLimits())
    entry = report.entries[0]
    assert entry.size == 10
    with pytest.raises(ZipRefused):
        safezip.read_member(io.BytesIO(blob), entry, ZipLimits())


def test_zip64_is_supported():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", allowZip64=True) as zf:
        with zf.open(zipfile.ZipInfo("large.bin"), "w", force_zip64=True) as fh:
            fh.write(b"z" * 1000)
        zf.writestr("index.html", b"<html/>")
    report = safezip.inspect(io.BytesIO(buf.getvalue()), ZipLimits())
    assert report.ok and report.names() == {"large.bin", "index.html"}
    entry = next(e for e in report.entries if e.name == "large.bin")
    assert safezip.read_member(io.BytesIO(buf.getvalue()), entry, ZipLimits()) == b"z" * 1000


def test_single_top_folder_is_detected():
    report = safezip.inspect(io.BytesIO(builders.scorm12(folder="Export/")), ZipLimits())
    assert report.root_prefix == "Export/"
    assert safezip.inspect(io.BytesIO(builders.scorm12()), ZipLimits()).root_prefix == ""
