"""`rmtc`: the command line of the platform (serve, migrate, admin accounts, demo data, OpenAPI)."""

from __future__ import annotations

import os
import sys
import uuid
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
packages_cli = typer.Typer(help="Content packages (SCORM 1.2, SCORM 2004, cmi5, xAPI).", no_args_is_help=True)
users_cli = typer.Typer(help="User accounts.", no_args_is_help=True)
assessments_cli = typer.Typer(help="Assessments (quizzes and attempts).", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(users_cli, name="users")
cli.add_typer(packages_cli, name="packages")
cli.add_typer(assessments_cli, name="assessments")
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
    balance: Annotated[
        bool, typer.Option(help="With several workers, give each new connection to a worker with the fewest "
                                "open connections (--no-balance: to whichever worker accepts first)")
    ] = True,
) -> None:
    """Run the HTTP service (uvicorn). The embedded SQLite database is upgraded automatically."""
    import uvicorn

    from app.core import balancing, recycling

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
    if workers > 1:
        # uvicorn's supervisor replaces a worker that ends: the workers may recycle themselves.
        os.environ[recycling.SUPERVISED_ENV] = "1"
    board = None
    if workers > 1 and balance:
        try:
            board = balancing.LoadBoard.create(workers)
        except OSError as exc:
            err.print(f"[yellow]no accept balancing (cannot create its file: {exc})[/yellow]")
        else:
            os.environ[balancing.BOARD_ENV] = str(board)
    console.print(f"RMTC API on http://{host}:{port}  (docs: http://{host}:{port}/docs)" if settings.docs_on
                  else f"RMTC API on http://{host}:{port}")
    try:
        uvicorn.run(
            "app.main:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            # With several workers, always: the workers drain before they recycle (and balance
            # their accepts unless --no-balance).
            loop="app.core.balancing:balanced_loop" if workers > 1 else "auto",
            proxy_headers=forwarded_allow_ips is not None,
            forwarded_allow_ips=forwarded_allow_ips,
            timeout_graceful_shutdown=20,
            ws="none",  # no WebSocket routes; an upgrade would hand the connection to another protocol
            log_config=None,
            access_log=False,
        )
    finally:
        if board is not None:
            board.unlink(missing_ok=True)


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
        with make_session_factory(writing(engine), settings.public_base_url)() as session, session.begin():
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


def _print_report(report: dict, *, title: str) -> None:
    table = Table(title=title)
    for column in ("severity", "code", "entry", "message"):
        table.add_column(column)
    for severity in ("errors", "warnings"):
        for item in report.get(severity, []):
            table.add_row(severity[:-1], item["code"], item.get("entry") or "", item["message"])
    if table.row_count:
        console.print(table)


@packages_cli.command("validate")
def packages_validate(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A package zip, or a bare cmi5.xml")],
) -> None:
    """Check a package without storing anything; exit 1 when it would be refused."""
    from app.packages import importer, service as packages_service

    settings = Settings(_env_file=None) if os.environ.get("RMTC_ENV") != "production" else _settings()
    validation = importer.validate_path(file, packages_service.limits(settings))
    parsed = validation.parsed
    if parsed is not None:
        console.print(f"[bold]{file.name}[/bold]: {parsed.standard}{' ' + parsed.edition if parsed.edition else ''}, "
                      f"{len(parsed.units)} launchable unit(s), title {parsed.title}")
        for unit in parsed.units:
            console.print(f"  - {unit.kind:8} {unit.id}: {unit.launch}")
    _print_report(validation.report(), title="Validation report")
    if not validation.ok:
        err.print(f"[red]refused: {len(validation.errors)} error(s)[/red]")
        raise typer.Exit(1)
    console.print("[green]valid[/green]")


@packages_cli.command("import")
def packages_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A package zip, or a bare cmi5.xml")],
    course: Annotated[str | None, typer.Option(help="Add it as a new module of this course (slug)")] = None,
    owner: Annotated[str | None, typer.Option(help="Email of the owning admin/instructor (default: first admin)")] = None,
) -> None:
    """Import a package from the command line (with a progress bar), optionally as a module of a course."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from app.auth.principal import Principal
    from app.core.db import utcnow
    from app.core.errors import AppError
    from app.core.runtime import Runtime
    from app.courses import service as courses_service
    from app.courses.models import ModuleKind
    from app.courses.schemas import ModuleCreate
    from app.packages import service as packages_service
    from app.users.models import Role, User

    settings = _settings()
    if settings.is_sqlite:
        _migrate(settings)
    rt = Runtime.build(settings)
    try:
        with rt.session_factory() as session, session.begin():
            from sqlalchemy import select

            stmt = select(User).where(User.role.in_([Role.admin, Role.instructor]), User.is_active.is_(True))
            stmt = stmt.where(User.email == owner.lower()) if owner else stmt.where(User.role == Role.admin)
            user = session.scalars(stmt.order_by(User.created_at)).first()
            if user is None:
                err.print("[red]No such active admin/instructor: create one with `rmtc users create-admin`.[/red]")
                raise typer.Exit(2)
            principal = Principal(user_id=user.id, email=user.email, role=user.role, country_code=user.country_code,
                                  session_id=uuid.UUID(int=0))
            with file.open("rb") as fh:
                try:
                    version = packages_service.upload(
                        session, rt.storage, settings, principal, fh, size=file.stat().st_size, sha256=None,
                        filename=file.name, package_id=None,
                    )
                except AppError as exc:
                    _print_report(exc.extra.get("report", {}), title="Refused")
                    err.print(f"[red]{exc.detail}[/red]")
                    raise typer.Exit(1) from exc
            version_id, package_id = version.id, version.package_id
        if not packages_service.claim(rt.session_factory, version_id, utcnow()):
            err.print("[yellow]A running server's import worker took the job; see the version's status.[/yellow]")
            return
        with Progress(TextColumn("extracting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("files", total=None)
            status = packages_service.process(
                rt.session_factory, rt.storage, settings, version_id,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        with rt.session_factory() as session, session.begin():
            from app.packages.models import PackageVersion

            version = session.get(PackageVersion, version_id)
            if status.value != "ready":
                _print_report(version.report, title="Import failed")
                err.print(f"[red]{version.error}[/red]")
                raise typer.Exit(1)
            console.print(f"[green]imported[/green] package {package_id} version {version.number}: "
                          f"{version.standard.value}, {version.file_count} files")
            if course:
                course_obj = courses_service.get_course_by_slug(session, principal, course)
                module = courses_service.add_module(session, principal, course_obj.id, ModuleCreate(
                    title={k: v for k, v in version.title.items()} or {"en": file.stem}, kind=ModuleKind.package))
                packages_service.attach_to_module(session, principal, module.id, package_id)
                console.print(f"added as module {module.position} of {course}")
    except AppError as exc:
        err.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    finally:
        rt.close()


@assessments_cli.command("close-expired")
def assessments_close_expired() -> None:
    """Close and grade attempts left open past their deadline (the API processes also do it every
    RMTC_ASSESSMENT_SWEEP_SECONDS; use this from cron when that is 0)."""
    from app.assessments.sweeper import ExpirySweeper
    from app.core.runtime import Runtime

    settings = _settings()
    if settings.is_sqlite:
        _migrate(settings)
    rt = Runtime.build(settings)
    try:
        closed = ExpirySweeper(rt).run_once()
    finally:
        rt.close()
    console.print(f"closed {closed} expired attempt(s)")


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
