# The Telegram bot. Database on the /data volume; mount your own content at /content and set
# TRIAGE_CONTENT_DIR=/content to run with edited content.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 triage \
    && mkdir /data && chown triage:triage /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY flows ./flows
COPY templates ./templates
COPY content ./content
RUN pip install . && rm -rf /app/build

ENV TRIAGE_DB=/data/triage.db
VOLUME ["/data"]
USER triage
# The web page (`python -m bot web --host 0.0.0.0`) listens here; the bot itself needs no port.
EXPOSE 8080
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "run"]
