"""multipart/mixed for statements with attachments (xAPI Communication 1.5.2)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from app.core.errors import BadRequest

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


@dataclass
class Part:
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def parse(content_type: str, body: bytes) -> list[Part]:
    match = _BOUNDARY.search(content_type)
    if not match:
        raise BadRequest("multipart/mixed without a boundary.")
    delimiter = b"--" + match.group(1).encode()
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise BadRequest("The multipart body is not terminated by its closing boundary.")
    parts = []
    for chunk in chunks[1:-1]:
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        head, sep, payload = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise BadRequest("A multipart part has no header/body separator.")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            if not line.strip():
                continue
            name, colon, value = line.partition(":")
            if not colon:
                raise BadRequest(f"Malformed multipart header line {line[:80]!r}.")
            headers[name.strip().lower()] = value.strip()
        parts.append(Part(headers=headers, body=payload))
    if not parts:
        raise BadRequest("The multipart body has no parts.")
    return parts


def build(first_json: bytes, attachments: list[tuple[str, str, bytes]]) -> tuple[str, bytes]:
    """(content type, body) for a response with the statements part and attachment parts
    (content type, sha2, bytes)."""
    boundary = "rmtc" + secrets.token_hex(12)
    out = [f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode(), first_json, b"\r\n"]
    for ctype, sha2, data in attachments:
        out += [
            f"--{boundary}\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: binary\r\n"
            f"X-Experience-API-Hash: {sha2}\r\n\r\n".encode(),
            data,
            b"\r\n",
        ]
    out.append(f"--{boundary}--".encode())
    return f'multipart/mixed; boundary="{boundary}"', b"".join(out)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
