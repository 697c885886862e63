# One image for web, worker, beat and flower: Debian slim with Debian's ffmpeg.
# The browser libraries (Uppy, hls.js, htmx) are vendored from npm in a build stage.
FROM node:20-bookworm-slim AS static
WORKDIR /build
COPY package.json package-lock.json ./
COPY scripts/vendor-static.sh scripts/
RUN mkdir static && scripts/vendor-static.sh

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=mediaplatform.settings
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 media

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
COPY --from=static /build/static/vendor static/vendor
RUN DJANGO_DEBUG=1 python manage.py collectstatic --noinput -v 0 \
    && mkdir -p /data && chown media /data

USER media
ENV MEDIA_DATA_DIR=/data
EXPOSE 8000
CMD ["gunicorn", "mediaplatform.wsgi", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--workers", "2", "--threads", "4", "--timeout", "120", "--access-logfile", "-"]
