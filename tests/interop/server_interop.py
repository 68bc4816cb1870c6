#!/usr/bin/env python3
"""Interop: Python's websockets as a client of a wharf echo server.

    server_interop.py WHARF_ECHO

Starts WHARF_ECHO (the wharf-echo sample) on 127.0.0.1, port 0, reads its URL from its
first stdout line, then, without and with permessage-deflate, sends messages of several
kinds and sizes (text, binary, empty, 64 KiB, 1 MiB less a byte, non-ASCII), checks
every echo, pings, and closes with 1000 expecting 1000 back. Stops the server with
SIGTERM and expects it to exit 0. Exits 0 when all passes, 1 otherwise; everything is
bounded in time.
"""

import asyncio
import re
import signal
import sys

import websockets

from interop_messages import messages

TIMEOUT = 30


async def session(url, deflate, failures):
    name = "deflate" if deflate else "plain"
    async with websockets.connect(url, compression="deflate" if deflate else None, max_size=4 << 20,
                                  ping_interval=None, close_timeout=5) as ws:
        if deflate and not ws.extensions:
            failures.append(f"{name}: permessage-deflate was not negotiated")
        expected = messages((1 << 20) - 1)  # the server's default limit is 1 MiB
        for i, message in enumerate(expected):
            await ws.send(message)
            echo = await asyncio.wait_for(ws.recv(), timeout=10)
            if type(echo) is not type(message) or echo != message:
                failures.append(f"{name}: message {i} ({type(message).__name__}, {len(message)}): echo differs")
        pong = await ws.ping(b"interop ping")
        await asyncio.wait_for(pong, timeout=10)
        # Several messages in flight at once, echoed in order.
        burst = [f"burst {i}" for i in range(100)]
        for m in burst:
            await ws.send(m)
        echoes = [await asyncio.wait_for(ws.recv(), timeout=10) for _ in burst]
        if echoes != burst:
            failures.append(f"{name}: a burst of 100 texts came back out of order or changed")
        await ws.close(1000, "interop done")
    if ws.close_code != 1000:
        failures.append(f"{name}: the server answered the close with {ws.close_code}, expected 1000")
    print(f"server_interop: {name}: {len(expected) + len(burst)} messages echoed, ping answered, "
          f"closed {ws.close_code}")


async def main(echo):
    failures = []
    server = await asyncio.create_subprocess_exec(echo, "--host", "127.0.0.1", "--port", "0", "--threads", "1",
                                                  stdout=asyncio.subprocess.PIPE)
    try:
        line = (await asyncio.wait_for(server.stdout.readline(), timeout=TIMEOUT)).decode()
        match = re.search(r"ws://\S+:(\d+)/echo", line)
        if not match:
            failures.append(f"no URL in the server's first line: {line!r}")
        else:
            url = f"ws://127.0.0.1:{match.group(1)}/echo"
            for deflate in (False, True):
                try:
                    await asyncio.wait_for(session(url, deflate, failures), timeout=TIMEOUT)
                except Exception as e:
                    failures.append(f"{'deflate' if deflate else 'plain'}: {type(e).__name__}: {e}")
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(server.wait(), timeout=TIMEOUT)
        except asyncio.TimeoutError:
            server.kill()
            await server.wait()
            failures.append("the server did not stop on SIGTERM")
    if server.returncode not in (0, None):
        failures.append(f"the server exited with {server.returncode}")
    for f in failures:
        print(f"server_interop: {f}")
    return not failures


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(0 if asyncio.run(main(sys.argv[1])) else 1)
