# The MPSP triage bot: the Telegram bot by default; the web page, the health check, backups and
# `content check` run from the same image. README, "Running it in production", says how.
#
# Stage 1 builds a wheel from the source with the locked build backend, and installs it with
# exactly the locked dependencies (every file's hash checked) into /opt/triage. The last stage
# copies only that environment: no source tree, compiler or build tool (not even pip), and
# nothing on the import path but the installed, byte-compiled package.
#
#   docker build -t mpsp-triage .                         the bot and the web page
#   docker build --target tools -t mpsp-triage-tools .    the same, plus the team's and
#                                                         editors' tools (report, review...)

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# The locks first: this layer is rebuilt only when they change. /opt/triage gets no pip or
# setuptools of its own: the build environment's pip installs into it (--python).
COPY requirements.lock requirements-build.lock ./
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --no-deps --only-binary=:all: \
        -r requirements-build.lock \
    && python -m venv --without-pip /opt/triage \
    && /opt/build/bin/pip --python /opt/triage/bin/python install --require-hashes --no-deps \
        --only-binary=:all: -r requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY flows ./flows
COPY templates ./templates
COPY content ./content
# Byte-compiled with hashes, not timestamps: the same source gives the same files, and Python
# never needs to write .pyc files at run time (the user cannot, and need not).
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && /opt/build/bin/pip --python /opt/triage/bin/python install --no-deps --no-index \
        /wheels/*.whl \
    && /opt/triage/bin/python -m compileall -q -f -j 0 --invalidation-mode unchecked-hash \
        /opt/triage/lib

# The team's and editors' tools (rich, textstat, graphviz, Datasette, and the pip and
# setuptools Datasette and textstat need) on top, from their lock.
FROM build AS build-tools
COPY requirements-tools.lock ./
RUN /opt/build/bin/pip --python /opt/triage/bin/python install --require-hashes --no-deps \
        --only-binary=:all: -r requirements-tools.lock \
    && /opt/triage/bin/python -m compileall -q -f -j 0 --invalidation-mode unchecked-hash \
        /opt/triage/lib

FROM python:3.11-slim AS runtime
ENV PATH=/opt/triage/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONSAFEPATH=1 \
    TRIAGE_DB=/data/triage.db \
    TRIAGE_WEBHOOK_LISTEN=0.0.0.0 \
    TRIAGE_METRICS_LISTEN=0.0.0.0
# uid 10001, not root. The marker file tells the bot it runs in this image, so advice about
# the data folder is for the host (see bot/store/).
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/triage triage \
    && mkdir /data /backups && chown 10001:10001 /data /backups \
    && echo "mpsp-triage image: runs as uid 10001, data in /data" >/etc/mpsp-triage-image
WORKDIR /home/triage
VOLUME ["/data"]
# The web page (`python -m bot web --host 0.0.0.0`) and the webhook (`run --webhook`) listen
# here; polling needs no port. /metrics listens on TRIAGE_METRICS_PORT when that is set.
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot", "health"]
CMD ["python", "-m", "bot", "run"]

# `--target tools`: the default image plus the team's and editors' tools.
FROM runtime AS tools
COPY --from=build-tools /opt/triage /opt/triage
USER 10001:10001

# `--target review`: the name the tools image had before 0.3.0.
FROM tools AS review

# The default (last) stage: the bot and the web page.
FROM runtime
COPY --from=build /opt/triage /opt/triage
USER 10001:10001
