from __future__ import annotations

from pathlib import Path

import pytest

from app.core.config import ConfigurationError, Settings

# Does not use the test database: runs once, in the SQLite pass (deselected in the PostgreSQL pass).
pytestmark = pytest.mark.db_independent


def test_defaults_are_the_embedded_setup(monkeypatch):
    for key in list(__import__("os").environ):
        if key.startswith("RMTC_"):
            monkeypatch.delenv(key)
    s = Settings(_env_file=None)
    assert s.env == "development" and s.storage_backend == "local"
    assert s.resolved_database_url == f"sqlite:///{(Path('var') / 'rmtc.db').resolve()}"
    assert s.docs_on


def test_environment_variables_are_read(monkeypatch, tmp_path):
    monkeypatch.setenv("RMTC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RMTC_CORS_ORIGINS", "https://app.rmtc.example, https://m.rmtc.example")
    monkeypatch.setenv("RMTC_STORAGE_BACKEND", "s3")
    monkeypatch.setenv("RMTC_ACCESS_TOKEN_TTL_SECONDS", "600")
    s = Settings(_env_file=None)
    assert s.data_dir == tmp_path and s.storage_backend == "s3" and s.access_token_ttl_seconds == 600
    assert s.cors_origins == ["https://app.rmtc.example", "https://m.rmtc.example"]


def test_production_refuses_default_secrets():
    with pytest.raises(ConfigurationError, match="RMTC_SECRET_KEY"):
        Settings(_env_file=None, env="production", jwt_private_key="x")
    with pytest.raises(ConfigurationError, match="RMTC_JWT_PRIVATE_KEY"):
        Settings(_env_file=None, env="production", secret_key="k" * 40)
    ok = Settings(_env_file=None, env="production", secret_key="k" * 40, jwt_private_key="pem")
    assert not ok.docs_on


def test_invalid_values_are_refused():
    with pytest.raises(ValueError):
        Settings(_env_file=None, storage_backend="ftp")
    with pytest.raises(ValueError):
        Settings(_env_file=None, access_token_ttl_seconds=5)
