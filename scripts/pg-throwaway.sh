#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the benchmark scripts (the tests have
# their own, tests/pg_support): Debian's postgresql server (installed with
# apt-get when missing), initdb into DIR as the postgres user when run as
# root, loopback only, trust authentication, fsync on (durable commits, as
# in production).
#
#   scripts/pg-throwaway.sh start DIR PORT   # prints the URL of database "tradecloud"
#   scripts/pg-throwaway.sh stop DIR
set -euo pipefail

bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
        echo "installing Debian's postgresql ..." >&2
        local sudo=
        [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends postgresql >&2
        dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    fi
    echo "$dir"
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
    DIR=$2 PORT=$3
    BIN=$(bindir)
    mkdir -p "$DIR"
    if [ "$(id -u)" = 0 ]; then
        chown postgres:postgres "$DIR"
        # The postgres user must reach DIR: a mktemp -d parent is 0700.
        chmod a+x "$(dirname "$DIR")"
    fi
    as_owner "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust --encoding=UTF8 >/dev/null
    cat >>"$DIR/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
shared_buffers = 256MB
CONF
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/data/server.log" -w start >/dev/null
    "$BIN/psql" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE tradecloud" >/dev/null
    echo "postgres://postgres@127.0.0.1:$PORT/tradecloud"
    ;;
stop)
    DIR=$2
    BIN=$(bindir)
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
*)
    sed -n '2,11p' "$0"
    exit 2
    ;;
esac
