"""Inspecting and extracting untrusted zip files (pure logic plus the zipfile module).

Every entry name is checked before anything is written: no `..`, absolute paths, drive letters,
backslashes, NUL bytes, symlinks, encrypted entries, or names that collide case-insensitively or
after Unicode normalisation. Sizes are enforced on the bytes really inflated, not on what the
archive declares, so a zip bomb stops at the limit however it lies. ZIP64 is supported by the
standard library's reader.
"""

from __future__ import annotations

import posixpath
import stat
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

CHUNK = 256 * 1024


@dataclass(frozen=True)
class ZipLimits:
    max_files: int = 20000
    max_total_bytes: int = 4 * 1024**3
    max_file_bytes: int = 2 * 1024**3
    max_ratio: float = 200.0  # uncompressed / compressed, per entry and overall
    ratio_floor_bytes: int = 1024 * 1024  # entries smaller than this are not held to the ratio


@dataclass
class Issue:
    code: str
    message: str
    entry: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "entry": self.entry}


@dataclass
class ZipEntry:
    name: str  # normalised POSIX path inside the package
    info: zipfile.ZipInfo
    size: int


@dataclass
class ZipReport:
    entries: list[ZipEntry] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    root_prefix: str = ""  # a single top-level folder wrapping everything, e.g. "course/"

    @property
    def ok(self) -> bool:
        return not self.errors

    def names(self) -> set[str]:
        return {e.name for e in self.entries}


class ZipRefused(Exception):
    def __init__(self, issues: list[Issue]):
        super().__init__("; ".join(i.message for i in issues[:5]))
        self.issues = issues


def _name_problem(raw: str) -> str | None:
    if "\x00" in raw:
        return "contains a NUL byte"
    if "\\" in raw:
        return "contains a backslash"
    if raw.startswith("/"):
        return "is an absolute path"
    if len(raw) >= 2 and raw[1] == ":" and raw[0].isalpha():
        return "starts with a drive letter"
    parts = raw.split("/")
    if any(p == ".." for p in parts):
        return "climbs out of the package with '..'"
    if any(ord(c) < 32 for c in raw):
        return "contains control characters"
    if len(raw.encode("utf-8", "surrogateescape")) > 1024:
        return "is too long"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    unix_mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(unix_mode)


def inspect(fileobj: IO[bytes], limits: ZipLimits) -> ZipReport:
    """Check every entry of a zip without extracting; a report with errors means: refuse."""
    report = ZipReport()
    try:
        archive = zipfile.ZipFile(fileobj)
    except zipfile.BadZipFile as exc:
        report.errors.append(Issue("not-a-zip", f"The file is not a readable zip archive ({exc})."))
        return report
    except (OSError, ValueError, EOFError) as exc:
        report.errors.append(Issue("not-a-zip", f"The file is not a readable zip archive ({exc})."))
        return report
    with archive:
        try:
            infos = archive.infolist()
        except (zipfile.BadZipFile, ValueError) as exc:
            report.errors.append(Issue("not-a-zip", f"The zip directory cannot be read ({exc})."))
            return report
        files = [i for i in infos if not i.is_dir()]
        if len(files) > limits.max_files:
            report.errors.append(Issue("too-many-files", f"The package has {len(files)} files; the limit is {limits.max_files}."))
            return report
        seen: dict[str, str] = {}
        declared_total = 0
        compressed_total = 0
        for info in infos:
            raw = info.filename
            # zipfile cuts names at a NUL byte; the original name still shows it.
            problem = _name_problem(info.orig_filename) or _name_problem(raw)
            if problem:
                report.errors.append(Issue("unsafe-path", f"Entry {raw!r} {problem}.", raw))
                continue
            if _is_symlink(info):
                report.errors.append(Issue("symlink", f"Entry {raw!r} is a symbolic link.", raw))
                continue
            if info.flag_bits & 0x1:
                report.errors.append(Issue("encrypted", f"Entry {raw!r} is encrypted.", raw))
                continue
            if info.is_dir():
                continue
            name = posixpath.normpath(raw)
            if name in (".", "") or name.startswith("../"):
                report.errors.append(Issue("unsafe-path", f"Entry {raw!r} has no usable path.", raw))
                continue
            folded = unicodedata.normalize("NFC", name).casefold()
            if folded in seen:
                report.errors.append(
                    Issue("name-collision", f"Entries {seen[folded]!r} and {raw!r} collide (case or Unicode form).", raw)
                )
                continue
            seen[folded] = raw
            if info.file_size > limits.max_file_bytes:
                report.errors.append(Issue("file-too-large", f"Entry {raw!r} declares {info.file_size} bytes.", raw))
                continue
            declared_total += info.file_size
            compressed_total += info.compress_size
            report.entries.append(ZipEntry(name=name, info=info, size=info.file_size))
        if declared_total > limits.max_total_bytes:
            report.errors.append(
                Issue("too-large", f"The package unpacks to {declared_total} bytes; the limit is {limits.max_total_bytes}.")
            )
        if declared_total > limits.ratio_floor_bytes and compressed_total and declared_total / compressed_total > limits.max_ratio:
            report.errors.append(Issue("compression-ratio", "The package's compression ratio is suspiciously high (zip bomb?)."))
    tops = {e.name.split("/", 1)[0] for e in report.entries}
    if len(tops) == 1 and all("/" in e.name for e in report.entries):
        report.root_prefix = next(iter(tops)) + "/"
    return report


def read_member(fileobj: IO[bytes], entry: ZipEntry, limits: ZipLimits, max_bytes: int | None = None) -> bytes:
    """The bytes of one entry, refusing more than declared or allowed (real bytes are counted)."""
    return b"".join(iter_member(fileobj, entry, limits, max_bytes=max_bytes))


def iter_member(fileobj: IO[bytes], entry: ZipEntry, limits: ZipLimits, max_bytes: int | None = None) -> Iterator[bytes]:
    cap = min(entry.size, limits.max_file_bytes) if max_bytes is None else min(max_bytes, entry.size)
    floor = max(limits.ratio_floor_bytes, 1)
    allowed_by_ratio = max(floor, int(entry.info.compress_size * limits.max_ratio))
    produced = 0
    try:
        with zipfile.ZipFile(fileobj) as archive, archive.open(entry.info) as member:
            while True:
                chunk = member.read(CHUNK)
                if not chunk:
                    break
                produced += len(chunk)
                if produced > cap or produced > allowed_by_ratio:
                    raise ZipRefused([Issue("bomb", f"Entry {entry.name!r} inflates beyond its declared size or the ratio limit.", entry.name)])
                yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise ZipRefused([Issue("corrupt-entry", f"Entry {entry.name!r} cannot be decompressed ({exc}).", entry.name)]) from None


def strip_root(name: str, root_prefix: str) -> str:
    return name[len(root_prefix):] if root_prefix and name.startswith(root_prefix) else name
