"""`rmtc`: the command line of the platform (serve, migrate, admin accounts, demo data, OpenAPI)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app import dbmigrate
from app.core.config import ConfigurationError, Settings

cli = typer.Typer(
    name="rmtc",
    help="RMTC learning platform backend: LMS API and xAPI Learning Record Store.",
    no_args_is_help=True,
    add_completion=False,
)
db_cli = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
users_cli = typer.Typer(help="User accounts.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(users_cli, name="users")
console = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    try:
        settings = Settings()
    except ConfigurationError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def _migrate(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    before = dbmigrate.current_revision(url)
    dbmigrate.upgrade(url)
    after = dbmigrate.current_revision(url)
    if before != after:
        err.print(f"database migrated: {before or 'empty'} -> {after}")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    forwarded_allow_ips: Annotated[
        str | None, typer.Option(help="Proxies trusted for X-Forwarded-For (e.g. the load balancer's address)")
    ] = None,
    migrate: Annotated[
        bool | None, typer.Option(help="Upgrade the schema first (default: yes on SQLite, no on PostgreSQL)")
    ] = None,
) -> None:
    """Run the HTTP service (uvicorn). The embedded SQLite database is upgraded automatically."""
    import uvicorn

    settings = _settings()
    url = settings.resolved_database_url
    if migrate if migrate is not None else settings.is_sqlite:
        _migrate(settings)
    elif dbmigrate.current_revision(url) != dbmigrate.head_revision(url):
        err.print("[red]The database schema is not current: run `rmtc db upgrade` first (or pass --migrate).[/red]")
        raise typer.Exit(2)
    if workers > 1:
        # Metrics of all workers are aggregated through files in this directory.
        metrics_dir = settings.data_dir / "prometheus"
        metrics_dir.mkdir(parents=True, exist_ok=True)
        for stale in metrics_dir.glob("*.db"):
            stale.unlink()
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    console.print(f"RMTC API on http://{host}:{port}  (docs: http://{host}:{port}/docs)" if settings.docs_on
                  else f"RMTC API on http://{host}:{port}")
    uvicorn.run(
        "app.main:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        timeout_graceful_shutdown=20,
        log_config=None,
        access_log=False,
    )


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Upgrade the schema (to the newest revision by default)."""
    settings = _settings()
    dbmigrate.upgrade(settings.resolved_database_url, revision)
    console.print(f"database at revision {dbmigrate.current_revision(settings.resolved_database_url)}")


@db_cli.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base")]) -> None:
    """Downgrade the schema."""
    settings = _settings()
    dbmigrate.downgrade(settings.resolved_database_url, revision)
    console.print(f"database at revision {dbmigrate.current_revision(settings.resolved_database_url) or 'base'}")


@db_cli.command("current")
def db_current() -> None:
    """Show the schema revision of the database and the newest one available."""
    settings = _settings()
    url = settings.resolved_database_url
    console.print(f"current: {dbmigrate.current_revision(url) or 'empty'}; head: {dbmigrate.head_revision(url)}")


@users_cli.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="Email (the login)")],
    password: Annotated[str, typer.Option(help="Password (at least 10 characters)")],
    full_name: Annotated[str, typer.Option(help="Full name")] = "Platform administrator",
    country: Annotated[str, typer.Option(help="Country code of the admin's institution")] = "RS",
) -> None:
    """Create an admin account, or make an existing account admin with this password."""
    from app.core.errors import AppError
    from app.core.passwords import PasswordHashing
    from app.core.db import make_engine, make_session_factory, writing
    from app.users import service as users_service

    settings = _settings()
    if settings.is_sqlite:
        _migrate(settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(writing(engine))() as session, session.begin():
            user, created = users_service.ensure_admin(
                session, PasswordHashing(settings), email=email, password=password, full_name=full_name,
                country_code=country.upper(),
            )
            email_out = user.email
    except AppError as exc:
        err.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    console.print(f"{'created' if created else 'updated'} admin {email_out}")


@cli.command()
def demo() -> None:
    """Load the demo dataset (idempotent) and print a login for each role."""
    from app.demo import load_demo

    settings = _settings()
    if settings.env == "production":
        err.print("[red]Refusing to load demo accounts into a production deployment.[/red]")
        raise typer.Exit(2)
    if settings.is_sqlite:
        _migrate(settings)
    logins = load_demo(settings, progress=console)
    table = Table(title="Demo logins (development only)")
    for column in ("role", "country", "email", "password"):
        table.add_column(column)
    for row in logins:
        table.add_row(row.role, row.country, row.email, row.password)
    console.print(table)


@cli.command()
def openapi(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write")] = Path("openapi/openapi.json"),
    check: Annotated[bool, typer.Option(help="Only check that the file is current (exit 1 if not)")] = False,
) -> None:
    """Write the OpenAPI document generated from the code."""
    from app.core import openapi as openapi_doc
    from app.main import create_app

    app = create_app(Settings(env="development", docs_enabled=True))
    rendered = openapi_doc.render(app)
    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != rendered:
            err.print(f"[red]{output} is out of date: run `rmtc openapi`[/red]")
            raise typer.Exit(1)
        console.print(f"{output} is current")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(rendered, encoding="utf-8")
    console.print(f"wrote {output}")


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
