# syntax=docker/dockerfile:1
# The RMTC backend. Multi-stage: build the virtualenv, then copy it into a slim runtime image that
# runs as a non-root user (uid 10001). Configure with RMTC_* variables (see README); production
# needs at least RMTC_SECRET_KEY, RMTC_JWT_PRIVATE_KEY(_FILE) and RMTC_DATABASE_URL (PostgreSQL;
# run `rmtc db upgrade` first). Data (SQLite, local files, generated keys) lives in /var/lib/rmtc.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv/rmtc
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY openapi ./openapi
COPY content_packages ./content_packages
# Editable on purpose: Alembic reads its revisions from /srv/rmtc/migrations (app/dbmigrate.py),
# so the source tree is copied to the same path in the final image.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/venv/bin/pip install --no-cache-dir -e /srv/rmtc \
    && python -m compileall -q /srv/rmtc/app /srv/rmtc/migrations

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RMTC_ENV=production \
    RMTC_DATA_DIR=/var/lib/rmtc
RUN groupadd --system --gid 10001 rmtc \
    && useradd --system --uid 10001 --gid rmtc --home-dir /var/lib/rmtc --no-create-home \
       --shell /usr/sbin/nologin rmtc \
    && mkdir -p /var/lib/rmtc \
    && chown rmtc:rmtc /var/lib/rmtc
COPY --from=build /opt/venv /opt/venv
COPY --from=build /srv/rmtc /srv/rmtc
WORKDIR /srv/rmtc
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"]
CMD ["rmtc", "serve", "--host", "0.0.0.0", "--port", "8000"]
