"""Shared helpers for hearth's integration tests (standard library only).

Each test starts the real binary on an ephemeral loopback port and waits for
readiness by reading the "listening on HOST:PORT" line hearth writes to its
error log (stderr) once its listeners are bound: never a fixed sleep.
"""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("HEARTH_SOURCE_DIR", os.path.join(HERE, "..", ".."))
BIN = os.environ.get("HEARTH_BIN", os.path.join(SOURCE_DIR, "build", "hearth"))

LISTEN_RE = re.compile(rb"listening on (\S+):(\d+)")


class Server:
    """A running hearth. Use as a context manager or call stop()."""

    def __init__(self, root, *args, listen="127.0.0.1:0", env=None, timeout=10.0,
                 access_log="off", preexec_fn=None):
        self.root = root
        argv = [BIN, "--listen", listen]
        if access_log is not None:
            argv += ["--access-log", access_log]
        argv += list(args) + [root]
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, preexec_fn=preexec_fn)
        self.stderr_lines = []
        self.stdout_lines = []
        self._ready = threading.Event()
        self.port = None
        self.host = None
        self._t_err = threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines, True),
                                       daemon=True)
        self._t_out = threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout_lines, False),
                                       daemon=True)
        self._t_err.start()
        self._t_out.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None:
                self._t_err.join(2)
                raise RuntimeError("hearth exited with %s before listening:\n%s" % (
                    self.proc.returncode, self.stderr_text()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("hearth did not report listening:\n%s" % self.stderr_text())

    def _pump(self, stream, sink, watch):
        for line in iter(stream.readline, b""):
            sink.append(line)
            if watch and self.port is None:
                m = LISTEN_RE.search(line)
                if m:
                    self.host = m.group(1).decode().strip("[]")
                    self.port = int(m.group(2))
                    self._ready.set()
        stream.close()

    def stderr_text(self):
        return b"".join(self.stderr_lines).decode(errors="replace")

    def stdout_text(self):
        return b"".join(self.stdout_lines).decode(errors="replace")

    def address(self):
        return (self.host, self.port)

    def connect(self, timeout=10.0):
        s = socket.create_connection(self.address(), timeout=timeout)
        return s

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=None):
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._t_err.join(5)
        self._t_out.join(5)
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def raw_request(addr, data, timeout=5.0, read_until_close=True):
    """Send raw bytes, return everything the server sends until it closes
    (or until timeout when read_until_close is False)."""
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.sendall(data)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                if read_until_close:
                    raise
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        s.close()


def read_response(sock, head_only=False):
    """Read one HTTP/1.1 response from sock (Content-Length framed or until
    close). Returns (status, headers dict lower-cased, body bytes, leftover)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = sock.recv(65536)
        if not b:
            raise EOFError("connection closed before head: %r" % buf)
        buf += b
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(b":", 1)
        headers[k.strip().lower().decode()] = v.strip().decode()
    if head_only or status in (204, 304):
        return status, headers, b"", rest
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            b = sock.recv(65536)
            if not b:
                raise EOFError("short body")
            rest += b
        return status, headers, rest[:n], rest[n:]
    while True:
        b = sock.recv(65536)
        if not b:
            break
        rest += b
    return status, headers, rest, b""


class TempRoot:
    """A temporary document root, removed afterwards."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="hearth-test-")

    def write(self, rel, data=b"", mode=None):
        p = os.path.join(self.path, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        if mode is not None:
            os.chmod(p, mode)
        return p

    def mkdir(self, rel):
        p = os.path.join(self.path, rel)
        os.makedirs(p, exist_ok=True)
        return p

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class ServerTestCase(unittest.TestCase):
    """Starts one hearth for the class over a temp root that setUpClass fills.
    Subclasses override populate(root) and server_args."""

    server_args = ()

    @classmethod
    def populate(cls, root):
        pass

    @classmethod
    def setUpClass(cls):
        cls.root = TempRoot()
        cls.populate(cls.root)
        cls.server = Server(cls.root.path, *cls.server_args)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.root.cleanup()

    def setUp(self):
        self.assertTrue(self.server.alive(), "hearth died:\n" + self.server.stderr_text())
