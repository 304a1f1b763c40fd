"""Request bodies for file uploads, spooled to a temporary file while streaming (never held in
memory whole) and hashed on the way."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from typing import IO

from fastapi import Request

SPOOL_IN_MEMORY = 1024 * 1024


@dataclass
class SpooledUpload:
    file: IO[bytes]
    size: int
    sha256: str
    content_type: str | None

    def head(self, n: int) -> bytes:
        self.file.seek(0)
        data = self.file.read(n)
        self.file.seek(0)
        return data

    def close(self) -> None:
        self.file.close()


async def spooled_body(request: Request):
    """FastAPI dependency: the raw body in a temporary file (closed after the request)."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        spool.write(chunk)
        digest.update(chunk)
        size += len(chunk)
    spool.seek(0)
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower() or None
    upload = SpooledUpload(file=spool, size=size, sha256=digest.hexdigest(), content_type=content_type)
    try:
        yield upload
    finally:
        upload.close()
