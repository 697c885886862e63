#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite, in a folder of its own, on a free
# 127.0.0.1 port and a Unix socket in that folder. It never touches a system cluster.
#
#   scripts/pg-cluster.sh init DIR    create it (once), start it, print its DATABASE_URL
#   scripts/pg-cluster.sh start DIR   start it again (same port): a fault test's "database is back"
#   scripts/pg-cluster.sh stop DIR    stop it (fast: open connections are cut, as in an outage)
#   scripts/pg-cluster.sh url DIR     print its DATABASE_URL
#
# initdb refuses to run as root, so as root the cluster belongs to the `postgres` user.
set -euo pipefail

cmd=${1:?usage: pg-cluster.sh init|start|stop|url DIR}
dir=${2:?usage: pg-cluster.sh init|start|stop|url DIR}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bindir/initdb" ] || { echo "PostgreSQL's server is not installed (scripts/ensure-system.sh)" >&2; exit 1; }

as_owner=()
if [ "$(id -u)" -eq 0 ]; then as_owner=(runuser -u postgres --); fi
pg_ctl() { "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" "$@"; }

url() { echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/mediaplatform"; }

case "$cmd" in
  init)
    mkdir -p "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      [ ${#as_owner[@]} -eq 0 ] || chown postgres "$dir"
      "${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
      python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' > "$dir/port"
      # Speed over durability: the data is thrown away after the run.
      # https://www.postgresql.org/docs/current/non-durability.html
      cat >> "$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $(cat "$dir/port")
unix_socket_directories = '$dir'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    fi
    pg_ctl -w -t 60 start >/dev/null
    url
    ;;
  start) pg_ctl -w -t 60 start >/dev/null ;;
  stop) pg_ctl -w -t 60 -m fast stop >/dev/null ;;
  url) url ;;
  *) echo "usage: pg-cluster.sh init|start|stop|url DIR" >&2; exit 2 ;;
esac
