#!/usr/bin/env python3
"""Holds N idle keep-alive connections to a server and reports what they cost.

    scripts/idle.py PID PORT [N]

Opens N connections to 127.0.0.1:PORT, sends one GET /plaintext on each and reads the
answer (so each is an idle keep-alive connection the server tracks), then prints the
server's resident memory (VmRSS of PID) before and with them, and the latency of 200
requests made on a fresh connection while they are all open. Used by scripts/bench.sh.
"""
import socket
import statistics
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


REQUEST = b"GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n"


def read_response(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += sock.recv(4096)


def main():
    pid, port = int(sys.argv[1]), int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
    before = rss_kib(pid)
    started = time.monotonic()
    held = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(REQUEST)
        read_response(s)
        held.append(s)
    opened = time.monotonic() - started
    time.sleep(0.5)
    during = rss_kib(pid)
    probe = socket.create_connection(("127.0.0.1", port), timeout=10)
    latencies = []
    for _ in range(200):
        t = time.monotonic()
        probe.sendall(REQUEST)
        read_response(probe)
        latencies.append((time.monotonic() - t) * 1000)
    latencies.sort()
    alive = 0
    for s in held:
        try:
            s.sendall(REQUEST)
            read_response(s)
            alive += 1
        except OSError:
            pass
    for s in held:
        s.close()
    probe.close()
    print(
        f"{n} {alive} {before / 1024:.1f} {during / 1024:.1f} {(during - before) / n:.1f} "
        f"{statistics.median(latencies):.2f} {latencies[int(len(latencies) * 0.99) - 1]:.2f} {opened:.1f}"
    )


if __name__ == "__main__":
    main()
