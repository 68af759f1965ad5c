# myelo-cds as one container: one app replica (run two or more behind deploy/nginx).
#
#   docker build -t myelo-cds:0.1.0 .
#   docker run -d --name myelo-cds -p 127.0.0.1:8501:8501 -v myelo-cds-data:/data \
#     -v /etc/myelo-cds/cookie_secret:/run/secrets/cookie_secret:ro \
#     -v /etc/myelo-cds/database_url:/run/secrets/database_url:ro myelo-cds:0.1.0
#
# With PostgreSQL, first run the migration as the schema's owner in a one-off container
# (`... myelo-cds:0.1.0 /app/start.sh migrate`, with the owner's URL mounted as
# migration_database_url: see deploy/docker/start.sh); the replicas get the app role's URL only.
#
# Secrets are files mounted into /run/secrets (deploy/docker/start.sh reads them), never
# `-e NAME=value` (shown by `docker inspect`). Without a database_url the records are a SQLite
# file in the /data volume; the teaching cases are in /data/cases either way.
#
# The base image is pinned by digest (a tag moves); to update it, look up the digest of the new
# build (`docker buildx imagetools inspect debian:bookworm-slim`), replace it here, rebuild and
# run the tests.
FROM debian:bookworm-slim@sha256:7b140f374b289a7c2befc338f42ebe6441b7ea838a042bbd5acbfca6ec875818

# The same Debian packages as `./run app`: Python 3.11 with venv, and the fonts the PDFs embed.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3 python3-venv fonts-dejavu-core ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# The runtime lock: pyproject.toml's dependencies without the dev extra (tests, linters,
# browser driver), at the versions of the development lock, each checked against its hash.
COPY requirements-runtime.txt /tmp/requirements-runtime.txt
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes \
        -r /tmp/requirements-runtime.txt \
    && rm /tmp/requirements-runtime.txt

# A dedicated user that owns nothing but the records volume; the code is root's, read-only.
RUN useradd --system --uid 10001 --user-group --home-dir /nonexistent --shell /usr/sbin/nologin myelo-cds \
    && install -d -o myelo-cds -g myelo-cds -m 0700 /data
WORKDIR /app
COPY .streamlit/ .streamlit/
COPY alembic.ini app.py asgi.py ./
COPY migrations/ migrations/
COPY data/ data/
COPY myelo_cds/ myelo_cds/
COPY pages/ pages/
COPY static/ static/
COPY deploy/docker/start.sh start.sh

USER myelo-cds
ENV MYELO_CDS_DB_PATH=/data/myelo_cds.sqlite3 \
    MYELO_CDS_CASES_DIR=/data/cases \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8501

# Healthy = ready: the app answers and its database is reachable (GET /readyz; liveness alone
# is /_stcore/health).
HEALTHCHECK --interval=30s --timeout=6s --start-period=20s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/readyz', timeout=5).status != 200)"]

# deploy/docker/start.sh: secrets from files, the case library seeded, then
# `streamlit run asgi.py` on port 8501.
CMD ["/app/start.sh"]
