#!/usr/bin/env bash
# The test suite: lint, then every test (pipeline, services, views, end-to-end with
# real workers, RabbitMQ and an S3 endpoint). Uses PostgreSQL when one answers on
# 127.0.0.1:5432 (as in CI) unless DATABASE_URL says otherwise; SQLite if none does.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

if [ -z "${DATABASE_URL:-}" ]; then
  local_pg="postgres://postgres@127.0.0.1:5432/postgres"
  if command -v psql >/dev/null && psql "$local_pg" -qtAc 'select 1' >/dev/null 2>&1; then
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/mediaplatform"
  fi
fi
echo "==> database: ${DATABASE_URL:-SQLite (no PostgreSQL answered)}"

"$VENV/bin/ruff" check .
# The layers (pyproject.toml [tool.importlinter]): a wrong import arrow fails here.
"$VENV/bin/lint-imports"
# pytest exits 5 when it collected nothing; set -e turns that into a failure too.
"$VENV/bin/pytest" "$@"
