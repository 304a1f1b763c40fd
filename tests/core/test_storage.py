"""Both storage backends pass the same suite: local files, and S3 against a real S3-protocol
server (moto's standalone server over HTTP on loopback), not a patched boto3."""

from __future__ import annotations

import io

import httpx
import pytest

from app.core.storage import InvalidKey, LocalStorage, S3Storage, StorageError
from tests.conftest import s3_settings

# Does not use the test database: runs once, in the SQLite pass (deselected in the PostgreSQL pass).
pytestmark = pytest.mark.db_independent


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "objects")
    endpoint = request.getfixturevalue("s3_server")
    return S3Storage(s3_settings(tmp_path, endpoint, s3_prefix="tenant-a"), create_bucket=True)


def test_put_get_stat_and_content_type(storage):
    storage.put_bytes("packages/p1/v1/index.html", b"<html>hi</html>", content_type="text/html")
    assert storage.get_bytes("packages/p1/v1/index.html") == b"<html>hi</html>"
    info = storage.stat("packages/p1/v1/index.html")
    assert info.size == 15 and info.content_type == "text/html" and info.etag
    assert storage.stat("packages/p1/v1/missing.html") is None
    with pytest.raises(StorageError):
        storage.get_bytes("packages/p1/v1/missing.html")


def test_streamed_upload_and_ranges(storage):
    data = bytes(range(256)) * 20000  # ~5 MB, streamed from a file object
    storage.put_file("media/video.mp4", io.BytesIO(data), content_type="video/mp4")
    assert b"".join(storage.iter_range("media/video.mp4")) == data
    assert b"".join(storage.iter_range("media/video.mp4", 100, 199)) == data[100:200]
    assert b"".join(storage.iter_range("media/video.mp4", len(data) - 10)) == data[-10:]


def test_list_and_delete_prefix_stays_inside_the_prefix(storage):
    for key in ("a/v1/x.txt", "a/v1/sub/y.txt", "a/v2/x.txt", "ab/v1/x.txt"):
        storage.put_bytes(key, b"1")
    assert sorted(storage.list_keys("a/v1/")) == ["a/v1/sub/y.txt", "a/v1/x.txt"]
    assert storage.delete_prefix("a/v1/") == 2
    assert sorted(storage.list_keys("a")) == ["a/v2/x.txt", "ab/v1/x.txt"]
    storage.delete("a/v2/x.txt")
    storage.delete("a/v2/x.txt")  # idempotent
    assert list(storage.list_keys("a/")) == []


def test_overwrite_replaces_content(storage):
    storage.put_bytes("k/file.json", b"{}", content_type="application/json")
    storage.put_bytes("k/file.json", b'{"a":1}', content_type="application/json")
    assert storage.get_bytes("k/file.json") == b'{"a":1}'


@pytest.mark.parametrize(
    "key", ["", "../escape", "a/../../etc/passwd", "/abs/path", "a\\b", "a/\x00b", "a//b", "./a", "a/.."]
)
def test_unsafe_keys_are_refused(storage, key):
    with pytest.raises(InvalidKey):
        storage.put_bytes(key, b"x")


def test_check_reports_reachability(storage):
    storage.check()


def test_s3_unreachable_bucket_fails_check(tmp_path, s3_server):
    storage = S3Storage(s3_settings(tmp_path, s3_server), create_bucket=False)
    with pytest.raises(StorageError):
        storage.check()


def test_s3_presigned_put_url_accepts_an_upload(tmp_path, s3_server):
    storage = S3Storage(s3_settings(tmp_path, s3_server), create_bucket=True)
    url = storage.presigned_put_url("uploads/pkg.zip", expires_in=300, content_type="application/zip")
    r = httpx.put(url, content=b"PK\x05\x06" + b"\0" * 18, headers={"Content-Type": "application/zip"})
    assert r.status_code == 200
    assert storage.stat("uploads/pkg.zip").size == 22


def test_s3_large_file_uses_multipart(tmp_path, s3_server):
    storage = S3Storage(s3_settings(tmp_path, s3_server), create_bucket=True)
    data = b"x" * (17 * 1024 * 1024)  # above the 16 MiB multipart threshold
    storage.put_file("big/blob.bin", io.BytesIO(data))
    info = storage.stat("big/blob.bin")
    assert info.size == len(data)
    assert "-" in info.etag  # S3 marks multipart objects' ETags with the part count


def test_app_ready_with_s3_backend(tmp_path, s3_server, database_url):
    from starlette.testclient import TestClient

    from app.main import create_app

    settings = s3_settings(tmp_path, s3_server)
    settings = settings.model_copy(update={"database_url": database_url})
    with TestClient(create_app(settings)) as c:
        assert c.get("/ready").json()["checks"] == {"database": "ok", "storage": "ok"}
