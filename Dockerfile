# syntax=docker/dockerfile:1
#
# ARVlite application image. The same image runs every process: the API
# (default CMD), the Celery workers, the single beat and the one-shot
# migration. docker-compose.yml shows the command for each.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------
# Stage 1: install the Python dependencies into a virtualenv.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS deps

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# Requirements first, so this layer is rebuilt only when they change.
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt

# ---------------------------------------------------------------------------
# Stage 2: runtime image.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# ffmpeg/ffprobe for the media pipeline, curl for health checks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg curl \
    && rm -rf /var/lib/apt/lists/*

# Unprivileged user the processes run as.
RUN groupadd --gid 10001 arv \
    && useradd --uid 10001 --gid arv --no-create-home \
       --home-dir /srv/arvlite --shell /usr/sbin/nologin arv

COPY --from=deps /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/srv/arvlite/ARV \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VAR_DIR=/var/lib/arvlite

WORKDIR /srv/arvlite

COPY alembic.ini ./alembic.ini
COPY ARV/ ./ARV/

# Writable directory for local state (VAR_DIR; also the beat schedule file).
# Named volumes mounted here inherit this ownership on first use.
RUN mkdir -p /var/lib/arvlite \
    && chown arv:arv /var/lib/arvlite

USER arv

EXPOSE 8000

# Liveness only: /health has no dependencies. Worker, beat and migrate
# containers override or disable this in docker-compose.yml.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/health || exit 1

CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", "--forwarded-allow-ips=*"]
