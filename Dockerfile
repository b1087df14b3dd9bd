# bestseller-cli for Railway: an hourly cron job that runs one `bestseller check` pass and exits.
# Reproducible: the base image is pinned to a patch release and its digest (the multi-arch
# index of python:3.12.12-slim, as Docker Hub served it on 2026-08-14; bump both together
# with `docker buildx imagetools inspect python:3.12.X-slim`), and every Python package comes
# from a lock file with hashes (regenerate with the command at the top of each lock file).
# Production talks to PostgreSQL through DATABASE_URL, so the embedded server (the optional
# `embedded` extra) is never installed. Secrets come from the environment at run time.

FROM python:3.12.12-slim@sha256:f3fa41d74a768c2fce8016b98c191ae8c1bacd8f1152870a3f9f87d350920b7c AS builder

# pip precompiles the venv's bytecode here, so the read-only runtime never writes any.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src

# The build backend, from its own lock, in an environment the image leaves behind.
COPY requirements-build.lock ./
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --no-cache-dir --require-hashes -r requirements-build.lock

# The runtime dependencies exactly as locked: nothing is resolved at build time.
COPY requirements.lock ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r requirements.lock

COPY pyproject.toml README.md ./
COPY bestseller_cli ./bestseller_cli
RUN /opt/build/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-cache-dir --no-deps /wheels/*.whl \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/bestseller --help > /dev/null

FROM python:3.12.12-slim@sha256:f3fa41d74a768c2fce8016b98c191ae8c1bacd8f1152870a3f9f87d350920b7c AS runtime

# Railway reads each log line as one JSON object (LOG_FORMAT in the README).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LOG_FORMAT=json \
    PATH="/opt/venv/bin:$PATH"

# DejaVu Sans, the font the charts posted to Slack (SLACK_CHARTS) draw their text with; the
# slim image has no font at all. Debian's stable release keeps this package at one version.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 10001 bestseller \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin bestseller

COPY --from=builder /opt/venv /opt/venv

USER 10001:10001
WORKDIR /home/bestseller

# A cron job has no endpoint to probe; Railway judges a run by its exit code.
HEALTHCHECK NONE
ENTRYPOINT ["bestseller"]
CMD ["check"]
