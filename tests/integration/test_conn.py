"""Connection handling of hearth (issue 2, "Event loop and connections").

Covers: slow-loris cut at --timeout-header without delaying other clients, the
silent close of a connection that never sends anything, --timeout-idle,
--timeout-body, --timeout-send (a client that stops reading), pipelining of
100 requests (GET/HEAD/Range/404 mixed, answered in order), 2,000 concurrent
connections, aborted downloads (no crash, no leak of descriptors or memory),
EMFILE (no spinning, recovery when descriptors free up), partial requests and
bodies followed by a close, and big files: 200 MB checked by SHA-256, a
5 GB sparse file read by ranges beyond 4 GiB, and 16 MB downloads read
unevenly with a stall under --send-lowat 1k, off and the default.

Every socket has a timeout; readiness is awaited by polling with deadlines.
The only deliberate waits are the stimulus itself (a trickling or stalled
client) and a 1 s CPU-usage sample.
"""
import hashlib
import http.client
import os
import random
import resource
import select
import selectors
import socket
import struct
import threading
import time
import unittest

from harness import Server, TempRoot

MB = 1 << 20


# ---------------------------------------------------------------------------
# helpers

class Reader:
    """Reads consecutive HTTP responses from one socket (keeps leftovers, so
    pipelined responses can be read one after another)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        b = self.sock.recv(1 << 18)
        if not b:
            raise EOFError("connection closed; buffered %r" % self.buf[:200])
        self.buf += b

    def response(self, head_only=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode()
        if head_only or status in (204, 304) or status < 200:
            return status, headers, b""
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n:
                self._fill()
            body, self.buf = self.buf[:n], self.buf[n:]
            return status, headers, body
        if "chunked" in headers.get("transfer-encoding", ""):
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    self._fill()
                line, self.buf = self.buf.split(b"\r\n", 1)
                n = int(line.split(b";")[0], 16)
                if n == 0:
                    while b"\r\n" not in self.buf:
                        self._fill()
                    while not self.buf.startswith(b"\r\n"):  # trailers
                        while b"\r\n\r\n" not in self.buf and not self.buf.startswith(b"\r\n"):
                            self._fill()
                        if self.buf.startswith(b"\r\n"):
                            break
                        _, self.buf = self.buf.split(b"\r\n", 1)
                    self.buf = self.buf[2:]
                    return status, headers, body
                while len(self.buf) < n + 2:
                    self._fill()
                body += self.buf[:n]
                self.buf = self.buf[n + 2:]
        body = self.buf
        self.buf = b""
        while True:
            b = self.sock.recv(1 << 18)
            if not b:
                return status, headers, body
            body += b

    def closed_within(self, timeout):
        """True if the peer closes (EOF or reset) within timeout seconds with
        nothing more to read; raises if data arrives instead."""
        self.sock.settimeout(timeout)
        try:
            b = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        if b:
            raise AssertionError("unexpected data: %r" % b[:200])
        return True


def get(addr, path, timeout=5.0, method="GET", headers=()):
    """One request on a new connection. Returns (status, headers, body)."""
    s = socket.create_connection(addr, timeout=timeout)
    try:
        req = "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s\r\n" % (
            method, path, "".join(h + "\r\n" for h in headers))
        s.sendall(req.encode())
        return Reader(s).response(head_only=(method == "HEAD"))
    finally:
        s.close()


def timed_get(addr, path, body=None):
    t0 = time.monotonic()
    st, h, b = get(addr, path)
    dt = time.monotonic() - t0
    if body is not None and (st != 200 or b != body):
        raise AssertionError("GET %s -> %s %r" % (path, st, b[:100]))
    return dt


def proc_pid(server):
    return server.proc.pid


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


TCP_ESTABLISHED, TCP_CLOSE_WAIT = "01", "08"


def tcp_states(local_port, remote_port=None):
    """States (hex strings, as in /proc/net/tcp) of this host's TCP sockets
    whose local port is local_port (and remote port remote_port if given):
    with local_port = the server's port these are hearth's own sockets."""
    states = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    lport = int(fields[1].rsplit(":", 1)[1], 16)
                    rport = int(fields[2].rsplit(":", 1)[1], 16)
                    if lport == local_port and (remote_port is None or rport == remote_port):
                        states.append(fields[3])
        except FileNotFoundError:
            pass
    return states


def server_conns(port):
    """Connections hearth has not closed yet (established or half-closed by the peer)."""
    return sum(1 for st in tcp_states(port) if st in (TCP_ESTABLISHED, TCP_CLOSE_WAIT))


def complete_status(buf):
    """Status of the complete Content-Length-framed response in buf, or None
    if more bytes are needed."""
    if b"\r\n\r\n" not in buf:
        return None
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return int(lines[0].split(b" ")[1]) if len(body) >= int(v) else None
    return None


def wait_until(pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def make_sparse(path, size, blocks):
    """Create a file of size bytes, holes except the given {offset: bytes}."""
    with open(path, "wb") as f:
        for off, data in sorted(blocks.items()):
            f.seek(off)
            f.write(data)
        f.truncate(size)


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(4 * MB), b""):
            h.update(chunk)
    return h.hexdigest()


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return True
    if hard != resource.RLIM_INFINITY and hard < need:
        return False
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return True


SMALL = b"small file body\n"


def small_root():
    root = TempRoot()
    root.write("index.html", b"<p>index</p>")
    root.write("small.txt", SMALL)
    return root


class RootCase(unittest.TestCase):
    """A fresh TempRoot per test (removed afterwards); servers are started in
    each test with the flags it needs."""

    def setUp(self):
        self.root = small_root()
        self.addCleanup(self.root.cleanup)

    def start(self, *args, **kw):
        srv = Server(self.root.path, *args, **kw)
        self.addCleanup(srv.stop)
        return srv

    def assertServes(self, srv, limit=1.0):
        dt = timed_get(srv.address(), "/small.txt", SMALL)
        self.assertLess(dt, limit)
        self.assertTrue(srv.alive(), srv.stderr_text())


# ---------------------------------------------------------------------------
# timeouts

class TimeoutTest(RootCase):

    def test_slow_loris_cut_and_others_unaffected(self):
        srv = self.start("--timeout-header", "2")
        addr = srv.address()
        n_loris = 5
        results = [None] * n_loris
        started = threading.Barrier(n_loris + 1, timeout=10)

        def loris(i):
            payload = (b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"a" * 300 + b"\r\n\r\n")
            s = socket.create_connection(addr, timeout=10)
            t0 = time.monotonic()
            got, how = b"", "still open"
            try:
                started.wait()
                for byte in payload:
                    try:
                        s.send(bytes([byte]))
                    except OSError as e:
                        how = "send error %s" % e
                        break
                    r, _, _ = select.select([s], [], [], 0.3)
                    if r:
                        try:
                            while True:
                                b = s.recv(65536)
                                if not b:
                                    break
                                got += b
                        except OSError as e:
                            how = "recv error %s" % e
                        else:
                            how = "closed"
                        break
                    if time.monotonic() - t0 > 10:
                        break
                results[i] = (time.monotonic() - t0, how, got)
            finally:
                s.close()

        threads = [threading.Thread(target=loris, args=(i,), daemon=True) for i in range(n_loris)]
        for t in threads:
            t.start()
        started.wait()
        times = []
        for i in range(20):
            times.append(timed_get(addr, "/small.txt", SMALL))
            time.sleep(0.1)  # spread the 20 requests over the trickle
        for t in threads:
            t.join(15)
        for i, res in enumerate(results):
            self.assertIsNotNone(res, "slow-loris thread %d did not finish" % i)
            elapsed, how, got = res
            self.assertNotEqual(how, "still open", res)
            self.assertGreaterEqual(elapsed, 1.5, res)
            self.assertLessEqual(elapsed, 4.5, res)
            if got:  # some bytes were received: a 408 is sent before the close
                self.assertTrue(got.startswith(b"HTTP/1.1 408 "), got[:200])
                self.assertRegex(got, rb"\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} [\d:]{8} GMT\r\n")
        self.assertLess(max(times), 1.0, times)
        self.assertServes(srv)

    def test_silent_connection_closed_at_header_timeout(self):
        srv = self.start("--timeout-header", "1")
        s = srv.connect(timeout=10)
        self.addCleanup(s.close)
        t0 = time.monotonic()
        self.assertTrue(Reader(s).closed_within(6), "never closed")  # and nothing was sent
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        self.assertLessEqual(time.monotonic() - t0, 3.5)
        self.assertServes(srv)

    def test_idle_keepalive_closed(self):
        srv = self.start("--timeout-idle", "1", "--timeout-header", "10")
        s = srv.connect(timeout=10)
        self.addCleanup(s.close)
        rd = Reader(s)
        for _ in range(2):  # a kept-alive connection first works...
            s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            st, h, body = rd.response()
            self.assertEqual((st, body), (200, SMALL))
        t0 = time.monotonic()
        self.assertTrue(rd.closed_within(8), "idle connection not closed")  # ...then closes silently
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 0.5)
        self.assertLessEqual(elapsed, 3.5)
        self.assertServes(srv)

    def test_idle_timer_reset_by_requests(self):
        srv = self.start("--timeout-idle", "1", "--timeout-header", "10")
        s = srv.connect(timeout=10)
        self.addCleanup(s.close)
        rd = Reader(s)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.5:  # 2.5 s of activity, never idle 1 s
            s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            self.assertEqual(rd.response()[0], 200)
            time.sleep(0.3)

    def test_body_timeout(self):
        srv = self.start("--timeout-body", "1", "--timeout-header", "10")
        s = srv.connect(timeout=10)
        self.addCleanup(s.close)
        s.sendall(b"POST /small.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789")
        t0 = time.monotonic()
        got = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
        except ConnectionResetError:
            pass
        except socket.timeout:
            self.fail("connection with a stalled body not closed; got %r" % got)
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 0.5)
        self.assertLessEqual(elapsed, 4.0)
        if got:
            self.assertRegex(got[:13], rb"^HTTP/1\.1 (408|400) ", got[:200])
        self.assertServes(srv)

    def test_send_timeout_client_never_reads(self):
        size = 50 * MB
        make_sparse(os.path.join(self.root.path, "big"), size, {0: b"start", size - 3: b"end"})
        srv = self.start("--timeout-send", "1")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        s.settimeout(10)
        s.connect(srv.address())
        cport = s.getsockname()[1]

        def server_side_open():
            return TCP_ESTABLISHED in tcp_states(srv.port, cport)

        s.sendall(b"GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n")
        t0 = time.monotonic()
        # (TCP_DEFER_ACCEPT: the server's end is established once bytes arrive)
        self.assertTrue(wait_until(server_side_open, 5))
        # while it is stalled, others are served promptly
        for _ in range(3):
            self.assertServes(srv)
        # the server gives up on the stalled client: its end of the
        # connection leaves ESTABLISHED (FIN queued behind the unsent data, or reset)
        closed = wait_until(lambda: not server_side_open(), 10)
        elapsed = time.monotonic() - t0
        # now read: what was buffered arrives, then EOF/reset -- never the whole file
        total = 0
        end = "eof"
        s.settimeout(10)
        try:
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                total += len(b)
        except (ConnectionResetError, BrokenPipeError):
            end = "reset"
        except socket.timeout:
            end = "timeout"
        self.assertTrue(closed, "server kept the stalled connection open for %.1fs" % elapsed)
        self.assertGreaterEqual(elapsed, 0.8)
        self.assertNotEqual(end, "timeout", "connection left open after %d bytes" % total)
        self.assertLess(total, size, "whole file delivered: the send timeout never fired")
        self.assertServes(srv)

    def test_send_timeout_not_fired_for_slow_but_steady_reader(self):
        size = 4 * MB
        make_sparse(os.path.join(self.root.path, "mid"), size, {0: os.urandom(1000), size - 1000: os.urandom(1000)})
        srv = self.start("--timeout-send", "1")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.settimeout(10)
        s.connect(srv.address())
        s.sendall(b"GET /mid HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        h = hashlib.sha256()
        t0 = time.monotonic()
        data = b""
        while b"\r\n\r\n" not in data:
            b = s.recv(65536)
            self.assertTrue(b, "closed before the head")
            data += b
        body = data.split(b"\r\n\r\n", 1)[1]
        h.update(body)
        total = len(body)
        # ~1.5-2 s total, progress every 0.1 s (much shorter than the send timeout)
        while True:
            b = s.recv(256 * 1024)
            if not b:
                break
            h.update(b)
            total += len(b)
            time.sleep(0.05 if time.monotonic() - t0 < 1.5 else 0)
        self.assertEqual(total, size)
        self.assertEqual(h.hexdigest(), file_sha256(os.path.join(self.root.path, "mid")))


# ---------------------------------------------------------------------------
# pipelining and concurrency

class PipelineTest(RootCase):
    N = 100

    def setUp(self):
        super().setUp()
        self.bodies = {}
        for i in range(self.N):
            body = ("file-%03d;" % i).encode() * (i + 1)
            self.bodies[i] = body
            self.root.write("p/f%03d.txt" % i, body)

    def plan(self):
        """[(request bytes, method, expected status, expected body)]"""
        reqs = []
        for i in range(self.N):
            last = i == self.N - 1
            conn = "Connection: close\r\n" if last else ""
            path = "/p/f%03d.txt" % i
            body = self.bodies[i]
            if i % 11 == 5:
                reqs.append(("GET /p/missing%03d.txt HTTP/1.1\r\nHost: localhost\r\n%s\r\n" % (i, conn),
                             "GET", 404, None))
            elif i % 5 == 3:
                reqs.append(("HEAD %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n" % (path, conn), "HEAD", 200, body))
            elif i % 7 == 0:
                reqs.append(("GET %s HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-8\r\n%s\r\n" % (path, conn),
                             "GET", 206, body[:9]))
            else:
                reqs.append(("GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n" % (path, conn), "GET", 200, body))
        return reqs

    def check(self, s, reqs):
        rd = Reader(s)
        for i, (_, method, status, body) in enumerate(reqs):
            st, h, b = rd.response(head_only=(method == "HEAD"))
            self.assertEqual(st, status, "response %d" % i)
            if status == 404:
                continue
            if method == "HEAD":
                self.assertEqual(int(h["content-length"]), len(body), "response %d" % i)
                self.assertEqual(b, b"")
            else:
                self.assertEqual(b, body, "response %d out of order or wrong" % i)
        self.assertEqual(rd.buf, b"", "bytes after the last response")
        self.assertTrue(rd.closed_within(5), "not closed after Connection: close")

    def test_pipeline_100_in_one_write(self):
        srv = self.start()
        reqs = self.plan()
        s = srv.connect(timeout=10)
        self.addCleanup(s.close)
        s.sendall("".join(r[0] for r in reqs).encode())
        self.check(s, reqs)

    def test_pipeline_100_in_tiny_pieces(self):
        srv = self.start()
        reqs = self.plan()
        s = srv.connect(timeout=10)
        self.addCleanup(s.close)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = "".join(r[0] for r in reqs).encode()
        rnd = random.Random(7)
        result = {}

        def reader():
            try:
                self.check(s, reqs)
                result["ok"] = True
            except BaseException as e:  # reported below
                result["error"] = e

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        pos = 0
        while pos < len(data):
            n = rnd.randint(1, 40)
            s.sendall(data[pos:pos + n])
            pos += n
        t.join(30)
        if "error" in result:
            raise result["error"]
        self.assertTrue(result.get("ok"), "reader did not finish")

    def test_pipeline_same_file_100_gets(self):
        srv = self.start()
        s = srv.connect(timeout=10)
        self.addCleanup(s.close)
        s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\n\r\n" * 100)
        rd = Reader(s)
        for i in range(100):
            st, h, b = rd.response()
            self.assertEqual((st, b), (200, SMALL), "response %d" % i)
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertEqual(rd.response()[2], b"<p>index</p>")


    def test_fast_uploader_does_not_hold_the_worker(self):
        # one client streaming a chunked body of 1-byte chunks as fast as it
        # can (the server decodes slower than loopback delivers): the worker
        # takes its turns with the others instead of reading it for ever
        srv = self.start("--max-body-size", "1g")
        addr = srv.address()
        stop = threading.Event()
        sent = [0]

        def blast():
            s = socket.create_connection(addr, timeout=10)
            try:
                s.sendall(b"POST /small.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
                block = b"1\r\nx\r\n" * 50000
                while not stop.is_set():
                    s.sendall(block)
                    sent[0] += len(block)
            except OSError:
                pass
            finally:
                s.close()

        t = threading.Thread(target=blast, daemon=True)
        t.start()
        try:
            wait_until(lambda: sent[0] > 4 << 20, 5)
            times = []
            for _ in range(15):
                times.append(timed_get(addr, "/small.txt", SMALL))
                time.sleep(0.1)
        finally:
            stop.set()
            t.join(10)
        self.assertGreater(sent[0], 4 << 20)
        self.assertLess(max(times), 0.5, times)
        self.assertServes(srv)


class ConcurrencyTest(RootCase):
    N = 2000

    def test_2000_concurrent_connections(self):
        if not raise_nofile(self.N + 500):
            self.skipTest("RLIMIT_NOFILE hard limit too low for %d sockets" % self.N)
        for i in range(10):
            self.root.write("c/%d.txt" % i, ("concurrent %d\n" % i).encode() * (i + 1))
        srv = self.start()
        pid = proc_pid(srv)
        addr = srv.address()
        socks = []
        sel = selectors.DefaultSelector()
        t0 = time.monotonic()
        try:
            for i in range(self.N):
                socks.append(socket.create_connection(addr, timeout=10))
            for i, s in enumerate(socks):
                s.sendall(b"GET /c/%d.txt HTTP/1.1\r\nHost: localhost\r\n\r\n" % (i % 10))
            bufs = [b""] * self.N
            pending = set(range(self.N))
            for i, s in enumerate(socks):
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ, i)

            def complete(buf):
                if b"\r\n\r\n" not in buf:
                    return False
                head, body = buf.split(b"\r\n\r\n", 1)
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        return len(body) >= int(v)
                return False

            deadline = time.monotonic() + 60
            while pending and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=1):
                    i = key.data
                    try:
                        b = socks[i].recv(65536)
                    except BlockingIOError:
                        continue
                    if not b:
                        sel.unregister(socks[i])
                        pending.discard(i)
                        continue
                    bufs[i] += b
                    if complete(bufs[i]):
                        sel.unregister(socks[i])
                        pending.discard(i)
            self.assertFalse(pending, "%d connections got no complete response" % len(pending))
            for i, buf in enumerate(bufs):
                expected = ("concurrent %d\n" % (i % 10)).encode() * (i % 10 + 1)
                self.assertTrue(buf.startswith(b"HTTP/1.1 200 "), "conn %d: %r" % (i, buf[:100]))
                self.assertTrue(buf.endswith(b"\r\n\r\n" + expected), "conn %d: %r" % (i, buf[-100:]))
            # all of them are open at once on the server side (keep-alive)
            self.assertTrue(wait_until(lambda: fd_count(pid) >= self.N, 10), fd_count(pid))
        finally:
            sel.close()
            for s in socks:
                s.close()
        self.assertLess(time.monotonic() - t0, 60)
        self.assertServes(srv)
        # and they are all released once the clients are gone
        self.assertTrue(wait_until(lambda: server_conns(srv.port) == 0, 10), server_conns(srv.port))
        self.assertTrue(wait_until(lambda: fd_count(pid) < 100, 10), fd_count(pid))

    def test_emfile_no_spin_and_recovery(self):
        limit = 64
        n = 150

        def lower_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        srv = self.start(preexec_fn=lower_limit)
        pid = proc_pid(srv)
        addr = srv.address()
        socks = []
        try:
            for _ in range(n):
                s = socket.create_connection(addr, timeout=10)
                s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
                socks.append(s)
            answered, dropped = set(), set()
            bufs = [b""] * n
            statuses = {}

            def poll(wait):
                """Collect responses/closes for up to wait seconds; returns after 0.7 s without progress."""
                deadline = time.monotonic() + wait
                last = time.monotonic()
                while time.monotonic() < deadline and time.monotonic() - last < 0.7:
                    live = {s.fileno(): i for i, s in enumerate(socks)
                            if i not in answered and i not in dropped}
                    if not live:
                        return
                    p = select.poll()
                    for fd in live:
                        p.register(fd, select.POLLIN)
                    for fd, _ in p.poll(100):
                        i = live[fd]
                        try:
                            b = socks[i].recv(65536)
                        except (ConnectionResetError, socket.timeout):
                            b = b""
                        if not b:
                            dropped.add(i)
                        else:
                            bufs[i] += b
                            st = complete_status(bufs[i])
                            if st is not None:
                                answered.add(i)
                                statuses[i] = st
                        last = time.monotonic()

            poll(10)
            if len(answered) >= n:
                self.skipTest("server was not limited by RLIMIT_NOFILE (answered all %d)" % n)
            self.assertTrue(srv.alive(), srv.stderr_text())
            # out of descriptors with connections waiting: it must not spin
            c0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(1.0)
            cpu = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
            self.assertLess(cpu, 0.3, "hearth uses %.0f%% CPU while out of descriptors" % (cpu * 100))
            # free descriptors: the waiting connections are served (or cleanly closed)
            first = set(answered)
            for i in first:
                socks[i].close()
            remaining = n - len(answered) - len(dropped)
            deadline = time.monotonic() + 20
            while len(answered) + len(dropped) < n and time.monotonic() < deadline:
                poll(deadline - time.monotonic())
                for i in list(answered - first):
                    if socks[i].fileno() >= 0:  # free its descriptor so others can proceed
                        socks[i].close()
            self.assertEqual(len(answered) + len(dropped), n,
                             "%d of %d waiting connections never answered after descriptors freed" % (
                                 n - len(answered) - len(dropped), remaining))
            # a request that finds no descriptor for its file may get a 503; most are served
            self.assertLessEqual(set(statuses.values()), {200, 503}, statuses)
            self.assertGreater(list(statuses.values()).count(200), n // 2, statuses)
            for i, st in statuses.items():
                if st == 200:
                    self.assertTrue(bufs[i].endswith(b"\r\n\r\n" + SMALL), bufs[i][:300])
        finally:
            for s in socks:
                s.close()
        self.assertTrue(srv.alive(), srv.stderr_text())
        self.assertTrue(wait_until(lambda: fd_count(pid) < limit - 10, 10), fd_count(pid))
        self.assertServes(srv)


# ---------------------------------------------------------------------------
# aborted and partial requests

class AbortTest(RootCase):

    def test_aborted_downloads(self):
        size = 50 * MB
        make_sparse(os.path.join(self.root.path, "big"), size,
                    {i * 5 * MB: os.urandom(64 * 1024) for i in range(10)})
        srv = self.start()
        pid = proc_pid(srv)
        addr = srv.address()
        self.assertServes(srv)
        base_fds = fd_count(pid)
        rss0 = rss_kb(pid)
        errors = []

        def client(i):
            try:
                s = socket.create_connection(addr, timeout=10)
                if i % 2:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
                s.sendall(b"GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n")
                if i % 5 != 4:  # read a little; every fifth reads nothing at all
                    got = 0
                    while got < 100000 + i * 10000:
                        b = s.recv(65536)
                        if not b:
                            raise AssertionError("closed early after %d bytes" % got)
                        got += len(b)
                s.close()
            except Exception as e:  # reported below
                errors.append((i, e))

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        self.assertEqual(errors, [])
        self.assertTrue(srv.alive(), "hearth died after aborted downloads:\n" + srv.stderr_text())
        self.assertServes(srv)
        self.assertTrue(wait_until(lambda: server_conns(srv.port) == 0, 10),
                        "hearth still holds %d aborted connections" % server_conns(srv.port))
        self.assertTrue(wait_until(lambda: fd_count(pid) <= base_fds + 1, 10),
                        "descriptors leaked: %d -> %d" % (base_fds, fd_count(pid)))
        grown = (rss_kb(pid) - rss0) / 1024
        self.assertLess(grown, 50, "RSS grew by %.1f MB" % grown)

    def test_partial_head_then_close(self):
        srv = self.start()
        for piece in (b"G", b"GET /small.txt HTTP/1.1\r\nHo", b"GET /small.txt HTTP/1.1\r\nHost: x\r\n",
                      b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\n\r"):
            for rst in (False, True):
                s = srv.connect(timeout=5)
                if rst:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.sendall(piece)
                s.close()
        self.assertServes(srv)

    def test_partial_body_then_close(self):
        srv = self.start()
        for how in ("close", "rst", "shut_wr"):
            with self.subTest(how=how):
                s = srv.connect(timeout=10)
                s.sendall(b"POST /small.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n0123456789")
                if how == "rst":
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    s.close()
                elif how == "close":
                    s.close()
                else:
                    # the body can never complete: the server must notice the EOF
                    # and close at once, not wait for the 30 s body timeout
                    s.shutdown(socket.SHUT_WR)
                    t0 = time.monotonic()
                    got = b""
                    try:
                        while True:
                            b = s.recv(65536)
                            if not b:
                                break
                            got += b
                    except ConnectionResetError:
                        pass
                    except socket.timeout:
                        self.fail("server did not close a connection whose body was cut by EOF")
                    finally:
                        s.close()
                    self.assertLess(time.monotonic() - t0, 5)
                    if got:
                        self.assertRegex(got[:13], rb"^HTTP/1\.1 4\d\d ", got[:200])
                self.assertServes(srv)

    def test_partial_chunked_body_then_close(self):
        srv = self.start()
        s = srv.connect(timeout=10)
        s.sendall(b"POST /small.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"10\r\n0123456789")
        s.close()
        self.assertServes(srv)

    def test_request_then_close_without_reading(self):
        size = 8 * MB
        make_sparse(os.path.join(self.root.path, "eight"), size, {0: b"x"})
        srv = self.start()
        for i in range(10):
            s = srv.connect(timeout=5)
            s.sendall(b"GET /eight HTTP/1.1\r\nHost: localhost\r\n\r\n"
                      b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            s.close()
        self.assertServes(srv)

    def test_complete_request_half_close(self):
        # client sends a full request and shuts down its write side (like
        # "nc -N"): the request is still answered, then the connection closes
        srv = self.start()
        s = srv.connect(timeout=10)
        self.addCleanup(s.close)
        s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        rd = Reader(s)
        st, h, b = rd.response()
        self.assertEqual((st, b), (200, SMALL))
        self.assertTrue(rd.closed_within(5))


# ---------------------------------------------------------------------------
# big files

class BigFileTest(RootCase):

    def test_200mb_download_sha256(self):
        size = 200 * MB
        rnd = random.Random(2024)
        blocks = {off: rnd.randbytes(MB) for off in (0, 37 * MB + 5, 100 * MB + 123, 150 * MB, 199 * MB)}
        path = os.path.join(self.root.path, "big200.bin")
        make_sparse(path, size, blocks)
        expected = file_sha256(path)
        srv = self.start()
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
        self.addCleanup(conn.close)
        t0 = time.monotonic()
        conn.request("GET", "/big200.bin")
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(int(resp.getheader("Content-Length")), size)
        h = hashlib.sha256()
        total = 0
        while True:
            chunk = resp.read(4 * MB)
            if not chunk:
                break
            h.update(chunk)
            total += len(chunk)
        self.assertEqual(total, size)
        self.assertEqual(h.hexdigest(), expected)
        self.assertLess(time.monotonic() - t0, 60)
        # the same connection is still usable (keep-alive after a big body)
        conn.request("GET", "/big200.bin", headers={"Range": "bytes=%d-%d" % (37 * MB, 38 * MB + 99)})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 206)
        with open(path, "rb") as f:
            f.seek(37 * MB)
            want = f.read(MB + 100)
        self.assertEqual(resp.read(), want)

    def test_send_lowat_values_keep_bodies_whole(self):
        """--send-lowat only changes how much waits unsent in the kernel: with
        the smallest value (1k: a writable edge after every few KiB), with off
        (the kernel's default) and with the default, three concurrent
        downloads into small receive buffers, read in uneven pieces with a
        stall in the middle, must each arrive whole and in order."""
        size = 16 * MB + 333
        rnd = random.Random(7)
        data = rnd.randbytes(size)
        path = os.path.join(self.root.path, "lowat.bin")
        with open(path, "wb") as f:
            f.write(data)
        expected = hashlib.sha256(data).hexdigest()
        for flags in (("--send-lowat", "1k"), ("--send-lowat", "off"), ()):
            with self.subTest(flags=flags):
                srv = self.start(*flags)
                host, port = srv.address()
                socks = []
                for _ in range(3):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
                    s.settimeout(30)
                    s.connect((host, port))
                    s.sendall(b"GET /lowat.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    socks.append(s)
                bufs = [bytearray() for _ in socks]
                heads = [None] * len(socks)
                pieces = (1, 700, 4096, 65536, 13)
                turn = 0
                stalled = False
                t0 = time.monotonic()
                while any(h is None or len(b) < size for h, b in zip(heads, bufs)):
                    self.assertLess(time.monotonic() - t0, 60, "downloads stalled")
                    for i, s in enumerate(socks):
                        if heads[i] is not None and len(bufs[i]) >= size:
                            continue
                        chunk = s.recv(pieces[turn % len(pieces)])
                        turn += 1
                        self.assertTrue(chunk, "connection %d closed early (%d bytes)" % (i, len(bufs[i])))
                        bufs[i] += chunk
                        if heads[i] is None and b"\r\n\r\n" in bufs[i]:
                            head, _, rest = bytes(bufs[i]).partition(b"\r\n\r\n")
                            self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head[:80])
                            self.assertIn(b"Content-Length: %d" % size, head)
                            heads[i] = head
                            bufs[i] = bytearray(rest)
                    if not stalled and min(len(b) for b in bufs) > 4 * MB:
                        stalled = True
                        time.sleep(0.3)  # the stimulus: every reader stops at once, then resumes
                for i, s in enumerate(socks):
                    self.assertEqual(len(bufs[i]), size)
                    self.assertEqual(hashlib.sha256(bufs[i]).hexdigest(), expected, "connection %d" % i)
                    s.close()
                self.assertServes(srv)

    def test_5gb_sparse_ranges(self):
        size = 5 * 10 ** 9 + 12345
        rnd = random.Random(5)
        near_end = rnd.randbytes(100)
        across_4g = rnd.randbytes(100)
        tail = rnd.randbytes(10)
        path = os.path.join(self.root.path, "huge.bin")
        make_sparse(path, size, {5000000000: near_end, (1 << 32) - 50: across_4g, size - 10: tail})
        srv = self.start()
        addr = srv.address()
        st, h, b = get(addr, "/huge.bin", method="HEAD")
        self.assertEqual(st, 200)
        self.assertEqual(int(h["content-length"]), size)
        st, h, b = get(addr, "/huge.bin", headers=["Range: bytes=5000000000-5000000099"])
        self.assertEqual(st, 206)
        self.assertEqual(h["content-range"], "bytes 5000000000-5000000099/%d" % size)
        self.assertEqual(b, near_end)
        st, h, b = get(addr, "/huge.bin", headers=["Range: bytes=-10"])
        self.assertEqual(st, 206)
        self.assertEqual(h["content-range"], "bytes %d-%d/%d" % (size - 10, size - 1, size))
        self.assertEqual(b, tail)
        st, h, b = get(addr, "/huge.bin", headers=["Range: bytes=%d-" % (size - 10)])
        self.assertEqual((st, b), (206, tail))
        # a range straddling 4 GiB (32-bit truncation would read offset ~0)
        st, h, b = get(addr, "/huge.bin", headers=["Range: bytes=%d-%d" % ((1 << 32) - 50, (1 << 32) + 49)])
        self.assertEqual(st, 206)
        self.assertEqual(b, across_4g)
        # multipart beyond 4 GiB
        st, h, b = get(addr, "/huge.bin", headers=["Range: bytes=0-9,%d-%d" % (5000000000, 5000000099)])
        self.assertEqual(st, 206)
        self.assertIn("multipart/byteranges", h["content-type"])
        self.assertIn(near_end, b)
        self.assertIn(b"bytes 5000000000-5000000099/%d" % size, b)
        st, h, b = get(addr, "/huge.bin", headers=["Range: bytes=%d-" % size])
        self.assertEqual(st, 416)
        self.assertEqual(h["content-range"], "bytes */%d" % size)
        # a full GET starts streaming at once and can be abandoned
        s = srv.connect(timeout=10)
        s.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        got = b""
        while len(got) < 4 * MB:
            b = s.recv(1 << 20)
            self.assertTrue(b, "closed after %d bytes" % len(got))
            got += b
        s.close()
        self.assertTrue(got.startswith(b"HTTP/1.1 200 "), got[:100])
        self.assertIn(b"\r\ncontent-length: %d\r\n" % size, got.split(b"\r\n\r\n")[0].lower() + b"\r\n")
        self.assertServes(srv)


if __name__ == "__main__":
    unittest.main()
