#!/usr/bin/env bash
# Start a MariaDB server for InterCode-SQL on 127.0.0.1 and load InterCode's Spider dump into it.
#
# Usage: bash tools/mariadb.sh [start|stop|status]      (default: start)
# Environment: LEMUR_MARIADB_DIR  data directory   (default: ~/.cache/lemur/mariadb)
#              LEMUR_MARIADB_PORT port             (default: 3307, InterCode's)
#              LEMUR_DATA_DIR     data mirror holding intercode/data/sql/spider/ic_spider_dbs.sql
#                                 (default: ../shared/data beside the repository, if present)
# Needs Debian's mariadb-server (apt-get install mariadb-server). The user is admin/admin, as
# InterCode's environment expects; the server listens on 127.0.0.1 only. Starting twice is harmless.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${LEMUR_MARIADB_DIR:-$HOME/.cache/lemur/mariadb}
port=${LEMUR_MARIADB_PORT:-3307}
socket="$dir/mysqld.sock"
data_root=${LEMUR_DATA_DIR:-$repo/../shared/data}
dump="$data_root/intercode/data/sql/spider/ic_spider_dbs.sql"

client() { mariadb --protocol=socket --socket="$socket" -uroot "$@"; }
running() { [ -S "$socket" ] && client -e 'SELECT 1' >/dev/null 2>&1; }

case "${1:-start}" in
stop)
    if running; then kill "$(cat "$dir/mysqld.pid")"; echo "mariadb: stopped"; else echo "mariadb: not running"; fi
    exit 0 ;;
status)
    if running; then echo "mariadb: running on 127.0.0.1:$port ($dir)"; else echo "mariadb: not running"; exit 1; fi
    exit 0 ;;
start) ;;
*) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac

command -v mariadbd >/dev/null || command -v /usr/sbin/mariadbd >/dev/null || {
    echo "mariadb: mariadbd not found; install it with: apt-get install mariadb-server" >&2; exit 2; }
[ -f "$dump" ] || { echo "mariadb: dump not found at $dump (set LEMUR_DATA_DIR to a data mirror)" >&2; exit 2; }

if ! running; then
    mkdir -p "$dir"
    if [ ! -d "$dir/db/mysql" ]; then
        mariadb-install-db --no-defaults --datadir="$dir/db" --auth-root-authentication-method=normal \
            --skip-test-db --user="$(id -un)" >"$dir/install.log" 2>&1
    fi
    /usr/sbin/mariadbd --no-defaults --datadir="$dir/db" --socket="$socket" --pid-file="$dir/mysqld.pid" \
        --port="$port" --bind-address=127.0.0.1 --lower_case_table_names=1 --user="$(id -un)" \
        --skip-log-bin >"$dir/server.log" 2>&1 &
    for _ in $(seq 1 60); do running && break; sleep 0.5; done
    running || { echo "mariadb: server did not start; see $dir/server.log" >&2; tail -5 "$dir/server.log" >&2; exit 1; }
fi

loaded=$(client -N -e "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'world_1'")
if [ "$loaded" = "0" ]; then
    # MariaDB rejects MySQL 8's DEFAULT ENCRYPTION clause; everything else loads as is.
    sed "s|/\*!80016 DEFAULT ENCRYPTION='N' \*/||" "$dump" | client
    echo "mariadb: loaded $(basename "$dump")"
fi
echo "mariadb: running on 127.0.0.1:$port (user admin/admin, data in $dir)"
