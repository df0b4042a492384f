# Production image: one image for migrate, web (gunicorn), the workers and beat;
# docker-compose.yml gives each service its command. Runs as an unprivileged user that can
# read the code but not change it.
FROM python:3.11-slim-trixie

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# pg_dump and pg_restore for `manage.py backup` / `restore`: Debian trixie's client (17)
# dumps and restores every server up to its own major version (compose runs 16). Not pinned:
# the distribution's security updates are wanted at every build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

# A fixed numeric uid/gid, so that volumes and the host see one owner; the backups and the
# ticket attachments directories are theirs (a volume mounted there keeps this owner).
RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin portal \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/portal/backups /var/lib/portal/private

WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .

# collectstatic needs settings to load; these throwaway values never reach runtime.
RUN SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost READ_DOT_ENV_FILE=false \
    FIELD_ENCRYPTION_KEYS=bm90LWEtcmVhbC1rZXktYnV0LTMyLWJ5dGVzLWxvbmc= \
    python manage.py collectstatic --noinput

USER 10001:10001

EXPOSE 8000
CMD ["gunicorn", "--config", "gunicorn.conf.py", "billing_portal.wsgi:application"]
