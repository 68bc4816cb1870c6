"""The messages both interop scripts exchange: each kind and length form once."""

import os


def messages(largest):
    """Texts and binaries: empty, short, non-ASCII, at the 7/16-bit length boundaries,
    64 KiB noise and text, and `largest` bytes of noise and of text."""
    noise = os.urandom(largest)
    return [
        "hello from python websockets",
        b"\x00\x01\x02binary\xff",
        "",
        b"",
        "κόσμε ✓ 😀",
        "x" * 125,
        "y" * 126,
        noise[:65536],
        ("compressible text " * 4000)[:65536],
        noise,
        "z" * largest,
    ]
