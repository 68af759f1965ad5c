# myelo-cds as one container: one app replica (run two or more behind deploy/nginx).
#
#   docker build -t myelo-cds:0.1.0 .
#   docker run -d --name myelo-cds -p 127.0.0.1:8501:8501 \
#     -e MYELO_CDS_DATABASE_URL=postgresql+psycopg://myelo_cds:PASSWORD@db-host/myelo_cds \
#     -e STREAMLIT_SERVER_COOKIE_SECRET=... myelo-cds:0.1.0
#
# Without MYELO_CDS_DATABASE_URL the records are a SQLite file in the /data volume.
FROM debian:bookworm-slim

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

USER myelo-cds
ENV MYELO_CDS_DB_PATH=/data/myelo_cds.sqlite3 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8501

# Healthy = ready: the app answers and its database is reachable (GET /readyz; liveness alone
# is /_stcore/health).
HEALTHCHECK --interval=30s --timeout=6s --start-period=20s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/readyz', timeout=5).status != 200)"]

CMD ["/opt/venv/bin/streamlit", "run", "asgi.py", "--server.address", "0.0.0.0", "--server.port", "8501", "--server.headless", "true"]
