FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY adapters ./adapters
COPY schemas ./schemas
COPY config ./config
RUN pip install --no-cache-dir -e . && useradd --system --home /app hub && mkdir -p /data && chown hub /data
USER hub
EXPOSE 8080 8091
CMD ["hub", "serve"]
