"""hearth behind a real HAProxy (issue 7): two instances on loopback behind
Debian's haproxy with send-proxy-v2 and HTTP health checks against /healthz,
load through HAProxy the whole time (4 threads, keep-alive and new
connections, every body checked), from the client address 127.0.0.2 so the
access logs can tell the real client (from the PROXY header) from HAProxy's
own 127.0.0.1:

a. steady state: every response correct, both access logs show 127.0.0.2;
b. rolling restart, A then B: SIGTERM with --drain-delay 1.5 (longer than
   inter 200ms x fall 2), HAProxy marks the instance DOWN from the 503 of
   /healthz while it still serves, the instance exits, is restarted on the same
   port, comes back UP and gets traffic again: zero failed requests, with
   HAProxy's default retry settings (retries 3, plus option redispatch);
c. SIGKILL of A (master and workers at once): failures only for requests in
   flight on A (at most one per load thread; the count is printed), none
   once HAProxy has marked A DOWN.

And a reload (SIGHUP) under load is not a drain: HAProxy keeps A UP and no
request fails.

The load client behaves like any HTTP client in one respect: a GET whose
reused keep-alive connection closes before any byte of the response is
retried once on a new connection (RFC 9112, 9.3.1), which is how HAProxy
reports a request lost on a reused server connection. Those retries are
counted and printed, and must be zero everywhere but at the SIGKILL.

Skipped only when haproxy is not installed (.ci/run installs Debian's package).
"""
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from harness import BIN, free_port, read_response, wait_until

HAPROXY = shutil.which("haproxy") or next(
    (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)), None)

CLIENT_ADDR = "127.0.0.2"  # the load's source address: not HAProxy's 127.0.0.1
THREADS = 4
DRAIN_DELAY = 1.5          # > inter 200ms x fall 2 = 0.4 s, with margin
REQ_TIMEOUT = 10.0         # per socket operation of the load client
QUOTED = r'"((?:[^"\\]|\\.)*)"'
COMBINED_RE = re.compile(r'^(\S+) - - \[([^\]]+)\] ' + QUOTED + r' (\d{3}) (\d+|-) ' + QUOTED + ' ' + QUOTED + r'$')
LOAD_UA = "hearth-haproxy-load"

FILES = {
    "/index.html": b"<!doctype html><title>hearth</title><p>behind haproxy</p>\n",
    "/small.txt": b"small file\n",
    "/data/64k.bin": bytes(random.Random(7).getrandbits(8) for _ in range(64 * 1024)),
    "/data/3k.json": (b'{"k": "' + b"v" * 3000 + b'"}\n'),
}

HAPROXY_CFG = """\
global
    maxconn 1024
    stats socket {stats} mode 600 level admin

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    # a check may take this long to answer (the connect part is min(timeout
    # connect, inter)): a slow sanitizer build must not fail checks by accident
    timeout check 2s
    option redispatch
    retries 3

frontend fe
    bind 127.0.0.1:{fe}
    default_backend hearth

backend hearth
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    server A 127.0.0.1:{a} send-proxy-v2 check inter 200ms fall 2 rise 2
    server B 127.0.0.1:{b} send-proxy-v2 check inter 200ms fall 2 rise 2
"""


def quiet_port():
    """A free loopback port outside the kernel's ephemeral range: the instances
    are restarted on their port while thousands of connections come and go,
    and none of them may take it as its local port in between."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999
    candidates = list(range(10000, lo)) if lo > 11000 else list(range(hi + 1, 65536))
    rnd = random.Random()
    for _ in range(200):
        port = rnd.choice(candidates)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    return free_port()


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def tail(path, n=40):
    return "\n".join(read_text(path).splitlines()[-n:])


def access_lines(path):
    out = []
    for line in read_text(path).splitlines():
        m = COMBINED_RE.match(line)
        if m:
            out.append(dict(addr=m.group(1), request=m.group(3), status=int(m.group(4)), ua=m.group(7), line=line))
        else:
            out.append(dict(addr=None, request=None, status=None, ua=None, line=line))
    return out


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


class Instance:
    """One hearth (a master and 2 workers) in its own process group, so that
    SIGKILL reaches master and workers at once. gen numbers the incarnations
    of the same instance: each has its own error and access log."""

    def __init__(self, name, port, tmp, docroot, gen):
        self.name, self.port, self.gen = name, port, gen
        base = os.path.join(tmp, "%s-%d" % (name, gen))
        self.error_log = base + "-error.log"
        self.access_log = base + "-access.log"
        self.out_path = base + "-out.txt"
        self.pid_file = os.path.join(tmp, "%s.pid" % name)
        self.argv = [BIN, "--workers", "2", "--listen", "127.0.0.1:%d:proxy" % port,
                     "--health", "/healthz", "--drain-delay", str(DRAIN_DELAY),
                     "--access-log", self.access_log, "--error-log", self.error_log,
                     "--pid-file", self.pid_file, "--control", "off"]
        if os.geteuid() == 0:
            self.argv += ["--user", "root"]  # keep root: workers as nobody could not read the mkdtemp root
        self.argv.append(docroot)
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 15
        while not re.search(r"listening on 127\.0\.0\.1:%d\b" % port, read_text(self.error_log)):
            if self.proc.poll() is not None:
                raise RuntimeError("hearth %s exited with %s before listening:\n%s\n%s" % (
                    name, self.proc.returncode, tail(self.error_log), read_text(self.out_path)))
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("hearth %s did not report listening:\n%s" % (name, tail(self.error_log)))
            time.sleep(0.02)

    def alive(self):
        return self.proc.poll() is None

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        """SIGKILL to the whole process group (master and workers)."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def diag(self):
        return "--- %s#%d error log:\n%s\n--- stdout/stderr:\n%s" % (
            self.name, self.gen, tail(self.error_log), tail(self.out_path, 10))


class NoResponse(Exception):
    """The connection closed (or was reset) before any byte of a response."""


def read_response_or_none(sock):
    """harness.read_response, but raising NoResponse when not a single byte of
    the response arrived."""
    try:
        first = sock.recv(65536)
    except ConnectionResetError as e:
        raise NoResponse("reset before any response byte") from e
    if not first:
        raise NoResponse("closed before any response byte")

    class Prefixed:  # hands `first` back before reading the socket again
        def __init__(self):
            self.pending = first

        def recv(self, n):
            if self.pending:
                b, self.pending = self.pending, b""
                return b
            return sock.recv(n)
    return read_response(Prefixed())


OK, FAILED, RETRIED = "ok", "failed", "retried"


class Load:
    """THREADS clients GETting FILES through HAProxy from CLIENT_ADDR, mixing
    keep-alive runs (2-20 requests on one connection) and one-request
    connections, checking status and body of every response. Any exception,
    wrong status or wrong body is a failure, with one exception that every
    HTTP client makes (RFC 9112, 9.3.1): when a keep-alive connection that
    already carried a response closes before any byte of the next one, the GET
    is retried once on a new connection. HAProxy closes a client connection
    that way on purpose when the request was lost on a reused server
    connection. Such retries are recorded (RETRIED) and reported; the retry
    itself is then an ordinary request. Every request is recorded as
    (start, end, OK|FAILED|RETRIED, description)."""

    def __init__(self, addr):
        self.addr = addr
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.records = []
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(THREADS)]

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(REQ_TIMEOUT * 3)

    def _record(self, t0, kind, desc=""):
        with self.lock:
            self.records.append((t0, time.monotonic(), kind, desc))

    def _run(self, idx):
        rnd = random.Random(1000 + idx)
        paths = sorted(FILES)
        sock, left, used = None, 0, 0
        retry_path = None
        while not self.stop_ev.is_set() or retry_path:
            t0 = time.monotonic()
            path, retry_path = retry_path or rnd.choice(paths), None
            try:
                if sock is None:
                    left = rnd.randint(2, 20) if rnd.random() < 0.5 else 1
                    used = 0
                    sock = socket.create_connection(self.addr, timeout=REQ_TIMEOUT,
                                                    source_address=(CLIENT_ADDR, 0))
                left -= 1
                last = left <= 0
                sock.sendall(("GET %s HTTP/1.1\r\nHost: hearth.test\r\nUser-Agent: %s\r\n%s\r\n" % (
                    path, LOAD_UA, "Connection: close\r\n" if last else "")).encode())
                status, headers, body, rest = read_response_or_none(sock)
                if status != 200:
                    raise AssertionError("status %d for %s: %r" % (status, path, body[:200]))
                if body != FILES[path]:
                    raise AssertionError("wrong body for %s (%d bytes, want %d)" % (path, len(body), len(FILES[path])))
                if rest:
                    raise AssertionError("%d unexpected bytes after the response" % len(rest))
                used += 1
                if last or headers.get("connection", "").lower() == "close":
                    sock.close()
                    sock = None
                self._record(t0, OK)
            except NoResponse as e:
                retry = used > 0
                self._record(t0, RETRIED if retry else FAILED, "%s thread %d: %s%s" % (
                    path, idx, e, " on a reused connection: retried" if retry else ""))
                retry_path = path if retry else None
                sock.close()
                sock = None
            except Exception as e:  # noqa: BLE001 -- any failure counts
                self._record(t0, FAILED, "%s thread %d: %r" % (path, idx, e))
                if sock is not None:
                    sock.close()
                sock = None
        if sock is not None:
            sock.close()

    def snapshot(self):
        with self.lock:
            return list(self.records)

    def count(self, since=0.0, until=float("inf")):
        """(ok, failed, retried, the failed and retried records) for the
        requests started in [since, until)."""
        recs = [r for r in self.snapshot() if since <= r[0] < until]
        bad = [r for r in recs if r[2] != OK]
        return (sum(1 for r in recs if r[2] == OK), sum(1 for r in bad if r[2] == FAILED),
                sum(1 for r in bad if r[2] == RETRIED), bad)


@unittest.skipIf(HAPROXY is None, "haproxy is not installed (.ci/run installs Debian's haproxy package)")
class HaproxyTest(unittest.TestCase):

    def setUp(self):
        self.t_begin = time.monotonic()
        self.tmp = tempfile.mkdtemp(prefix="hearth-haproxy-")
        self.instances = {}
        self.all_instances = []
        self.haproxy = None
        self.load = None
        self.addCleanup(self.cleanup)  # runs even when setUp fails half-way
        self.docroot = os.path.join(self.tmp, "www")
        for rel, data in FILES.items():
            p = os.path.join(self.docroot, rel.lstrip("/"))
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
        self.ports = {}
        while len(set(self.ports.values())) < 3:
            self.ports = {"fe": quiet_port(), "A": quiet_port(), "B": quiet_port()}
        self.stats_sock = os.path.join(self.tmp, "haproxy.sock")
        self.cfg = os.path.join(self.tmp, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(HAPROXY_CFG.format(stats=self.stats_sock, fe=self.ports["fe"], a=self.ports["A"],
                                       b=self.ports["B"]))
        check = subprocess.run([HAPROXY, "-c", "-f", self.cfg], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=30)
        self.assertEqual(check.returncode, 0, "haproxy -c rejects the generated config:\n%s" %
                         check.stdout.decode(errors="replace"))

    def cleanup(self):
        """Everything started is killed: load first, then every hearth (master
        and workers, by process group), then HAProxy."""
        if self.load is not None:
            self.load.stop()
        for inst in self.all_instances:
            inst.kill()
            if group_alive(inst.pid):  # a worker outliving its master
                try:
                    os.killpg(inst.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.haproxy is not None and self.haproxy.poll() is None:
            self.haproxy.kill()
            self.haproxy.wait(10)
        shutil.rmtree(self.tmp, ignore_errors=True)
        sys.stderr.write("\n  [haproxy test took %.1f s] " % (time.monotonic() - self.t_begin))

    # -- helpers ---------------------------------------------------------------

    def start_instance(self, name):
        gen = sum(1 for i in self.all_instances if i.name == name)
        inst = Instance(name, self.ports[name], self.tmp, self.docroot, gen)
        self.all_instances.append(inst)
        self.instances[name] = inst
        return inst

    def start_haproxy(self):
        out = open(os.path.join(self.tmp, "haproxy-out.txt"), "wb")
        try:
            self.haproxy = subprocess.Popen([HAPROXY, "-f", self.cfg, "-db"], stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            out.close()

        def answers():
            if self.haproxy.poll() is not None:
                raise AssertionError("haproxy exited with %s:\n%s" % (self.haproxy.returncode, self.diag()))
            try:
                socket.create_connection(("127.0.0.1", self.ports["fe"]), timeout=1).close()
                return os.path.exists(self.stats_sock)
            except OSError:
                return False
        self.assertTrue(wait_until(answers, 15), "haproxy's frontend never answered:\n" + self.diag())

    def stats(self):
        """{server name: row dict} of the hearth backend, from `show stat`."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(self.stats_sock)
            s.sendall(b"show stat\n")
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
        finally:
            s.close()
        lines = data.decode(errors="replace").splitlines()
        if not lines or not lines[0].startswith("# "):
            raise AssertionError("unexpected `show stat` output: %r" % data[:300])
        cols = lines[0][2:].split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(cols, line.split(",")))
            if row.get("pxname") == "hearth" and row.get("svname") in ("A", "B"):
                out[row["svname"]] = row
        return out

    def wait_status(self, name, pred, timeout, what):
        """Poll HAProxy until pred(status row) holds; returns (time seen, row)."""
        seen = []

        def ok():
            row = self.stats()[name]
            if not seen or seen[-1] != row["status"]:
                seen.append(row["status"])
            return row if pred(row) else None
        row = wait_until(ok, timeout, 0.02)
        t = time.monotonic()
        self.assertTrue(row, "HAProxy never saw %s %s within %.0f s (states seen: %s)\n%s" % (
            name, what, timeout, " -> ".join(seen), self.diag()))
        return t, row

    def load_lines(self, inst):
        return [l for l in access_lines(inst.access_log) if l["ua"] == LOAD_UA]

    def wait_load_lines(self, inst, timeout=5):
        """Access logs are flushed at least once a second: poll."""
        lines = wait_until(lambda: self.load_lines(inst), timeout)
        self.assertTrue(lines, "%s#%d logged no request of the load within %d s\n%s" % (
            inst.name, inst.gen, timeout, self.diag()))
        return lines

    def diag(self):
        parts = [i.diag() for i in self.all_instances]
        parts.append("--- haproxy:\n" + tail(os.path.join(self.tmp, "haproxy-out.txt"), 20))
        try:
            parts.append("--- haproxy servers: " + ", ".join(
                "%s=%s (%s)" % (k, v["status"], v.get("check_status")) for k, v in sorted(self.stats().items())))
        except (OSError, AssertionError, KeyError) as e:
            parts.append("--- haproxy stats unavailable: %r" % e)
        return "\n".join(parts)

    def failures_text(self, bad, limit=20):
        return "\n".join("  t=%.3f..%.3f [%s] %s" % (r[0] - self.t_begin, r[1] - self.t_begin, r[2], r[3])
                         for r in bad[:limit])

    def wait_progress(self, since, n, timeout):
        """Wait until at least n requests started after `since` succeeded."""
        got = wait_until(lambda: self.load.count(since)[0] >= n, timeout)
        self.assertTrue(got, "the load made no progress (ok, failed, retried: %r since t=%.1f)\n%s" % (
            self.load.count(since)[:3], since - self.t_begin, self.diag()))

    def rolling_stop(self, name):
        """SIGTERM the instance: HAProxy must mark it DOWN from the 503 of
        /healthz while it still runs (draining), then it exits 0."""
        inst = self.instances[name]
        t_sig = time.monotonic()
        os.kill(inst.pid, signal.SIGTERM)
        t_down, row = self.wait_status(name, lambda r: r["status"].startswith("DOWN"),
                                       DRAIN_DELAY + 10, "DOWN after SIGTERM")
        alive_at_down = inst.alive()
        rc = inst.wait(DRAIN_DELAY + 15)
        t_exit = time.monotonic()
        self.assertEqual(rc, 0, "%s did not exit 0 after SIGTERM (%r)\n%s" % (name, rc, self.diag()))
        wait_until(lambda: not group_alive(inst.pid), 10)
        self.assertFalse(group_alive(inst.pid), "%s's workers outlived its master" % name)
        # the drain worked as designed: HAProxy saw the node leave through the health
        # check (L7STS: the 503), before hearth stopped accepting
        self.assertTrue(alive_at_down, "%s exited before HAProxy marked it DOWN" % name)
        # ("* " in front: a check is running right now)
        self.assertEqual(row.get("check_status", "").lstrip("* "), "L7STS",
                         "%s went DOWN from %s, not from the 503 of /healthz\n%s" % (
                             name, row.get("check_status"), self.diag()))
        self.assertGreaterEqual(t_exit - t_sig, DRAIN_DELAY * 0.9,
                                "%s exited %.2f s after SIGTERM, before the drain delay" % (name, t_exit - t_sig))
        sys.stderr.write("\n  %s: DOWN in HAProxy %.2f s after SIGTERM (%s), exited after %.2f s" % (
            name, t_down - t_sig, row.get("last_chk"), t_exit - t_sig))
        return inst

    def restart(self, name):
        t0 = time.monotonic()
        inst = self.start_instance(name)
        t_up, _ = self.wait_status(name, lambda r: r["status"] == "UP", 15, "UP after the restart")
        # and it gets traffic again: a request of the load in its new access log
        self.wait_load_lines(inst)
        sys.stderr.write("\n  %s: restarted, UP in HAProxy %.2f s later" % (name, t_up - t0))
        return inst

    # -- the test ----------------------------------------------------------------

    def bring_up(self):
        """A, B and HAProxy started, both UP, the load running; returns when it started."""
        self.assertTrue(os.access(BIN, os.X_OK), "no hearth binary at %s" % BIN)
        self.start_instance("A")
        self.start_instance("B")
        self.start_haproxy()
        for name in ("A", "B"):
            self.wait_status(name, lambda r: r["status"] == "UP", 15, "UP at start")
        self.load = Load(("127.0.0.1", self.ports["fe"]))
        t_start = time.monotonic()
        self.load.start()
        return t_start

    def test_reload_keeps_the_node_up(self):
        """A reload (SIGHUP) is not a stop: the old generation must not answer
        /healthz with 503 (nor linger for the drain delay answering it), so
        HAProxy never takes the node out, and no request fails."""
        t_start = self.bring_up()
        self.wait_progress(t_start, 100, 20)
        a = self.instances["A"]
        for i in range(2):
            before = len(self.load_lines(a))
            t0 = time.monotonic()
            os.kill(a.pid, signal.SIGHUP)  # what `hearth -s reload` sends
            # watch A in HAProxy for longer than the drain delay and the health checks need
            states = []
            while time.monotonic() < t0 + DRAIN_DELAY + 1.5:
                row = self.stats()["A"]
                if not states or states[-1] != row["status"]:
                    states.append(row["status"])
                time.sleep(0.02)
            sys.stderr.write("\n  reload %d of A: HAProxy states %s" % (i + 1, " -> ".join(states)))
            self.assertFalse([st for st in states if not st.startswith("UP")],
                             "HAProxy took A out during a reload: %s\n%s" % (" -> ".join(states), self.diag()))
            self.assertFalse([st for st in states if st != "UP"],
                             "health checks of A failed during a reload: %s\n%s" % (" -> ".join(states),
                                                                                     self.diag()))
            # and the new generation serves
            self.assertTrue(wait_until(lambda: len(self.load_lines(a)) > before + 20, 5), self.diag())
        ok, failed, retried, bad = self.load.count(t_start)
        sys.stderr.write("\n  reloads: %d requests, %d failed, %d retried" % (ok + failed + retried, failed, retried))
        self.assertEqual(failed + retried, 0, "requests failed across reloads:\n%s\n%s" % (
            self.failures_text(bad), self.diag()))

    def test_rolling_restart_and_crash(self):
        t_start = self.bring_up()

        # a. steady state ------------------------------------------------------
        self.wait_progress(t_start, 200, 20)
        for name in ("A", "B"):
            inst = self.instances[name]
            lines = self.wait_load_lines(inst)
            addrs = sorted({l["addr"] for l in lines})
            self.assertEqual(addrs, [CLIENT_ADDR],
                             "%s's access log shows %s for the load, want the real client %s (from the PROXY "
                             "header), not HAProxy's 127.0.0.1:\n%s" % (
                                 name, addrs, CLIENT_ADDR, "\n".join(l["line"] for l in lines[:5])))
            bad = [l for l in lines if l["status"] != 200]
            self.assertFalse(bad, "non-200 in %s's access log: %s" % (name, bad[:3]))
            # HAProxy's checks come with a PROXY v2 LOCAL header: the socket's own peer
            checks = [l for l in access_lines(inst.access_log) if l["request"] and "/healthz" in l["request"]]
            self.assertTrue(checks, "%s logged no health check" % name)
            self.assertEqual({l["addr"] for l in checks}, {"127.0.0.1"}, checks[:3])
            self.assertEqual({l["status"] for l in checks}, {200}, checks[:3])
        t_a = time.monotonic()
        ok, failed, retried, bad = self.load.count(t_start, t_a)
        sys.stderr.write("\n  steady state: %d requests, %d failed, %d retried" % (ok + failed + retried, failed,
                                                                                   retried))
        self.assertEqual(failed + retried, 0, "failures in steady state:\n%s\n%s" % (
            self.failures_text(bad), self.diag()))

        # b. rolling restart ----------------------------------------------------
        t_b = time.monotonic()
        for name in ("A", "B"):
            self.rolling_stop(name)
            self.wait_progress(time.monotonic(), 20, 10)  # the other one carries the load alone
            self.restart(name)
        self.wait_progress(time.monotonic(), 50, 10)
        t_b_end = time.monotonic()
        ok, failed, retried, bad = self.load.count(t_b, t_b_end)
        sys.stderr.write("\n  rolling restart: %d requests, %d failed, %d retried (%.1f s)" % (
            ok + failed + retried, failed, retried, t_b_end - t_b))
        # not even a retry: a closed keep-alive connection would be a failure too here
        self.assertEqual(failed + retried, 0, "%d of %d requests failed during the rolling restart:\n%s\n%s" % (
            failed + retried, ok + failed + retried, self.failures_text(bad), self.diag()))
        self.assertGreater(ok, 100, "too little load during the rolling restart to mean anything")

        # c. SIGKILL of A ---------------------------------------------------------
        a = self.instances["A"]
        self.wait_load_lines(a)
        t_kill = time.monotonic()
        a.kill()
        t_down, row = self.wait_status("A", lambda r: r["status"].startswith("DOWN"), 10, "DOWN after SIGKILL")
        # keep the load on B alone for a while: from here on, nothing may fail
        self.wait_progress(t_down, 100, 15)
        time.sleep(max(0.0, t_down + 1.5 - time.monotonic()))  # a measuring window, not a readiness wait
        # stop() lets every thread finish its request: those that started before the
        # DOWN and are still retrying on A (a turn-around of 1 s per retry) end first
        self.load.stop()
        t_end = time.monotonic()
        records = self.load.snapshot()
        bad = [r for r in records if r[2] != OK]
        # a request that failed is one that was in flight on A when it died (or sent to
        # A before HAProxy could notice): it ended after the kill and started before
        # HAProxy marked A down
        in_flight = [r for r in bad if r[1] >= t_kill and r[0] < t_down]
        other = [r for r in bad if r not in in_flight]
        failed = [r for r in in_flight if r[2] == FAILED]
        retried = [r for r in in_flight if r[2] == RETRIED]
        after_down = [r for r in records if r[0] >= t_down]
        sys.stderr.write("\n  SIGKILL of A: DOWN in HAProxy %.2f s later (%s); %d request(s) failed (in flight on A), "
                         "%d more closed unanswered on a reused keep-alive connection and retried; "
                         "%d requests after DOWN (%.1f s), %d failed" % (
                             t_down - t_kill, row.get("check_status"), len(failed), len(retried),
                             len(after_down), t_end - t_down, sum(1 for r in after_down if r[2] != OK)))
        if in_flight:
            sys.stderr.write("\n" + self.failures_text(in_flight))
        self.assertFalse(other, "failures that were not in flight on A when it was killed (t_kill=%.3f, "
                                "t_down=%.3f):\n%s\n%s" % (t_kill - self.t_begin, t_down - self.t_begin,
                                                            self.failures_text(other), self.diag()))
        # each load thread has one request in flight at a time, and after a failure
        # it starts over on a new connection, whose first request HAProxy never
        # sends on an idle (possibly dead) server connection ("http-reuse safe")
        self.assertLessEqual(len(failed), THREADS,
                             "more failures than requests that can be in flight:\n%s\n%s" % (
                                 self.failures_text(in_flight), self.diag()))
        self.assertTrue(self.instances["B"].alive(), "B died\n" + self.diag())
        total_ok, total_failed, total_retried, _ = self.load.count()
        sys.stderr.write("\n  total: %d requests through HAProxy, %d failed, %d retried\n" % (
            total_ok + total_failed + total_retried, total_failed, total_retried))


if __name__ == "__main__":
    unittest.main()
