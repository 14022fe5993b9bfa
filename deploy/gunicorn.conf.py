"""gunicorn settings of the service: `gunicorn -c deploy/gunicorn.conf.py wxmember.serving:app`.

Settings given on the command line win over these (`./dev stack` passes its own `--bind`,
`--workers` and `--pid`). The service's own `[server]` limits stand in for gunicorn's
keep-alive and request-size settings, which aiohttp's worker does not use.
"""

import os

# One worker per core is the start: each is an event loop that keeps its core busy on its own.
workers = int(os.environ.get("WXMEMBER_WORKERS", os.cpu_count() or 1))
worker_class = "aiohttp.GunicornUVLoopWebWorker"
bind = os.environ.get("WXMEMBER_BIND", "127.0.0.1:8080")
backlog = 2048

# A worker whose event loop has not checked in for this long is killed and replaced; a request
# may take longer (the check is the loop's, not the request's).
timeout = 30
# What requests in flight get on a restart (HUP), a replaced worker or a stop (TERM).
graceful_timeout = 30

# Each worker is replaced after about this many requests (hours of a busy shop's traffic), at
# different times thanks to the jitter, so that slow growth of a process (fragmentation) never
# builds up and the workers never restart together. The fault suite's soak shows no growth to
# hide; this is a safety net, not a cure.
max_requests = 100000
max_requests_jitter = 10000

# The JSON request log of the service says everything; gunicorn's own lines go to stderr.
accesslog = None
errorlog = "-"
loglevel = "info"
# nginx on the same host: its X-Forwarded-* are read by the service (`server.trusted_proxies`).
forwarded_allow_ips = "127.0.0.1"
# Each worker builds its own app (database pool, Redis, render processes) after the fork.
preload_app = False
# Reloads are HUP from systemd (`systemctl reload`); gunicorn's control socket is not used.
control_socket_disable = True
