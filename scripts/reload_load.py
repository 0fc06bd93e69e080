#!/usr/bin/env python3
"""Loads a server while its code is edited, and counts the requests that failed.

    scripts/reload_load.py HOST:PORT FILE OLD NEW [CLIENTS] [SECONDS]

For SECONDS (default 30), CLIENTS threads (default 8) each send GET / in a loop, every
request on a new connection (so each one goes through the listening socket's backlog).
After a sixth of the time FILE's OLD text is replaced by NEW, and after half of it NEW by
OLD again: two edits, two rebuilds and swaps when the server is `cargo run -- run
--debug`. Prints how many answers each body got and how many requests failed (refused,
reset, timed out or not a 200), with the first few failures. Used by docs/daily-work.md.
"""
import http.client
import sys
import threading
import time


def main():
    addr, path, old, new = sys.argv[1:5]
    clients = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    seconds = float(sys.argv[6]) if len(sys.argv) > 6 else 30.0
    host, port = addr.rsplit(":", 1)
    stop = threading.Event()
    lock = threading.Lock()
    answered, failed = {}, []

    def client():
        while not stop.is_set():
            try:
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
                conn.request("GET", "/", headers={"Connection": "close"})
                resp = conn.getresponse()
                body = resp.read().decode(errors="replace")
                conn.close()
                with lock:
                    if resp.status == 200:
                        answered[body] = answered.get(body, 0) + 1
                    else:
                        failed.append(f"{resp.status}: {body[:80]}")
            except Exception as e:  # refused, reset, timed out
                with lock:
                    failed.append(repr(e))

    def edit(a, b):
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace(a, b))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(seconds / 6)
    edit(old, new)
    time.sleep(seconds / 3)
    edit(new, old)
    time.sleep(seconds / 2)
    stop.set()
    for t in threads:
        t.join()
    total = sum(answered.values())
    print(f"answered {total} {answered}; failed {len(failed)} {failed[:5]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
