# One image for every process role; the command picks the role (docs/deployment.md):
#   clinic serve --host 0.0.0.0 --port 8000 --no-projectors   the HTTP API (the default below)
#   clinic project                                             read-model projectors, reminders
#   clinic relay --metrics-port 9464 --metrics-host 0.0.0.0    the outbox relay to Kafka
#   clinic notify --metrics-port 9465 --metrics-host 0.0.0.0   email from the Kafka topics
#   clinic migrate                                             schema set-up, then exit
# Nothing on the development machine can build or run images: this file is checked by
# hadolint in ./run test (tests/integration/test_deployment_artifacts.py) and built by CI.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: compilers and pip caches stay in this stage ----
FROM ${PYTHON_IMAGE} AS build
# A compiler for any dependency without a wheel for the platform (e.g. arm64). Debian's
# package versions are not pinned: the stage is thrown away and bookworm only takes fixes.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /app
COPY pyproject.toml README.md ./
COPY avro/ avro/
COPY domain/ domain/
COPY commands/ commands/
COPY queries/ queries/
COPY projections/ projections/
COPY infra/ infra/
COPY web/ web/
# Editable: the code stays in /app, where infra/messaging/avro.py finds the Avro schemas
# (avro/ beside the packages); the final stage copies /app and /opt/venv to the same paths.
RUN /opt/venv/bin/pip install -e . \
    && /opt/venv/bin/python -m compileall -q /app

# ---- runtime: no compiler, no apt lists, no pip cache, not root ----
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 clinic \
    && useradd --system --uid 10001 --gid clinic --home-dir /var/lib/clinic \
       --shell /usr/sbin/nologin clinic \
    && install -d -o clinic -g clinic -m 0750 /var/lib/clinic
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CLINIC_MODE=production \
    CLINIC_DATA_DIR=/var/lib/clinic \
    CLINIC_HEALTHCHECK_URL=http://127.0.0.1:8000/healthz
WORKDIR /var/lib/clinic
USER 10001:10001
EXPOSE 8000
# The API answers /healthz; the relay and notifier answer /metrics on their --metrics-port
# (point CLINIC_HEALTHCHECK_URL there); `clinic project` serves nothing (disable the check).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['CLINIC_HEALTHCHECK_URL'], timeout=4)"]
ENTRYPOINT ["clinic"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--no-projectors"]
