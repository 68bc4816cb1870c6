#!/usr/bin/env python3
"""Interop: a client under test against Python's websockets as the server.

    client_interop.py CLIENT [ARGS...]    (CLIENT ARGS may hold {url}; else the URL goes last)

For each round (plain, then --deflate) a websockets server on 127.0.0.1:0 sends messages
of several kinds and sizes (text, binary, empty, 64 KiB, 1 MiB, non-ASCII), checks every
echo (same type, same content), closes with 1000 and expects the client to exit 0 with
`closed 1000` as its last stdout line. Exits 0 when every round passes, 1 otherwise;
everything is bounded in time.
"""

import asyncio
import sys

import websockets

from interop_messages import messages

ROUND_TIMEOUT = 30


async def play(ws, expected, failures, deflate):
    try:
        if deflate and not ws.extensions:
            failures.append("--deflate: permessage-deflate was not negotiated")
        for i, message in enumerate(expected):
            await ws.send(message)
            echo = await asyncio.wait_for(ws.recv(), timeout=10)
            if type(echo) is not type(message) or echo != message:
                failures.append(f"message {i} ({type(message).__name__}, {len(message)}): echo differs "
                                f"({type(echo).__name__}, {len(echo)})")
        await ws.close(1000, "interop done")
    except Exception as e:  # report and let the round fail
        failures.append(f"server side: {type(e).__name__}: {e}")


async def round_(command, deflate):
    failures = []
    expected = messages(1 << 20)
    done = asyncio.Event()

    async def handler(ws, path=None):
        await play(ws, expected, failures, deflate)
        done.set()

    async with websockets.serve(handler, "127.0.0.1", 0, max_size=4 << 20,
                                compression="deflate" if deflate else None) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/interop"
        argv = [a.replace("{url}", url) for a in command]
        if not any(url in a for a in argv):
            argv.append(url)
        argv += ["--max-message", str(4 << 20)] + (["--deflate"] if deflate else [])
        process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(process.communicate(), timeout=ROUND_TIMEOUT)
        except asyncio.TimeoutError:
            process.kill()
            out, err = await process.communicate()
            failures.append(f"the client did not exit within {ROUND_TIMEOUT} s")
    lines = out.decode(errors="replace").strip().splitlines()
    if not done.is_set():
        failures.append("the server's exchange did not finish")
    if process.returncode != 0:
        failures.append(f"exit code {process.returncode}")
    if not lines or lines[-1] != "closed 1000":
        failures.append(f"last stdout line {lines[-1] if lines else None!r}, expected 'closed 1000'")
    name = "deflate" if deflate else "plain"
    for f in failures:
        print(f"client_interop: {name}: {f}")
    if failures:
        print(f"client_interop: {name}: command {' '.join(argv)}\nstderr:\n{err.decode(errors='replace')}")
    else:
        print(f"client_interop: {name}: {len(expected)} messages echoed, closed 1000")
    return not failures


async def main(command):
    ok = True
    for deflate in (False, True):
        ok = await round_(command, deflate) and ok
    return ok


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(0 if asyncio.run(main(sys.argv[1:])) else 1)
