# syntax=docker/dockerfile:1
# Multi-stage image of the RMTC backend: build the virtualenv, then copy it into a slim runtime
# image that runs as a non-root user. Configure with RMTC_* variables (see README).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv/rmtc
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY openapi ./openapi
COPY content_packages ./content_packages
# Editable on purpose: Alembic reads its revisions from /srv/rmtc/migrations.
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --upgrade pip && /opt/venv/bin/pip install -e /srv/rmtc

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RMTC_ENV=production \
    RMTC_DATA_DIR=/var/lib/rmtc
RUN groupadd --system --gid 10001 rmtc \
    && useradd --system --uid 10001 --gid rmtc --home-dir /var/lib/rmtc --shell /usr/sbin/nologin rmtc \
    && mkdir -p /var/lib/rmtc && chown rmtc:rmtc /var/lib/rmtc
COPY --from=build /opt/venv /opt/venv
COPY --from=build /srv/rmtc /srv/rmtc
WORKDIR /srv/rmtc
USER rmtc
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"]
CMD ["rmtc", "serve", "--host", "0.0.0.0", "--port", "8000"]
