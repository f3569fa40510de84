# syntax=docker/dockerfile:1
#
# ARVlite application image. The same image runs every process: the API
# (default CMD), the Celery workers, the single beat and the one-shot
# migration. docker-compose.yml shows the command for each.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# Node.js for the MindAR target compiler (app/utils/mind_compile.mjs). Bookworm, like the
# Python image, so that its binary and the compiled canvas module run in the runtime stage.
ARG NODE_IMAGE=node:20-bookworm-slim

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
# Stage 2: install the Node packages from package-lock.json. mind-ar's `canvas`
# is compiled here against Debian's Cairo, Pango and image libraries (as
# scripts/bootstrap.sh does for `make run`); the runtime stage has their
# runtime halves.
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS node-deps

RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       build-essential python3 pkg-config \
       libcairo2-dev libpango1.0-dev libjpeg-dev libgif-dev librsvg2-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/arvlite
COPY package.json package-lock.json ./
# Node's headers from this image (no download); peer-only packages are mind-ar's
# development server, never used.
RUN npm_config_build_from_source=true npm_config_nodedir=/usr/local \
    npm ci --omit=peer --no-audit --no-fund

# ---------------------------------------------------------------------------
# Stage 3: runtime image.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# ffmpeg/ffprobe for the media pipeline, curl for health checks, DejaVu fonts
# for the printable marker sheets and the invoices (Latin and Cyrillic), and the
# libraries the compiled canvas module links against.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg curl fonts-dejavu-core \
       libcairo2 libpango-1.0-0 libpangocairo-1.0-0 libjpeg62-turbo libgif7 librsvg2-2 \
    && rm -rf /var/lib/apt/lists/*

# Node itself (one binary) for the workers' marker compiles; npm stays behind.
COPY --from=node-deps /usr/local/bin/node /usr/local/bin/node

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
# Beside ARV/, where app.utils.mind_compiler looks for it.
COPY --from=node-deps /srv/arvlite/node_modules ./node_modules
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
