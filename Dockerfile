# Two images from one file. The default, `production`, is the hub alone: `hub serve` and the operators'
# and contract commands, without the simulators or the demo (a development tool has no place next to
# partners' data). `development` (docker compose builds it for the simulators) has everything.
FROM python:3.11-slim AS source
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY adapters ./adapters
COPY schemas ./schemas
COPY config ./config

FROM source AS trimmed
RUN rm -r hub/simulation adapters/*/simulator.py

FROM python:3.11-slim AS development
WORKDIR /app
COPY --from=source /src ./
# /data (simulators' stores), /keys (generated keys, shared by the hub's processes), /audit (the audit
# trail's checkpoints) and /pki (development certificates) are volumes the unprivileged user must be able
# to write.
RUN pip install --no-cache-dir -e . && useradd --system --home /app hub && mkdir -p /data /keys /audit /pki \
    && chown hub /data /keys /audit /pki && chmod 700 /audit
USER hub
EXPOSE 8080 8091-8096
CMD ["hub", "serve"]

FROM python:3.11-slim AS production
WORKDIR /app
COPY --from=trimmed /src ./
RUN pip install --no-cache-dir -e . && useradd --system --home /app hub && mkdir -p /keys /audit /pki \
    && chown hub /keys /audit /pki && chmod 700 /audit
USER hub
EXPOSE 8080
CMD ["hub", "serve"]
