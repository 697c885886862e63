#!/usr/bin/env bash
# Installs with apt what the platform needs from the system when it is missing
# (python3-venv, ffmpeg, RabbitMQ; Chromium and PostgreSQL for the tests), and starts RabbitMQ if it is installed but not running.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
{ command -v ffmpeg && command -v ffprobe; } >/dev/null 2>&1 || missing+=(ffmpeg)
{ command -v rabbitmq-server || [ -x /usr/sbin/rabbitmq-server ]; } >/dev/null 2>&1 || missing+=(rabbitmq-server)
# npm vendors the browser libraries into static/vendor (scripts/vendor-static.sh).
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
# The test suite drives Debian's Chromium with Playwright (it cannot download its own browser).
if [ "${WITH_BROWSER:-0}" = 1 ] && [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
# The suite runs on a throwaway PostgreSQL cluster of its own (scripts/pg-cluster.sh).
if [ "${WITH_POSTGRES:-0}" = 1 ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

broker_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
broker="${CELERY_BROKER_URL:-amqp://guest:guest@127.0.0.1:5672//}"
case "$broker" in
  *@127.0.0.1:5672*|*@localhost:5672*)
    if ! broker_up; then
      echo "==> starting RabbitMQ"
      PATH="$PATH:/usr/sbin" "${sudo_cmd[@]}" rabbitmq-server -detached
      for _ in $(seq 1 90); do broker_up && break; sleep 1; done
      broker_up || { echo "RabbitMQ did not start on 127.0.0.1:5672" >&2; exit 1; }
    fi
    # Long transcodes are acked when done: lift the 30 min consumer_timeout on the
    # local broker to the value deploy/rabbitmq.conf sets in docker-compose.
    timeout_ms=$(sed -n 's/^consumer_timeout = //p' deploy/rabbitmq.conf)
    PATH="$PATH:/usr/sbin" "${sudo_cmd[@]}" rabbitmqctl eval \
      "application:set_env(rabbit, consumer_timeout, ${timeout_ms})." >/dev/null 2>&1 \
      || echo "note: could not raise RabbitMQ's consumer_timeout (see docs/reliability-and-security.md)" >&2
    ;;
esac
