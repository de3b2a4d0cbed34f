FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY adapters ./adapters
COPY schemas ./schemas
COPY config ./config
# /data (simulators' stores), /keys (generated keys, shared by the hub's processes), /audit (the audit
# trail's checkpoints) and /pki (development certificates) are volumes the unprivileged user must be able
# to write.
RUN pip install --no-cache-dir -e . && useradd --system --home /app hub && mkdir -p /data /keys /audit /pki \
    && chown hub /data /keys /audit /pki && chmod 700 /audit
USER hub
EXPOSE 8080 8091-8096
CMD ["hub", "serve"]
