# syntax=docker/dockerfile:1
# One image for every service; the command picks which one runs:
#   docker run pos-orders api | publisher | consumer | third-party | migrate | status
# The same `pos` commands the test suite runs natively.

ARG PYTHON_IMAGE=python:3.11-slim

# uv at the version the Makefile bootstraps, so the image resolves exactly like `make`.
FROM ghcr.io/astral-sh/uv:0.13.8 AS uv

# --- build: the virtual environment, from the lock file only ---------------------------------
FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first, in their own layer: it is rebuilt only when uv.lock changes, not on
# every source edit. --frozen refuses a lock file that disagrees with pyproject.toml.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project
# Then the project itself, installed as a regular (non-editable) package, so the runtime
# stage needs the virtual environment and nothing else from this stage.
COPY README.md ./
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

# --- runtime: slim, no compiler, no uv, not root ---------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# The third party's receipts directory exists in the image, owned by pos, so a named volume
# mounted there starts with that owner instead of root.
RUN groupadd --system --gid 10001 pos \
    && useradd --system --uid 10001 --gid pos --home-dir /var/lib/pos --create-home pos \
    && install -d -o pos -g pos /var/lib/pos/simulated_third_party
COPY --from=build /app/.venv /app/.venv
# State the services write (the third party's receipts; `pos infra` pid files) goes to the
# pos user's home, a volume in docker-compose.yml. Servers listen on every interface of the
# container; which ones are published is compose's business.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LOG_FORMAT=json \
    POS_STATE_DIR=/var/lib/pos \
    TP_STORE_PATH=/var/lib/pos/simulated_third_party/receipts.jsonl \
    API_HOST=0.0.0.0 \
    PUBLISHER_METRICS_HOST=0.0.0.0
USER pos
WORKDIR /var/lib/pos
# API, third party, publisher metrics, consumer metrics (the settings' defaults).
EXPOSE 8000 8081 9101 9102
ENTRYPOINT ["pos"]
CMD ["api"]
