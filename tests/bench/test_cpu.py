"""CPU per side of a run (`bench.cpu`), read from /proc around real processes."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bench.cpu import DATABASE, PROC, SERVER, CpuMeter, cpu_seconds, descendants
from bench.load import LoadResult

pytestmark = pytest.mark.skipif(not PROC.is_dir(), reason="reads /proc (Linux)")

# Burns 0.4 s of CPU, then waits to be stopped, so its CPU can still be read.
_BURN = (
    "import time\nt = time.process_time()\n"
    "while time.process_time() - t < 0.4: pass\ntime.sleep(60)"
)


def _spawn_burner_below_a_shell() -> subprocess.Popen[bytes]:
    """A shell whose child burns CPU: the CPU is the shell's descendant's, not its own."""
    return subprocess.Popen(["sh", "-c", f'"{sys.executable}" -c "$0" & wait', _BURN])


def _wait_for_child(pid: int) -> None:
    deadline = time.monotonic() + 10
    while len(descendants(pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)


class TestCpuMeter:
    def test_counts_the_cpu_of_the_servers_descendants(self) -> None:
        shell = _spawn_burner_below_a_shell()
        try:
            _wait_for_child(shell.pid)
            meter = CpuMeter(shell.pid, database=False)
            meter.start()
            time.sleep(1.0)
            spent = meter.stop()
        finally:
            for pid in descendants(shell.pid)[1:]:
                subprocess.run(["kill", str(pid)], check=False)
            shell.wait(timeout=10)

        assert set(spent) == {SERVER}
        assert 0.2 <= spent[SERVER] <= 1.0

    def test_reads_nothing_when_never_started(self) -> None:
        assert CpuMeter(None, database=True).stop() == {}

    def test_a_gone_process_reads_as_none(self) -> None:
        done = subprocess.Popen([sys.executable, "-c", "pass"])
        done.wait()

        assert cpu_seconds(done.pid) is None

    def test_crosses_to_the_load_generators_process_and_back(self) -> None:
        meter = CpuMeter(1234, database=True, redis=True)

        again = CpuMeter.from_json(meter.to_json())

        assert again == meter
        assert CpuMeter.from_json(None) is None


class TestPerRequest:
    def test_each_side_per_request_in_milliseconds(self) -> None:
        result = LoadResult(
            "wrk", 500, 1.0, 1, 2, 1, 3, 0, cpu_seconds={SERVER: 0.5, DATABASE: 0.25}
        )

        assert result.cpu_ms_per_request() == {SERVER: 1.0, DATABASE: 0.5}
        assert result.to_json()["cpu_ms_per_request"] == {SERVER: 1.0, DATABASE: 0.5}

    def test_nothing_per_request_without_requests(self) -> None:
        result = LoadResult("wrk", 0, 1.0, 0, 0, 0, 0, 0, cpu_seconds={SERVER: 0.5})

        assert result.cpu_ms_per_request() == {}
