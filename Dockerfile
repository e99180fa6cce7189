# slabot in one image: the Procfile's three processes (web, clock, release) are its commands.
#   docker build -t slabot .  ·  docker compose up  (web + clock + PostgreSQL)
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=3000
WORKDIR /app

# the pinned dependencies first (a layer that changes only with requirements.txt)
COPY requirements.txt .
RUN grep -v '^\.$' requirements.txt > /tmp/pins.txt && pip install -r /tmp/pins.txt

COPY pyproject.toml README.md LICENSE manifest.yml ./
COPY examples examples
COPY templates templates
COPY storage storage
COPY bot bot
RUN pip install --no-deps . && useradd --system --home-dir /app slabot
USER slabot

EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['PORT'], timeout=4)"
CMD ["slabot", "serve"]
