# syntax=docker/dockerfile:1
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# CPU wheel of torch: the pinned torch==2.13.0 resolves from PyTorch's CPU index here.
# The GPU worker image passes TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
COPY requirements.txt .
RUN pip install --no-cache-dir --extra-index-url "${TORCH_INDEX_URL}" -r requirements.txt

COPY . .
# Production settings, so the manifest (staticfiles.json) that whitenoise serves from is written.
# These values exist only in this build step; nothing is connected to.
RUN DJANGO_DEBUG=0 DJANGO_SECRET_KEY=build-only-not-a-secret DJANGO_ALLOWED_HOSTS=build SITE_URL=http://build \
        DATABASE_URL=postgres://build@localhost/build CELERY_BROKER_URL=redis://localhost:6379/0 \
        python manage.py collectstatic --noinput \
    && useradd --system --create-home --uid 10001 kb \
    && mkdir -p /app/var && chown -R kb /app/var
USER kb

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
