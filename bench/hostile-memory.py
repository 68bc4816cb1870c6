#!/usr/bin/env python3
"""Memory a hostile client can make a wharf server hold (issue 9, items 1 and 7).

Starts the server itself on a free loopback port, runs one bounded attack, and prints
the server's RSS (from /proc/PID/status) before, at the peak and after, as one line:

    attack=pings server=wharf-echo rss_before_kib=... rss_peak_kib=... rss_after_kib=... sent_mib=...

Attacks (each bounded in connections, bytes and seconds; loopback only):
  pings      one client sends 125-byte pings (in 64 KiB writes) as fast as it can for
             --seconds and never reads; each ping asks for a 125-byte pong.
  nonreaders --members chat members that never read, and one sender that posts
             --mib MiB of chat lines (wharf-chat's /chat).
  deflate    --conns connections each send one non-final compressed fragment that
             inflates to nearly the message limit and then stay silent (wharf-echo,
             deflate on).

Usage:
  bench/hostile-memory.py --server build/samples/echo/wharf-echo --attack pings
  bench/hostile-memory.py --server build/samples/chat/wharf-chat --attack nonreaders \\
      --server-args "--public samples/chat/public"
"""
import argparse
import base64
import os
import re
import shlex
import socket
import struct
import subprocess
import sys
import time
import zlib


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def frame(opcode, payload, fin=True, rsv1=False):
    """A masked client frame (the mask is fixed: this is a load tool, not a client)."""
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, 0x80 | 127, n)
    mask = b"\x01\x02\x03\x04"
    masked = bytes(c ^ mask[i & 3] for i, c in enumerate(payload)) if n < 4096 else _mask_fast(payload, mask)
    return head + mask + masked


def _mask_fast(payload, mask):
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


def connect(port, path, extensions=None, origin=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if extensions:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    if origin:
        lines.append(f"Origin: {origin}")
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    resp = b""
    while b"\r\n\r\n" not in resp:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("server closed during the handshake")
        resp += chunk
    status = resp.split(b"\r\n", 1)[0]
    if b" 101 " not in status:
        raise RuntimeError(f"handshake refused: {status!r}")
    return s, resp


class Stream:
    """Sends one repeated block on a non-blocking socket without ever cutting a frame:
    what a short send() left over goes first next time."""

    def __init__(self, sock, block):
        self.sock, self.block, self.rest, self.sent = sock, block, memoryview(b""), 0

    def push(self):
        if not self.rest:
            self.rest = memoryview(self.block)
        n = self.sock.send(self.rest)
        self.rest = self.rest[n:]
        self.sent += n

    def run(self, seconds, pid, peak, limit=None, each_turn=None):
        """Pushes until `seconds` pass, `limit` bytes are sent or the peer goes away,
        recording the server's peak RSS after every push."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and (limit is None or self.sent < limit):
            try:
                self.push()
            except BlockingIOError:
                time.sleep(0.001)
            except (BrokenPipeError, ConnectionResetError):
                break
            if each_turn:
                each_turn()
            peak[0] = max(peak[0], rss_kib(pid))


def shrink_rcvbuf(s):
    # A client that does not read: the smallest receive window, so the server's data
    # stays on the server's side.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)


def attack_pings(port, args, pid, peak):
    s, _ = connect(port, "/echo/")
    shrink_rcvbuf(s)
    s.setblocking(False)
    stream = Stream(s, frame(0x9, b"p" * 125) * 512)
    stream.run(args.seconds, pid, peak)
    return [s], stream.sent


def attack_nonreaders(port, args, pid, peak):
    origin = f"http://localhost:{port}"
    members = []
    for i in range(args.members):
        s, _ = connect(port, "/chat", origin=origin)
        shrink_rcvbuf(s)
        s.sendall(frame(0x1, f"m{i}".encode()))
        members.append(s)
    sender, _ = connect(port, "/chat", origin=origin)
    sender.sendall(frame(0x1, b"sender"))
    sender.setblocking(False)
    def read_own_echoes():
        try:
            while sender.recv(65536):
                pass
        except (BlockingIOError, ConnectionResetError):
            pass

    stream = Stream(sender, frame(0x1, b"x" * args.line_bytes) * 16)
    stream.run(args.seconds, pid, peak, limit=args.mib * 1024 * 1024, each_turn=read_own_echoes)
    return members + [sender], stream.sent


def attack_deflate(port, args, pid, peak):
    conns = []
    sent = 0
    # Zeros compress about 1000:1: 15 KB on the wire inflates to about 15 MB.
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = comp.compress(b"\0" * (args.inflate_mib * 1024 * 1024)) + comp.flush(zlib.Z_SYNC_FLUSH)
    fragment = frame(0x2, data, fin=False, rsv1=True)
    for _ in range(args.conns):
        try:
            s, _ = connect(port, "/echo/", extensions="permessage-deflate")
            s.sendall(fragment)
            sent += len(fragment)
            conns.append(s)
        except (RuntimeError, OSError):
            break
        peak[0] = max(peak[0], rss_kib(pid))
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        peak[0] = max(peak[0], rss_kib(pid))
        time.sleep(0.05)
    return conns, sent


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", required=True, help="the server binary (wharf-echo, wharf-chat)")
    p.add_argument("--server-args", default="", help="extra arguments for the server")
    p.add_argument("--attack", required=True, choices=["pings", "nonreaders", "deflate"])
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--members", type=int, default=1000)
    p.add_argument("--mib", type=int, default=5)
    p.add_argument("--line-bytes", type=int, default=1500, help="nonreaders: bytes per chat line")
    p.add_argument("--settle", type=float, default=30.0,
                   help="after the attack, keep sampling RSS until it is steady for 2 s, at most this long")
    p.add_argument("--conns", type=int, default=100)
    p.add_argument("--inflate-mib", type=int, default=15)
    args = p.parse_args()

    port = free_port()
    cmd = [args.server, "--host", "127.0.0.1", "--port", str(port)] + shlex.split(args.server_args)
    env = dict(os.environ, WHARF_LOG=os.environ.get("WHARF_LOG", "warn"))
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit(f"server did not start: {' '.join(cmd)}")
                time.sleep(0.05)
        before = rss_kib(server.pid)
        peak = [before]
        attack = {"pings": attack_pings, "nonreaders": attack_nonreaders, "deflate": attack_deflate}[args.attack]
        socks, sent = attack(port, args, server.pid, peak)
        # The server may still be working through what it read (a fan-out): sample until
        # RSS is steady for 2 s, bounded by --settle.
        steady_since, last = time.monotonic(), rss_kib(server.pid)
        settle_end = time.monotonic() + args.settle
        while time.monotonic() < settle_end and time.monotonic() - steady_since < 2.0:
            time.sleep(0.1)
            now = rss_kib(server.pid)
            peak[0] = max(peak[0], now)
            if abs(now - last) > 1024:
                steady_since, last = time.monotonic(), now
        for s in socks:
            s.close()
        time.sleep(1.0)
        after = rss_kib(server.pid)
        print(f"attack={args.attack} server={os.path.basename(args.server)} rss_before_kib={before} "
              f"rss_peak_kib={peak[0]} rss_after_kib={after} sent_mib={sent / 1048576:.1f} "
              f"conns={len(socks)}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        errors = server.stderr.read() if server.stderr else ""
        interesting = [l for l in errors.splitlines() if re.search(r"WARN|ERROR", l)]
        for l in interesting[:5]:
            print("  server:", l)


if __name__ == "__main__":
    main()
