"""A process tree read from /proc (Linux): its pids, memory and CPU, for the benchmarks that
start servers (bench_server.py, bench_serving.py). Standard library only."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
MB = 1024.0  # kB per MB (/proc figures are in kB)


def stat_fields(pid: int | str) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state is [0], ppid [1])."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree_pids(root: int) -> list[int]:
    """``root`` and its descendants, plus anything left in its session (a server is started as
    a session leader, so a reparented worker still counts); zombies left out."""
    table: dict[int, tuple[int, int, str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                f = stat_fields(entry)
            except (OSError, IndexError):
                continue
            table[int(entry)] = (int(f[1]), int(f[3]), f[0])
    found, todo = {root}, [root]
    while todo:
        parent = todo.pop()
        kids = [pid for pid, (ppid, _, _) in table.items() if ppid == parent and pid not in found]
        found.update(kids)
        todo.extend(kids)
    found |= {pid for pid, (_, session, _) in table.items() if session == root}
    return sorted(pid for pid in found if pid in table and table[pid][2] != "Z")


def _kb(pid: int, field: str, file: str = "status") -> int:
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_rss_mb(root: int) -> float:
    return sum(_kb(pid, "VmRSS") for pid in tree_pids(root)) / MB


def tree_memory(root: int) -> dict[str, Any]:
    """RSS and PSS summed over the process tree (MB): the RSS sum counts shared pages once per
    process (what the target uses), PSS splits them; and each process's command line."""
    pids = tree_pids(root)
    return {
        "rss_mb": sum(_kb(pid, "VmRSS") for pid in pids) / MB,
        "pss_mb": sum(_kb(pid, "Pss", "smaps_rollup") for pid in pids) / MB,
        "processes": len(pids),
        "cmdlines": [_cmdline(pid) for pid in pids],
    }


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return ""


def tree_cpu_s(root: int) -> float:
    """User + system CPU seconds of every process in the tree."""
    ticks = 0
    for pid in tree_pids(root):
        with contextlib.suppress(OSError, ValueError, IndexError):
            f = stat_fields(pid)
            ticks += int(f[11]) + int(f[12])
    return ticks / CLK_TCK
