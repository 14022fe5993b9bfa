"""A small process between the benchmark and the measured job: `python -m bench.jobs.launch`.

On Linux a process's `ru_maxrss` carries over the resident size of the process it was forked
from (fork copies the memory map, exec keeps its high-water mark). Started straight from the
benchmark process, which holds the seeding's rows, the job would report that size as its own.
Started from this process, which imports nothing of the service, it starts from a few MiB.
It forwards the request on stdin, and prints the job's output and resource usage as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def main() -> int:
    request = sys.stdin.buffer.read()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.jobs.child"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(request)
    proc.stdin.close()
    output = proc.stdout.read().decode()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    usage_fields = {
        "exit_code": proc.returncode,
        "maxrss_kib": usage.ru_maxrss,
        "user_seconds": round(usage.ru_utime, 2),
        "system_seconds": round(usage.ru_stime, 2),
    }
    print(json.dumps({"output": output, "usage": usage_fields}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
