#!/usr/bin/env bash
# The test suite: lint, then every test (pipeline, services, views, end-to-end with
# real workers, RabbitMQ and an S3 endpoint) on PostgreSQL, the database deployments use:
# a throwaway cluster of its own (scripts/pg-cluster.sh), stopped and removed afterwards.
# DATABASE_URL, when set, names another PostgreSQL instead.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

if [ -z "${DATABASE_URL:-}" ]; then
  MEDIA_TEST_PGDATA=$(mktemp -d "${TMPDIR:-/tmp}/mediaplatform-pg.XXXXXX")
  export MEDIA_TEST_PGDATA  # the database-outage tests stop and start this cluster
  trap 'scripts/pg-cluster.sh stop "$MEDIA_TEST_PGDATA" 2>/dev/null || true; rm -rf "$MEDIA_TEST_PGDATA"' EXIT
  DATABASE_URL=$(scripts/pg-cluster.sh init "$MEDIA_TEST_PGDATA")
  export DATABASE_URL
fi
case "$DATABASE_URL" in
  postgres://*|postgresql://*) echo "==> database: $DATABASE_URL" ;;
  *) echo "make test runs on PostgreSQL; DATABASE_URL is $DATABASE_URL" >&2; exit 2 ;;
esac

"$VENV/bin/ruff" check .
# The layers (pyproject.toml [tool.importlinter]): a wrong import arrow fails here.
"$VENV/bin/lint-imports"
# pytest exits 5 when it collected nothing; set -e turns that into a failure too.
"$VENV/bin/pytest" "$@"
