"""Resource exhaustion (issue 6, "Resource exhaustion"): each test attacks one
resource, checks hearth's behaviour and prints a figure for the CI log.

- slow-loris: 1,000 connections trickling a request head, one byte every
  ~0.5 s (one selector loop), --timeout-header 2: all cut (408 or close) at
  the header timeout while a normal client is answered promptly;
- slow readers: 200 clients request a 20 MB file and never read,
  --timeout-send 2: all cut at the send timeout, RSS growth bounded;
- a flood of 10,000 connections that open and send nothing,
  --timeout-header 3: normal requests still answered, all closed at the
  timeout (skipped when the hard RLIMIT_NOFILE is below 10,500, or below
  $HEARTH_FLOOD_MIN_NOFILE when that is set);
- descriptor exhaustion: hearth started with RLIMIT_NOFILE 64 and 100
  connections opened: no busy loop (CPU over 2 s), served again once they close;
- 10,000 pipelined requests in one burst from a client that reads slowly:
  every response correct and in order, RSS growth bounded (backpressure);
- --max-connections (global, across 2 workers: 503 + Retry-After, then close)
  and --max-connections-per-client (429, other addresses unaffected).

Every socket has a timeout (or is non-blocking and driven by a selector with
deadlines) and is closed in a finally block; every server is stopped by a
cleanup. The deliberate waits are the stimulus itself (trickle, stall, flood)
and a 2 s CPU sample.
"""
import heapq
import math
import os
import random
import re
import resource
import selectors
import socket
import struct
import threading
import time
import unittest

from harness import (Server, TempRoot, children_of, proc_stat, proc_status, read_response, socket_inodes,
                     wait_until)

MB = 1 << 20
SMALL = b"hearth: a small file for the exhaustion tests\n"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------
# helpers

def http_get(addr, path, timeout=5.0, source=None):
    """One GET (Connection: close). Returns (status, headers, body, seconds)."""
    t0 = time.monotonic()
    s = socket.create_connection(addr, timeout=timeout, source_address=source)
    try:
        s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        status, headers, body, _ = read_response(s)
    finally:
        s.close()
    return status, headers, body, time.monotonic() - t0


def rss_kb(pid):
    st = proc_status(pid)
    return int(st["VmRSS"].split()[0]) if st and "VmRSS" in st else 0


def cpu_seconds(pid):
    st = proc_stat(pid)
    return (int(st[14]) + int(st[15])) / CLK_TCK


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def tcp_key(client):
    """How /proc/net/tcp writes the client's end of a connection (IPv4)."""
    ip, port = client.getsockname()[:2]
    return "%08X:%04X" % (struct.unpack("<I", socket.inet_aton(ip))[0], port)


def server_ends(port):
    """{tcp_key of the client: inode of the server's end} for the TCP
    connections whose local port is port (hearth's side), read from
    /proc/net/tcp in one pass (it can be long on a busy machine)."""
    suffix = ":%04X" % port
    out = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1].endswith(suffix) and fields[9] != "0":
                out[fields[2]] = int(fields[9])
    return out


def held_by(srv, socks):
    """{index in socks: pid} for the sockets whose server end is in the
    descriptor table of hearth or one of its workers (accepted, not closed)."""
    pids = children_of(srv.proc.pid) or [srv.proc.pid]
    tables = {p: socket_inodes(p) for p in pids}
    ends = server_ends(srv.port)
    out = {}
    for i, s in enumerate(socks):
        ino = ends.get(tcp_key(s))
        for p, inos in tables.items():
            if ino is not None and ino in inos:
                out[i] = p
    return out


def percentile(values, p):
    v = sorted(values)
    return v[max(0, math.ceil(p / 100.0 * len(v)) - 1)] if v else float("nan")


def ms(seconds):
    return "%.0f ms" % (seconds * 1000)


def raise_nofile(need):
    """Raise this process's soft RLIMIT_NOFILE to at least need (up to the hard
    limit); True when it is now enough."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return True
    if hard != resource.RLIM_INFINITY and hard < need:
        return False
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return True


class NormalClient(threading.Thread):
    """Sequential GETs of one small file until finish(): every request's time,
    and the failures."""

    def __init__(self, addr, path="/small.txt", body=SMALL, pause=0.02):
        super().__init__(daemon=True)
        self.addr, self.path, self.body, self.pause = addr, path, body, pause
        self.times = []
        self.starts = []
        self.errors = []
        self._stop_ev = threading.Event()

    def run(self):
        while not self._stop_ev.is_set():
            t0 = time.monotonic()
            self.starts.append(t0)
            try:
                st, _, b, dt = http_get(self.addr, self.path)
                self.times.append(dt)
                if st != 200 or b != self.body:
                    self.errors.append("GET %s -> %s %r" % (self.path, st, b[:80]))
            except (OSError, EOFError, ValueError, IndexError) as e:
                self.times.append(time.monotonic() - t0)
                self.errors.append("GET %s failed after %.2f s: %r" % (self.path, time.monotonic() - t0, e))
            self._stop_ev.wait(self.pause)

    def finish(self):
        self._stop_ev.set()
        if self.ident is not None:
            self.join(15)

    def summary(self):
        if not self.times:
            return "no normal request completed"
        return "%d normal requests, p99 %s, max %s" % (
            len(self.times), ms(percentile(self.times, 99)), ms(max(self.times)))


class RssSampler(threading.Thread):
    """Samples pid's VmRSS (kB) every interval until finish()."""

    def __init__(self, pid, interval=0.02):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.base = rss_kb(pid)
        self.peak = self.base
        self._stop_ev = threading.Event()

    def run(self):
        while not self._stop_ev.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            self._stop_ev.wait(self.interval)

    def finish(self):
        if not self._stop_ev.is_set():
            self._stop_ev.set()
            if self.ident is not None:
                self.join(5)
            self.peak = max(self.peak, rss_kb(self.pid))
        return self.growth_mb()

    def growth_mb(self):
        return (self.peak - self.base) / 1024.0


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def open_nonblocking(addr, sel, data, source=None):
    """Start a non-blocking connect to addr, registered in sel for writability
    (connect done) with data. Returns the socket."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setblocking(False)
        if source:
            s.bind(source)
        s.connect_ex(addr)
        sel.register(s, selectors.EVENT_WRITE, data)
    except OSError:
        s.close()
        raise
    return s


def read_cut(sock):
    """The socket is readable: read what the server sent before closing.
    Returns (how, bytes): how is "408", "eof", "reset" or "data"."""
    got = b""
    try:
        while True:
            b = sock.recv(65536)
            if not b:
                return ("408" if got.startswith(b"HTTP/1.1 408 ") else "eof"), got
            got += b
    except BlockingIOError:
        return ("408" if got.startswith(b"HTTP/1.1 408 ") else "data"), got
    except (ConnectionResetError, BrokenPipeError):
        return ("408" if got.startswith(b"HTTP/1.1 408 ") else "reset"), got


class RootCase(unittest.TestCase):
    """A fresh document root per test (a small file and a 20 MB sparse file);
    servers started by each test, stopped by cleanups."""

    BIG = 20 * MB

    def setUp(self):
        self.root = TempRoot()
        self.addCleanup(self.root.cleanup)
        self.root.write("small.txt", SMALL)
        with open(os.path.join(self.root.path, "big.bin"), "wb") as f:
            f.write(b"start")
            f.truncate(self.BIG)

    def start(self, *args, **kw):
        kw.setdefault("timeout", 15.0)
        srv = Server(self.root.path, *args, **kw)
        self.addCleanup(srv.stop)
        return srv

    def assertServes(self, srv, limit=1.0, source=None):
        st, _, body, dt = http_get(srv.address(), "/small.txt", source=source)
        self.assertEqual((st, body), (200, SMALL))
        self.assertLess(dt, limit)
        self.assertTrue(srv.alive(), srv.stderr_text())
        return dt


def figure(text):
    print("\n    FIGURE " + text, flush=True)


# ---------------------------------------------------------------------------

class ExhaustionTest(RootCase):

    def test_1_slow_loris(self):
        n = 1000
        timeout = 2
        if not raise_nofile(n + 200):
            self.skipTest("RLIMIT_NOFILE hard limit too low for %d sockets" % n)
        srv = self.start("--timeout-header", str(timeout))
        addr = srv.address()
        payload = (b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\nX-Trickle: " + b"a" * 200 + b"\r\n\r\n")
        sel = selectors.DefaultSelector()
        socks = []
        normal = NormalClient(addr)
        connected = {}   # i -> time connected
        cut = {}         # i -> (seconds after connect, how)
        sent = [0] * n
        heap = []        # (next send time, i)
        failed = {}
        try:
            for i in range(n):
                socks.append(open_nonblocking(addr, sel, i))
            normal.start()
            deadline = time.monotonic() + timeout + 10
            while len(cut) + len(failed) < n and time.monotonic() < deadline:
                wait = 0.05
                if heap:
                    wait = max(0.0, min(wait, heap[0][0] - time.monotonic()))
                for key, events in sel.select(wait):
                    i, s = key.data, key.fileobj
                    now = time.monotonic()
                    if i not in connected:
                        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        if err:
                            failed[i] = os.strerror(err)
                            sel.unregister(s)
                            continue
                        connected[i] = now
                        sel.modify(s, selectors.EVENT_READ, i)
                        # the first byte now, then one every ~0.5 s (staggered)
                        heapq.heappush(heap, (now, i))
                        continue
                    how, _ = read_cut(s)
                    cut[i] = (now - connected[i], how)
                    sel.unregister(s)
                    s.close()
                now = time.monotonic()
                while heap and heap[0][0] <= now:
                    _, i = heapq.heappop(heap)
                    if i in cut:
                        continue
                    try:
                        socks[i].send(payload[sent[i]:sent[i] + 1])
                        sent[i] += 1
                    except BlockingIOError:
                        pass
                    except OSError:
                        # the server closed it: the next select reports the end
                        continue
                    heapq.heappush(heap, (now + 0.4 + random.random() * 0.2, i))
        finally:
            normal.finish()
            sel.close()
            close_all(socks)
        self.assertEqual(failed, {}, "connections that failed to open")
        open_left = n - len(cut)
        self.assertEqual(open_left, 0, "%d trickling connections still open after %d s" % (
            open_left, timeout + 10))
        lifetimes = [t for t, _ in cut.values()]
        hows = {}
        for _, how in cut.values():
            hows[how] = hows.get(how, 0) + 1
        figure("slow-loris: %d trickling connections (%d-%d head bytes sent each) cut in %.2f-%.2f s "
               "(median %.2f; %s) with --timeout-header %d; %s" % (
                   n, min(sent), max(sent), min(lifetimes), max(lifetimes), percentile(lifetimes, 50),
                   ", ".join("%s: %d" % kv for kv in sorted(hows.items())), timeout, normal.summary()))
        self.assertEqual(normal.errors, [], normal.errors[:5])
        self.assertGreater(len(normal.times), 10, normal.summary())
        self.assertLess(max(normal.times), 1.0, normal.summary())
        self.assertGreaterEqual(min(lifetimes), timeout - 0.5)
        self.assertLessEqual(max(lifetimes), timeout + 2.0)
        self.assertLessEqual(set(hows), {"408", "eof", "reset"}, hows)
        self.assertServes(srv)

    def test_2_slow_readers(self):
        n = 200
        timeout = 2
        if not raise_nofile(n + 200):
            self.skipTest("RLIMIT_NOFILE hard limit too low for %d sockets" % n)
        srv = self.start("--timeout-send", str(timeout))
        addr, pid = srv.address(), srv.proc.pid
        self.assertServes(srv)
        socks, inodes = [], []
        normal = NormalClient(addr, pause=0.05)
        sampler = None
        cut = {}
        try:
            for _ in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.settimeout(10)
                s.connect(addr)
            self.assertTrue(wait_until(lambda: len(held_by(srv, socks)) == n, 10, 0.05),
                            "not all connections accepted")
            ends = server_ends(srv.port)
            inodes = [ends[tcp_key(s)] for s in socks]
            sampler = RssSampler(pid)
            sampler.start()
            normal.start()
            t_sent = []
            for s in socks:
                s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
                t_sent.append(time.monotonic())
            deadline = time.monotonic() + timeout + 10
            while len(cut) < n and time.monotonic() < deadline:
                held = socket_inodes(pid)
                now = time.monotonic()
                for i, ino in enumerate(inodes):
                    if i not in cut and ino not in held:
                        cut[i] = now - t_sent[i]
                time.sleep(0.05)
            normal.finish()
            growth = sampler.finish()
            # now read: whatever was buffered arrives, then EOF (or a reset) --
            # never the whole file
            received = [0] * n
            ends = {}
            sel = selectors.DefaultSelector()
            try:
                for i, s in enumerate(socks):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                    s.setblocking(False)
                    sel.register(s, selectors.EVENT_READ, i)
                t0 = time.monotonic()
                drain_deadline = t0 + 30
                while len(ends) < n and time.monotonic() < drain_deadline:
                    for key, _ in sel.select(0.5):
                        i, s = key.data, key.fileobj
                        try:
                            while True:
                                b = s.recv(1 << 20)
                                if not b:
                                    ends[i] = "eof"
                                    break
                                received[i] += len(b)
                        except BlockingIOError:
                            continue
                        except (ConnectionResetError, BrokenPipeError):
                            ends[i] = "reset"
                        sel.unregister(s)
                drain_time = time.monotonic() - t0
            finally:
                sel.close()
        finally:
            normal.finish()
            if sampler is not None:
                sampler.finish()
            close_all(socks)
        lifetimes = list(cut.values())
        kinds = {}
        for how in ends.values():
            kinds[how] = kinds.get(how, 0) + 1
        figure("slow readers: %d stalled 20 MB downloads cut in %s s after the request with "
               "--timeout-send %d; %.1f MB buffered per client at most (drained in %.1f s: %s); "
               "RSS %d kB -> peak %d kB (growth %.1f MB); %s" % (
                   n, ("%.2f-%.2f" % (min(lifetimes), max(lifetimes))) if lifetimes else "-",
                   timeout, max(received) / MB, drain_time,
                   ", ".join("%s: %d" % kv for kv in sorted(kinds.items())),
                   sampler.base, sampler.peak, growth, normal.summary()))
        self.assertEqual(len(cut), n, "%d stalled connections still held by the server" % (n - len(cut)))
        self.assertGreaterEqual(min(lifetimes), timeout - 0.5)
        self.assertLessEqual(max(lifetimes), timeout + 2.5)
        self.assertEqual(len(ends), n,
                         "%d connections neither ended nor reset after the cut" % (n - len(ends)))
        self.assertLess(max(received), self.BIG, "a whole file was delivered: no send timeout")
        self.assertLess(growth, 64, "RSS grew by %.1f MB" % growth)
        self.assertEqual(normal.errors, [], normal.errors[:5])
        self.assertLess(max(normal.times), 1.0, normal.summary())
        self.assertServes(srv)

    def test_3_flood_10000_idle_connections(self):
        n = 10000
        timeout = 3
        need = int(os.environ.get("HEARTH_FLOOD_MIN_NOFILE", "10500"))
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < need:
            self.skipTest("flood of %d connections: the hard RLIMIT_NOFILE is %d, below %d "
                          "(set HEARTH_FLOOD_MIN_NOFILE to lower the bar)" % (n, hard, need))
        target = hard if hard != resource.RLIM_INFINITY else max(soft, need)
        if soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        # hearth inherits the raised limit (and raises its soft limit to the hard one itself)
        srv = self.start("--timeout-header", str(timeout))
        addr, pid = srv.address(), srv.proc.pid
        self.assertServes(srv)
        sel = selectors.DefaultSelector()
        socks = []
        connected, cut, failed, data = {}, {}, {}, {}
        normal = NormalClient(addr, pause=0.05)
        sampler = RssSampler(pid, interval=0.05)
        batch, every = 250, 0.025   # 10,000 opened over ~1 s
        t_start = time.monotonic()
        try:
            sampler.start()
            normal.start()
            opened = 0
            next_batch = t_start
            deadline = t_start + 2 + timeout + 12
            while len(cut) + len(failed) < n and time.monotonic() < deadline:
                now = time.monotonic()
                if opened < n and now >= next_batch:
                    for i in range(opened, min(n, opened + batch)):
                        try:
                            socks.append(open_nonblocking(addr, sel, i))
                        except OSError as e:
                            failed[i] = repr(e)
                    opened = min(n, opened + batch)
                    next_batch += every
                wait = max(0.0, min(0.05, next_batch - time.monotonic())) if opened < n else 0.05
                for key, _ in sel.select(wait):
                    i, s = key.data, key.fileobj
                    now = time.monotonic()
                    if i not in connected:
                        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        if err:
                            failed[i] = os.strerror(err)
                            sel.unregister(s)
                            s.close()
                        else:
                            connected[i] = now
                            sel.modify(s, selectors.EVENT_READ, i)
                        continue
                    how, got = read_cut(s)
                    cut[i] = now - connected[i]
                    if got:
                        data[i] = got
                    sel.unregister(s)
                    s.close()
            t_end = time.monotonic()
        finally:
            normal.finish()
            sampler.finish()
            sel.close()
            close_all(socks)
        lifetimes = list(cut.values())
        t_open = max(connected.values()) - t_start if connected else float("nan")
        figure("flood: %d idle connections opened in %.2f s, closed by the server %s s after opening "
               "(median %.2f) with --timeout-header %d, all gone %.1f s after the first; RSS %d kB -> "
               "peak %d kB (growth %.1f MB); during the flood %s" % (
                   n, t_open, ("%.2f-%.2f" % (min(lifetimes), max(lifetimes))) if lifetimes else "-",
                   percentile(lifetimes, 50), timeout, t_end - t_start, sampler.base, sampler.peak,
                   sampler.growth_mb(), normal.summary()))
        self.assertEqual(failed, {}, "connections that could not be opened: %r" % list(failed.items())[:5])
        self.assertEqual(len(cut), n, "%d idle connections still open" % (n - len(cut)))
        self.assertEqual(data, {}, "a silent connection got bytes: %r" % list(data.values())[:1])
        self.assertGreaterEqual(min(lifetimes), timeout - 0.5)
        self.assertLessEqual(max(lifetimes), timeout + 3.0)
        self.assertEqual(normal.errors, [], normal.errors[:5])
        self.assertGreater(len(normal.times), 10, normal.summary())
        self.assertLess(max(normal.times), 1.0, normal.summary())
        self.assertTrue(wait_until(lambda: fd_count(pid) < 50, 10), fd_count(pid))
        self.assertServes(srv)

    def test_4_descriptor_exhaustion(self):
        limit, n = 64, 100

        def lower_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        srv = self.start(preexec_fn=lower_limit)
        addr, pid = srv.address(), srv.proc.pid
        self.assertServes(srv)
        fds_idle = fd_count(pid)
        socks = []
        try:
            for _ in range(n):
                # the handshake completes in the kernel's backlog even when
                # hearth cannot accept: every connect succeeds
                socks.append(socket.create_connection(addr, timeout=5))
            self.assertTrue(wait_until(lambda: "pausing accepts" in srv.stderr_text(), 5),
                            "hearth never hit EMFILE:\n" + srv.stderr_text())
            held = fd_count(pid)
            self.assertTrue(srv.alive(), srv.stderr_text())
            c0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(2.0)
            cpu, wall = cpu_seconds(pid) - c0, time.monotonic() - t0
            self.assertTrue(srv.alive(), srv.stderr_text())
        finally:
            close_all(socks)
        t_closed = time.monotonic()
        # recovery: a new request is answered once descriptors are free again
        result = []

        def served():
            try:
                st, _, body, _ = http_get(addr, "/small.txt", timeout=5)
                result.append(st)
                return st == 200 and body == SMALL
            except (OSError, EOFError) as e:
                result.append(repr(e))
                return False

        ok = wait_until(served, 10, interval=0.1)
        recovery = time.monotonic() - t_closed
        figure("descriptor exhaustion: RLIMIT_NOFILE %d, %d connections (hearth holds %d descriptors, "
               "%d when idle): %.2f s of CPU in %.1f s while saturated; served again %s after the "
               "clients closed" % (limit, n, held, fds_idle, cpu, wall, ms(recovery)))
        self.assertLess(cpu, 0.5, "busy loop: %.2f s of CPU in %.1f s" % (cpu, wall))
        self.assertTrue(ok, "no recovery: %r" % result[-3:])
        self.assertTrue(wait_until(lambda: fd_count(pid) <= fds_idle + 2, 10), fd_count(pid))
        self.assertServes(srv)

    def test_5_pipelining_flood(self):
        n = 10000
        nfiles = 100
        bodies = []
        for k in range(nfiles):
            body = (b"file %02d " % k) * 512   # 4 KiB
            self.root.write("p/%02d.txt" % k, body)
            bodies.append(body)
        srv = self.start("--keepalive-requests", "100000")
        addr, pid = srv.address(), srv.proc.pid
        self.assertServes(srv)
        burst = b"".join(b"GET /p/%02d.txt HTTP/1.1\r\nHost: localhost\r\n\r\n" % (i % nfiles)
                         for i in range(n))
        s = socket.create_connection(addr, timeout=30)
        sampler = RssSampler(pid)
        send_result = {}

        def sender():
            try:
                s.sendall(burst)
                send_result["done"] = time.monotonic()
            except OSError as e:
                send_result["error"] = repr(e)

        th = threading.Thread(target=sender, daemon=True)
        buf = bytearray()
        pos = 0
        count = 0
        total = 0
        bad = []
        clen_rx = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.I)
        try:
            sampler.start()
            t0 = time.monotonic()
            th.start()
            deadline = t0 + 60
            while count < n and time.monotonic() < deadline:
                b = s.recv(64 * 1024)
                if not b:
                    break
                total += len(b)
                buf += b
                while True:
                    i = buf.find(b"\r\n\r\n", pos)
                    if i < 0:
                        break
                    head = bytes(buf[pos:i])
                    m = clen_rx.search(head)
                    clen = int(m.group(1)) if m else 0
                    if len(buf) < i + 4 + clen:
                        break
                    body = bytes(buf[i + 4:i + 4 + clen])
                    if not head.startswith(b"HTTP/1.1 200 ") or body != bodies[count % nfiles]:
                        bad.append((count, head[:60], body[:20]))
                    count += 1
                    pos = i + 4 + clen
                if pos > 1 << 20:
                    del buf[:pos]
                    pos = 0
                time.sleep(0.01)    # a slow reader: 64 KiB every 10 ms at most
            elapsed = time.monotonic() - t0
            th.join(10)
            # nothing beyond the n responses
            s.settimeout(0.3)
            try:
                extra = s.recv(65536)
            except socket.timeout:
                extra = b""
        finally:
            sampler.finish()
            s.close()
        growth = sampler.growth_mb()
        send_time = send_result.get("done", float("nan")) - t0
        figure("pipelining: %d requests (%d KB) in one burst, %d responses (%.1f MB) read at <= 64 KiB "
               "per 10 ms in %.2f s (the burst's last byte accepted after %.2f s); RSS %d kB -> peak %d kB "
               "(growth %.1f MB)" % (n, len(burst) // 1024, count, total / MB, elapsed, send_time,
                                     sampler.base, sampler.peak, growth))
        self.assertNotIn("error", send_result, send_result)
        self.assertEqual(bad, [], bad[:5])
        self.assertEqual(count, n, "only %d of %d responses" % (count, n))
        self.assertEqual(len(buf) - pos, 0, "bytes after the last response: %r" % bytes(buf[pos:pos + 100]))
        self.assertEqual(extra, b"", "bytes after the last response: %r" % extra[:100])
        self.assertLess(growth, 32, "RSS grew by %.1f MB: no backpressure" % growth)
        self.assertServes(srv)

    def _expect_refused(self, addr, status, source=None):
        """Connect, send nothing: expect status with Retry-After, then the close.
        Returns the seconds until the close."""
        t0 = time.monotonic()
        s = socket.create_connection(addr, timeout=5, source_address=source)
        try:
            got = b""
            while True:
                try:
                    b = s.recv(65536)
                except ConnectionResetError:
                    break
                if not b:
                    break
                got += b
        finally:
            s.close()
        dt = time.monotonic() - t0
        self.assertTrue(got.startswith(b"HTTP/1.1 %d " % status), got[:200])
        self.assertRegex(got, rb"(?i)\r\nretry-after: *\d+\r\n")
        self.assertRegex(got, rb"\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} [\d:]{8} GMT\r\n")
        return dt

    def _wait_accepted(self, srv, socks):
        """Wait until the server (or its workers) holds each of socks; {index: pid}."""
        held = wait_until(lambda: (lambda h: h if len(h) == len(socks) else None)(held_by(srv, socks)),
                          5, 0.05)
        self.assertTrue(held, "idle connections not all accepted: %d of %d" % (
            len(held_by(srv, socks)), len(socks)))
        return held

    @staticmethod
    def _server_sockets(srv):
        """Sockets in the descriptor tables of hearth's worker(s)."""
        return sum(len(socket_inodes(p)) for p in (children_of(srv.proc.pid) or [srv.proc.pid]))

    def _wait_sockets(self, srv, count):
        self.assertTrue(wait_until(lambda: self._server_sockets(srv) == count, 5, 0.02),
                        "hearth holds %d sockets, expected %d" % (self._server_sockets(srv), count))

    def test_6a_max_connections_global(self):
        limit, over = 50, 10
        # reuseport: the kernel spreads the connections over both workers, so
        # the limit is reached only by counting them together
        srv = self.start("--workers", "2", "--accept-mode", "reuseport", "--max-connections", str(limit))
        addr = srv.address()
        self.assertTrue(wait_until(lambda: len(children_of(srv.proc.pid)) == 2, 5), "2 workers")
        base = self._server_sockets(srv)
        idle = []
        try:
            for _ in range(limit):
                idle.append(socket.create_connection(addr, timeout=5))
            held = self._wait_accepted(srv, idle)
            per_worker = {w: 0 for w in children_of(srv.proc.pid)}
            for w in held.values():
                per_worker[w] = per_worker.get(w, 0) + 1
            self.assertEqual(len(per_worker), 2, per_worker)
            self.assertGreater(min(per_worker.values()), 0, "all on one worker: %r" % per_worker)
            refused = [self._expect_refused(addr, 503) for _ in range(over)]
            # a client with a real request is refused the same way
            st, h, _, _ = http_get(addr, "/small.txt")
            self.assertEqual(st, 503)
            self.assertIn("retry-after", h)
            self._wait_sockets(srv, base + limit)
            # free some places: served again
            for s in idle[:over]:
                s.close()
            del idle[:over]
            t0 = time.monotonic()
            self.assertTrue(wait_until(lambda: http_get(addr, "/small.txt")[0] == 200, 5, 0.05),
                            "not served again after closing %d connections" % over)
            again = time.monotonic() - t0
            # the count did not leak: once full again, the next one is refused
            for _ in range(over):
                idle.append(socket.create_connection(addr, timeout=5))
            self._wait_accepted(srv, idle)
            self._expect_refused(addr, 503)
        finally:
            close_all(idle)
        figure("max-connections: --workers 2 --accept-mode reuseport --max-connections %d: "
               "%d idle held (per worker %s); "
               "%d more each got 503 + Retry-After then close (max %s); served again %s after "
               "closing %d; refused again once full" % (
                   limit, limit, sorted(per_worker.values()), over, ms(max(refused)), ms(again), over))
        self.assertServes(srv)

    def test_6b_max_connections_per_client(self):
        limit = 3
        srv = self.start("--max-connections-per-client", str(limit))
        addr = srv.address()
        base = self._server_sockets(srv)
        idle = []
        try:
            for _ in range(limit):
                idle.append(socket.create_connection(addr, timeout=5, source_address=("127.0.0.1", 0)))
            self._wait_accepted(srv, idle)
            dt = self._expect_refused(addr, 429, source=("127.0.0.1", 0))
            # another address is not affected
            other = self.assertServes(srv, source=("127.0.0.2", 0))
            self._wait_sockets(srv, base + limit)
            # ... and has its own limit
            other_idle = []
            for _ in range(limit):
                other_idle.append(socket.create_connection(addr, timeout=5, source_address=("127.0.0.2", 0)))
                idle.append(other_idle[-1])
            self._wait_accepted(srv, other_idle)
            self._expect_refused(addr, 429, source=("127.0.0.2", 0))
            # one place freed for 127.0.0.1: served again
            idle[0].close()
            del idle[0]
            t0 = time.monotonic()
            self.assertTrue(wait_until(
                lambda: http_get(addr, "/small.txt", source=("127.0.0.1", 0))[0] == 200, 5, 0.05))
            again = time.monotonic() - t0
        finally:
            close_all(idle)
        figure("max-connections-per-client %d: the 4th from 127.0.0.1 got 429 + Retry-After then close "
               "in %s; 127.0.0.2 served meanwhile in %s (and limited to %d itself); 127.0.0.1 served "
               "again %s after closing one" % (limit, ms(dt), ms(other), limit, ms(again)))
        self.assertServes(srv)

if __name__ == "__main__":
    unittest.main()
