#!/bin/sh
# Start one myelo-cds replica in the container (the Dockerfile's CMD), from /app; or, as
# `start.sh migrate`, migrate the record database as the schema's owner and exit.
#
# Secrets are read from files mounted into /run/secrets (docker run -v FILE:/run/secrets/NAME:ro,
# or Compose/Swarm secrets), never given as `docker run -e NAME=value`: an environment value
# given that way is shown by `docker inspect` and kept in shell histories.
#   cookie_secret   -> STREAMLIT_SERVER_COOKIE_SECRET (the same on every replica)
#   database_url    -> MYELO_CDS_DATABASE_URL (the app's role: it owns nothing)
#   migration_database_url -> MYELO_CDS_MIGRATION_DATABASE_URL, the schema owner's, for
#                      `start.sh migrate` only; a replica refuses to start with it mounted
#
# PostgreSQL runs with two roles: before starting (or updating) the replicas, run once
#   docker run --rm -v /etc/myelo-cds/database_url:/run/secrets/database_url:ro \
#     -v /etc/myelo-cds/migration_database_url:/run/secrets/migration_database_url:ro \
#     myelo-cds:0.1.0 /app/start.sh migrate
# which brings the schema to this release as the owner and grants the app's role read and
# append only. The replicas get database_url alone, so none of them holds the owner's password.
# With SQLite (no database_url) there is one role and the replica migrates its file itself.
# Single sign-on's [auth] section is Streamlit's secrets file, mounted read-only at
# /app/.streamlit/secrets.toml.
set -eu

secrets_dir="${MYELO_CDS_SECRETS_DIR:-/run/secrets}"
if [ -r "$secrets_dir/cookie_secret" ]; then
    STREAMLIT_SERVER_COOKIE_SECRET="$(cat "$secrets_dir/cookie_secret")"
    export STREAMLIT_SERVER_COOKIE_SECRET
fi
if [ -r "$secrets_dir/database_url" ]; then
    MYELO_CDS_DATABASE_URL="$(cat "$secrets_dir/database_url")"
    export MYELO_CDS_DATABASE_URL
fi

if [ "${1:-}" = "migrate" ]; then
    if [ -r "$secrets_dir/migration_database_url" ]; then
        MYELO_CDS_MIGRATION_DATABASE_URL="$(cat "$secrets_dir/migration_database_url")"
        export MYELO_CDS_MIGRATION_DATABASE_URL
    fi
    exec "${MYELO_CDS_PYTHON:-/opt/venv/bin/python}" -m myelo_cds migrate
fi
if [ -e "$secrets_dir/migration_database_url" ]; then
    echo "myelo-cds refuses to start: the schema owner's secret (migration_database_url) is" \
        "mounted into a replica; mount it only into the one-off 'start.sh migrate' container" >&2
    exit 2
fi

# The teaching-case library lives in the writable volume (the code in /app is read-only to the
# app's user): the shipped cases are copied in, never over a case already there.
if [ -n "${MYELO_CDS_CASES_DIR:-}" ]; then
    mkdir -p "$MYELO_CDS_CASES_DIR"
    cp -R -n data/cases/. "$MYELO_CDS_CASES_DIR"/
fi

# 0.0.0.0 inside the container: publish the port on the host's loopback only
# (-p 127.0.0.1:8501:8501) and reach it through nginx. The development mode (no sign-in) is
# refused on this address.
exec "${MYELO_CDS_STREAMLIT:-/opt/venv/bin/streamlit}" run asgi.py \
    --server.address 0.0.0.0 --server.port 8501 --server.headless true "$@"
