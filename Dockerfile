# syntax=docker/dockerfile:1
# One image for web, workers, beat and the one-shot migrate service (docker-compose.yml).
# Few layers on purpose: every layer is a full copy of the filesystem on storage drivers
# such as vfs (docs/deploy.md, "What was measured here").
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    KB_VAR_DIR=/app/var STATIC_ROOT=/app/staticfiles
WORKDIR /app
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--config", "deploy/gunicorn.conf.py"]
# Everything pip installs is in requirements.lock, exact and hashed (bin/lock writes it), so
# two builds of one commit install the same files. torch==2.13.0+cpu comes from PyTorch's CPU
# index; WHEELHOUSE_URL points pip at a folder of those same files instead (an offline build:
# the deploy smoke test serves one on the build host's loopback), and nothing else changes.
# The GPU image (docker-compose.yml, worker-gpu) uses requirements-gpu.lock and the CUDA index.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG LOCK_FILE=requirements.lock
ARG WHEELHOUSE_URL=
COPY ${LOCK_FILE} /tmp/requirements.lock
RUN pip install --require-hashes --no-deps --only-binary=:all: \
        ${WHEELHOUSE_URL:+--no-index --find-links "$WHEELHOUSE_URL"} \
        --extra-index-url "${TORCH_INDEX_URL}" -r /tmp/requirements.lock \
    && rm /tmp/requirements.lock \
    # The app user owns only what it writes: figures (media) and beat's schedule. A named
    # volume mounted there starts with this owner, so a fresh volume is writable too.
    && useradd --create-home --uid 10001 --user-group kb \
    && mkdir -p /app/var/media /app/var/beat \
    && chown -R kb:kb /app/var

COPY . .
# Production settings, so the manifest (staticfiles.json) WhiteNoise serves from is written.
# These values exist only in this build step; nothing is connected to.
RUN DJANGO_DEBUG=0 DJANGO_SECRET_KEY=build-only-not-a-secret METRICS_TOKEN=build-only-not-a-secret \
        DJANGO_ALLOWED_HOSTS=build \
        SITE_URL=https://build.invalid DATABASE_URL=postgres://build@localhost/build \
        CELERY_BROKER_URL=redis://localhost:6379/0 python manage.py collectstatic --noinput -v0
# web, beat and migrate run as kb; the workers run as root inside their container, with only
# the capabilities the cell sandbox needs (docker-compose.yml, x-sandbox).
USER kb
