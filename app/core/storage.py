"""Object storage: one interface, a local filesystem backend (default) and an S3 backend.

Keys are relative POSIX paths ("packages/<id>/v1/index.html"). Both backends refuse keys that
could escape their root (`..`, absolute, backslashes, NUL), so a hostile name never reaches a disk
path or an unexpected bucket prefix.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from app.core.config import Settings

CHUNK = 1024 * 1024


class StorageError(Exception):
    """The storage backend failed or refused an operation."""


class InvalidKey(StorageError):
    pass


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str | None
    etag: str
    last_modified: dt.datetime


def validate_key(key: str) -> str:
    if not key or len(key) > 1024:
        raise InvalidKey("empty or over-long storage key")
    if "\x00" in key or "\\" in key or key.startswith("/"):
        raise InvalidKey(f"unsafe storage key {key!r}")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts[:-1]) or parts[-1] in (".", ".."):
        raise InvalidKey(f"unsafe storage key {key!r}")
    return key


def validate_prefix(prefix: str) -> str:
    if prefix == "":
        return prefix
    validate_key(prefix.rstrip("/") or "x")
    return prefix


class Storage(Protocol):
    name: str

    def put_file(self, key: str, source: IO[bytes], *, content_type: str | None = None) -> None: ...
    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def iter_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]: ...
    def stat(self, key: str) -> ObjectInfo | None: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def list_keys(self, prefix: str) -> Iterator[str]: ...
    def presigned_put_url(self, key: str, *, expires_in: int, content_type: str | None = None) -> str | None: ...
    def check(self) -> None: ...


class LocalStorage:
    """Files under a root directory; writes go to a temporary file and are renamed into place."""

    name = "local"

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise InvalidKey(f"unsafe storage key {key!r}")
        return path

    def _content_type_path(self, path: Path) -> Path:
        return path.with_name(path.name + ".__ctype__")

    def put_file(self, key: str, source: IO[bytes], *, content_type: str | None = None) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        ctype_path = self._content_type_path(path)
        if content_type:
            ctype_path.write_text(content_type)
        else:
            ctype_path.unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        import io

        self.put_file(key, io.BytesIO(data), content_type=content_type)

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise StorageError(f"no object {key!r}") from exc

    def iter_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self._path(key)
        with path.open("rb") as fh:
            fh.seek(start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                chunk = fh.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        if not path.is_file() or path.name.endswith(".__ctype__"):
            return None
        st = path.stat()
        ctype_path = self._content_type_path(path)
        content_type = ctype_path.read_text() if ctype_path.exists() else None
        etag = hashlib.sha256(f"{key}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:32]
        return ObjectInfo(
            key=key,
            size=st.st_size,
            content_type=content_type,
            etag=etag,
            last_modified=dt.datetime.fromtimestamp(st.st_mtime, dt.UTC),
        )

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        self._content_type_path(path).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        count = 0
        for key in list(self.list_keys(prefix)):
            self.delete(key)
            count += 1
        return count

    def list_keys(self, prefix: str) -> Iterator[str]:
        validate_prefix(prefix)
        for path in sorted(self.root.rglob("*")):
            if not path.is_file() or path.name.endswith(".__ctype__") or path.name.startswith(".upload-"):
                continue
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                yield key

    def presigned_put_url(self, key: str, *, expires_in: int, content_type: str | None = None) -> str | None:
        return None

    def check(self) -> None:
        probe = self.root / ".ready-probe"
        probe.write_bytes(b"ok")
        probe.unlink()


class S3Storage:
    """Any S3-compatible server through boto3 (AWS, MinIO, Ceph, moto...)."""

    name = "s3"

    def __init__(self, settings: Settings, *, create_bucket: bool = False):
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix.strip("/") + "/" if settings.s3_prefix.strip("/") else ""
        self.client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
            ),
        )
        # Multipart above 16 MiB, in 16 MiB parts: large packages never sit in memory whole.
        self.transfer_config = TransferConfig(multipart_threshold=16 * CHUNK, multipart_chunksize=16 * CHUNK)
        if create_bucket:
            self.ensure_bucket()

    def _key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def put_file(self, key: str, source: IO[bytes], *, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        self.client.upload_fileobj(source, self.bucket, self._key(key), ExtraArgs=extra, Config=self.transfer_config)

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **extra)

    def get_bytes(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except ClientError as exc:
            raise StorageError(f"no object {key!r}") from exc

    def iter_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        kwargs = {}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end}"
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(key), **kwargs)["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def stat(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageError(str(exc)) from exc
        return ObjectInfo(
            key=key,
            size=int(head["ContentLength"]),
            content_type=head.get("ContentType"),
            etag=head["ETag"].strip('"'),
            last_modified=head["LastModified"],
        )

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def delete_prefix(self, prefix: str) -> int:
        keys = [self._key(k) for k in self.list_keys(prefix)]
        for i in range(0, len(keys), 1000):
            batch = keys[i : i + 1000]
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
        return len(keys)

    def list_keys(self, prefix: str) -> Iterator[str]:
        validate_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for item in page.get("Contents", []):
                yield item["Key"][len(self.prefix) :]

    def presigned_put_url(self, key: str, *, expires_in: int, content_type: str | None = None) -> str | None:
        params = {"Bucket": self.bucket, "Key": self._key(key)}
        if content_type:
            params["ContentType"] = content_type
        return self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_in)

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"bucket {self.bucket!r} not reachable: {exc}") from exc


def make_storage(settings: Settings) -> Storage:
    if settings.storage_backend == "s3":
        return S3Storage(settings, create_bucket=settings.env != "production")
    return LocalStorage(settings.local_storage_dir)
