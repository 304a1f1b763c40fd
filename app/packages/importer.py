"""Validating and extracting a package file (no database): used by the import job and the CLI.

A package is a zip (SCORM 1.2/2004, cmi5, xAPI) or a bare cmi5.xml whose AUs are hosted elsewhere.
Validation reads the zip's directory and the manifest only; extraction streams every entry into
storage under the version's prefix, with bounded memory, counting the real inflated bytes.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from app.packages import manifests, safezip
from app.packages.manifests import ManifestError, ParsedPackage
from app.packages.safezip import Issue, ZipLimits, ZipRefused

MAX_MANIFEST_BYTES = 5 * 1024 * 1024
MAX_BARE_XML_BYTES = 1024 * 1024
# Content types by extension: an allowlist; anything else is served as a download.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8", ".xhtml": "application/xhtml+xml",
    ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".json": "application/json", ".xml": "application/xml", ".xsd": "application/xml", ".dtd": "application/xml-dtd",
    ".txt": "text/plain; charset=utf-8", ".vtt": "text/vtt; charset=utf-8", ".srt": "text/plain; charset=utf-8",
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
    ".svg": "image/svg+xml", ".ico": "image/x-icon", ".bmp": "image/bmp", ".avif": "image/avif",
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm", ".ogv": "video/ogg", ".mov": "video/quicktime",
    ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".wav": "audio/wav",
    ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf", ".eot": "application/vnd.ms-fontobject",
    ".pdf": "application/pdf", ".swf": "application/x-shockwave-flash", ".wasm": "application/wasm",
    ".csv": "text/csv; charset=utf-8", ".zip": "application/zip",
}
MANIFEST_NAMES = {"scorm": manifests.SCORM_MANIFEST, "cmi5": manifests.CMI5_MANIFEST, "xapi": manifests.TINCAN_MANIFEST}


def content_type_for(name: str) -> str:
    return CONTENT_TYPES.get(posixpath.splitext(name)[1].lower(), "application/octet-stream")


@dataclass
class Validation:
    source_kind: str  # "zip" or "cmi5-xml"
    parsed: ParsedPackage | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    zip_report: safezip.ZipReport | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.parsed is not None

    def report(self) -> dict[str, Any]:
        return {"errors": self.errors, "warnings": self.warnings}


def _issue(code: str, message: str, entry: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "entry": entry}


def _findings(v: Validation, parsed: ParsedPackage) -> None:
    for f in parsed.findings:
        (v.errors if f.severity == "error" else v.warnings).append(_issue(f.code, f.message, f.where))


def looks_like_xml(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def validate(fileobj: IO[bytes], limits: ZipLimits, *, size: int | None = None) -> Validation:
    fileobj.seek(0)
    head = fileobj.read(64)
    fileobj.seek(0)
    if looks_like_xml(head):
        v = Validation(source_kind="cmi5-xml")
        data = fileobj.read(MAX_BARE_XML_BYTES + 1)
        if len(data) > MAX_BARE_XML_BYTES:
            v.errors.append(_issue("too-large", "A bare course structure is at most 1 MiB."))
            return v
        try:
            v.parsed = manifests.parse_cmi5(data, None)
        except ManifestError as exc:
            v.errors.append(_issue(exc.code, exc.message, manifests.CMI5_MANIFEST))
            return v
        _findings(v, v.parsed)
        return v
    v = Validation(source_kind="zip")
    report = safezip.inspect(fileobj, limits)
    v.zip_report = report
    if not report.ok:
        v.errors.extend(i.as_dict() for i in report.errors)
        return v
    names = {safezip.strip_root(e.name, report.root_prefix) for e in report.entries}
    standard = manifests.detect(names)
    if standard is None:
        v.errors.append(_issue(
            "no-manifest",
            "No imsmanifest.xml (SCORM), cmi5.xml (cmi5) or tincan.xml (xAPI) at the root of the package "
            "or inside its single top-level folder.",
        ))
        return v
    manifest_name = MANIFEST_NAMES[standard]
    entry = next(e for e in report.entries if safezip.strip_root(e.name, report.root_prefix) == manifest_name)
    try:
        data = safezip.read_member(fileobj, entry, limits, max_bytes=MAX_MANIFEST_BYTES)
        v.parsed = manifests.parse_package(standard, data, names)
    except ManifestError as exc:
        v.errors.append(_issue(exc.code, exc.message, manifest_name))
        return v
    except ZipRefused as exc:
        v.errors.extend(i.as_dict() for i in exc.issues)
        return v
    _findings(v, v.parsed)
    return v


def validate_path(path: Path, limits: ZipLimits) -> Validation:
    with path.open("rb") as fh:
        return validate(fh, limits)


class _CountingReader:
    """A file-like view of a zip member for storage uploads, enforcing the real-bytes limits."""

    def __init__(self, chunks):
        self._chunks = chunks
        self._buffer = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buffer) < n:
            try:
                self._buffer += next(self._chunks)
            except StopIteration:
                break
        if n < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data


def extract(
    fileobj: IO[bytes],
    validation: Validation,
    storage,
    prefix: str,
    limits: ZipLimits,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Stream every entry into storage under `prefix`; returns (files, bytes). Raises ZipRefused
    when an entry inflates past the limits (the caller removes what was written)."""
    report = validation.zip_report
    assert report is not None and validation.ok
    total_written = 0
    count = 0
    for entry in report.entries:
        name = safezip.strip_root(entry.name, report.root_prefix)
        chunks = safezip.iter_member(fileobj, entry, limits)
        storage.put_file(prefix + name, _CountingReader(chunks), content_type=content_type_for(name))
        total_written += entry.size
        count += 1
        if total_written > limits.max_total_bytes:
            raise ZipRefused([Issue("too-large", "The package unpacks beyond the size limit.")])
        if progress:
            progress(count, len(report.entries))
    return count, total_written
