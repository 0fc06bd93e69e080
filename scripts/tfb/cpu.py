"""CPU seconds (user + system) spent so far by processes and all their descendants.

    python3 cpu.py PID [PID...]

Each process counts its own time and that of its children it has reaped (cutime,
cstime), so a PostgreSQL backend that exits during a measurement is still counted, by
the postmaster. scripts/tfb.sh reads it before and after each wrk run, for the server's
tree and the database's.
"""

import os
import sys

TICK = os.sysconf("SC_CLK_TCK")


def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the name: state, ppid, ..., utime (14th field), stime, cutime, cstime.
    return int(fields[1]), sum(int(x) for x in fields[11:15])


def main():
    children, ticks = {}, {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                ppid, t = stat(name)
            except (OSError, IndexError, ValueError):
                continue
            pid = int(name)
            ticks[pid] = t
            children.setdefault(ppid, []).append(pid)
    total, todo, seen = 0, [int(p) for p in sys.argv[1:]], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += ticks.get(pid, 0)
        todo.extend(children.get(pid, []))
    print(f"{total / TICK:.2f}")


main()
