# Production image: one image for web (gunicorn), worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# collectstatic needs settings to load; these throwaway values never reach runtime.
RUN SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost READ_DOT_ENV_FILE=false \
    FIELD_ENCRYPTION_KEYS=bm90LWEtcmVhbC1rZXktYnV0LTMyLWJ5dGVzLWxvbmc= \
    python manage.py collectstatic --noinput

RUN useradd --system --uid 1000 --home /app portal && chown -R portal /app
USER portal

EXPOSE 8000
CMD ["gunicorn", "billing_portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
