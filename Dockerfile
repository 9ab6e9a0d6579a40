# The Casework image: one image for `casework worker`, `casework projector` and
# `casework setup` (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CASEWORK_LOG_FORMAT=json \
    CASEWORK_DATA_DIR=/var/lib/casework

# Pango and a font for the plan printed as PDF (WeasyPrint, application/plan_document.py).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . /app
RUN pip install . \
    && useradd --system --create-home --home-dir /var/lib/casework casework

USER casework
CMD ["casework", "worker"]
