"""gunicorn's configuration, from the environment: the web container runs
`gunicorn --config gunicorn.conf.py billing_portal.wsgi:application` (docker-compose.yml).
Every variable is listed in .env.example and the README."""

import environ

env = environ.Env()

# Inside the container; only the reverse proxy reaches it (docker-compose.yml publishes
# no port of web's).
bind = [env.str("GUNICORN_BIND", default="0.0.0.0:8000")]
workers = env.int("GUNICORN_WORKERS", default=3)
# More than one thread makes gunicorn use its threaded worker (gthread).
threads = env.int("GUNICORN_THREADS", default=4)
# Seconds a request may take before its worker is restarted.
timeout = env.int("GUNICORN_TIMEOUT", default=30)
# On SIGTERM, requests in flight get this long (docker-compose.yml's stop_grace_period is
# longer, so they finish before the container is killed).
graceful_timeout = 30
# A worker is replaced after this many requests (plus a random 0..jitter, so the workers
# are not all replaced at once): memory a long-lived process accumulates is given back.
max_requests = env.int("GUNICORN_MAX_REQUESTS", default=1000)
max_requests_jitter = env.int("GUNICORN_MAX_REQUESTS_JITTER", default=100)
accesslog = "-"


def post_worker_init(worker) -> None:
    """Each new worker (at start, and after every max_requests) imports the portal's task
    modules before its first request, as a Celery worker does at start: otherwise the first
    request that queues a task (a payment provider's webhook) pays for the import, about
    0.15 s, while the provider waits for its answer."""
    from celery import current_app

    current_app.loader.import_default_modules()
