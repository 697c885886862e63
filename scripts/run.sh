#!/usr/bin/env bash
# Runs web + worker + Flower from the Procfile on the embedded defaults
# (SQLite, filesystem storage, local RabbitMQ), then prints where to go.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

if [ ! -f .env ]; then
  # Secrets made once for this checkout; .env is git-ignored and read by honcho too.
  {
    echo "DJANGO_SECRET_KEY=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(50))')"
    echo "FLOWER_BASIC_AUTH=flower:$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(12))')"
  } > .env
  echo "==> wrote .env with a new secret key and Flower password"
fi
set -a; . ./.env; set +a
export PATH="$PWD/$VENV/bin:$PATH"  # the Procfile names gunicorn and celery

"$VENV/bin/python" manage.py migrate --noinput
"$VENV/bin/python" manage.py collectstatic --noinput -v 0
"$VENV/bin/python" manage.py storage_setup
"$VENV/bin/python" manage.py ensure_admin

"$VENV/bin/honcho" start -f Procfile &
honcho_pid=$!
trap 'kill $honcho_pid 2>/dev/null; wait $honcho_pid 2>/dev/null' INT TERM EXIT

web="http://${WEB_BIND:-127.0.0.1:8000}/"
web_up() { "$VENV/bin/python" -c "import urllib.request; urllib.request.urlopen('${web}accounts/login/', timeout=1)" 2>/dev/null; }
for _ in $(seq 1 60); do
  web_up && break
  kill -0 $honcho_pid 2>/dev/null || exit 1  # honcho has already said why
  sleep 1
done
web_up || { echo "The web server did not answer at ${web} within 60 s." >&2; exit 1; }
cat <<MSG

  Media platform is running:
    App     ${web}
    Admin   ${web}admin/
    Flower  http://127.0.0.1:${FLOWER_PORT:-5555}/   (user:password = ${FLOWER_BASIC_AUTH})
  Ctrl-C stops everything.

MSG
wait $honcho_pid
