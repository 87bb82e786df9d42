"""gunicorn settings for `make serve` / production: everything from the environment."""

import multiprocessing
import os

bind = os.environ.get("BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
# Workers are forked from a master that has already imported the application: a new or
# recycled worker serves at once instead of spending a second importing Django and the schema.
preload_app = True
# Recycle a worker after this many requests (a guard against slow memory growth; 0 = never).
# Every recycle costs a fresh database connection and cold caches, so it should be rare: at
# 2,000 (every few seconds under load) recycling set the 99th-percentile latency.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "100000"))
max_requests_jitter = max_requests // 10
# Request lines come from ledgerlink.request (JSON); gunicorn's own access log would duplicate them.
accesslog = None
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
