FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY adapters ./adapters
COPY schemas ./schemas
COPY config ./config
# /data (simulators' stores), /keys (generated keys, shared by the hub's processes) and /pki
# (development certificates) are volumes the unprivileged user must be able to write.
RUN pip install --no-cache-dir -e . && useradd --system --home /app hub && mkdir -p /data /keys /pki && chown hub /data /keys /pki
USER hub
EXPOSE 8080 8091-8096
CMD ["hub", "serve"]
