#!/bin/sh
# First start: initdb with the superuser POSTGRES_USER whose password is read from the file
# POSTGRES_PASSWORD_FILE (a mounted secret, never the environment); password (SCRAM) logins over
# TCP. Then run the server in the foreground.
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ ! -r "${POSTGRES_PASSWORD_FILE:-}" ]; then
        echo "postgres-entrypoint: POSTGRES_PASSWORD_FILE must name a readable file" >&2
        exit 1
    fi
    initdb -D "$PGDATA" -U "${POSTGRES_USER:-postgres}" --pwfile="$POSTGRES_PASSWORD_FILE" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >/dev/null
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
