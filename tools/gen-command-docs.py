#!/usr/bin/env python3
"""Generates node-engine/src/cmd/command_docs.resp: COMMAND DOCS as
redis-server 7.0.15 answers it, in RESP3.

The docs (summary, since, group, complexity, history, arguments) are data
from Redis's command JSON files; tools such as redis-cli's hints and
RedisInsight read them. They are taken once from a running redis-server of
the reference version and committed:

    redis-server --port 6390 --save '' --daemonize yes
    tools/gen-command-docs.py 127.0.0.1 6390 > node-engine/src/cmd/command_docs.resp

The file is the raw RESP3 reply to `COMMAND DOCS` (a map of command name to
its docs); slot-node replays the entries it serves, in RESP2 or RESP3.
"""
import socket, sys

def read_reply(f):
    """Reads one RESP3 value from the file object and returns its raw bytes."""
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b"-", b":", b",", b"#", b"_", b"("):
        return line
    if kind in (b"$", b"=", b"!"):
        n = int(rest)
        return line + f.read(n + 2)
    if kind in (b"*", b"~", b">"):
        return line + b"".join(read_reply(f) for _ in range(int(rest)))
    if kind in (b"%", b"|"):
        return line + b"".join(read_reply(f) for _ in range(2 * int(rest)))
    raise ValueError("unexpected RESP type %r" % line)

host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port))
f = s.makefile("rb")
s.sendall(b"HELLO 3\r\n")
read_reply(f)
s.sendall(b"COMMAND DOCS\r\n")
sys.stdout.buffer.write(read_reply(f))
