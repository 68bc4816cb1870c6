#!/usr/bin/env python3
"""A stand-in for wharf-echo-client built on Python's websockets (Debian python3-websockets
10.4, asyncio API), with the same command line, output and exit codes:

    reference_echo_client.py URL [--ca FILE | --insecure] [--deflate] [--max-message BYTES]

It echoes every message (same opcode), answers pings (websockets does), and when the
server closes prints `closed <code>` and exits 0. A failed connect or handshake, or a
server that breaks the protocol, prints `wharf-echo-client: <reason>` on stderr and
exits 1; usage errors exit 2. The client conformance suite runs against it with
WHARF_CLIENT_SUBJECT="/usr/bin/python3 .../reference_echo_client.py {url}", which is
how the suite's own checks were validated against a second implementation.
"""

import argparse
import asyncio
import ssl
import sys

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory


class Parser(argparse.ArgumentParser):
    def error(self, message):
        print(f"wharf-echo-client: {message}", file=sys.stderr)
        sys.exit(2)


def fail(reason):
    print(f"wharf-echo-client: {reason}", file=sys.stderr)
    return 1


async def run(args):
    tls = None
    if args.url.startswith("wss://"):
        tls = ssl.create_default_context(cafile=args.ca)
        if args.insecure:
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
    extensions = [ClientPerMessageDeflateFactory(client_max_window_bits=True)] if args.deflate else None
    try:
        ws = await asyncio.wait_for(
            websockets.connect(args.url, ssl=tls, compression=None, extensions=extensions,
                               max_size=args.max_message, close_timeout=5, ping_interval=None),
            timeout=10)
    except Exception as e:  # every connect and handshake failure ends the same way
        return fail(f"connect failed: {type(e).__name__}: {e}")
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    received, sent = ws.close_rcvd, ws.close_sent
    if received is not None and (sent is None or ws.close_rcvd_then_sent):
        print(f"closed {received.code}", flush=True)
        return 0
    return fail(f"connection failed: sent {sent}, received {received}")


def main():
    parser = Parser(prog="wharf-echo-client")
    parser.add_argument("url")
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument("--ca")
    trust.add_argument("--insecure", action="store_true")
    parser.add_argument("--deflate", action="store_true")
    parser.add_argument("--max-message", type=int, default=1 << 20)
    args = parser.parse_args()
    if not (args.url.startswith("ws://") or args.url.startswith("wss://")):
        parser.error(f"not a ws:// or wss:// URL: {args.url}")
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
