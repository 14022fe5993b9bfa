"""The production shape on one machine: `./dev stack start|stop|status`.

PostgreSQL, Redis, nginx (Debian's packages), gunicorn with two aiohttp workers, one scheduler
and the fake WeChat, on local ports, with the files in `deploy/`. The fault suite
(`tests/faults/`) runs against it.
"""

from stack.layout import Layout, Ports
from stack.services import Stack, StackError

__all__ = ["Layout", "Ports", "Stack", "StackError"]
