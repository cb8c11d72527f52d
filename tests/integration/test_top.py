"""The control socket's client commands (issue 4): `hearth top` in a
pseudo-terminal (shows the real workers, fits 80x24, redraws on resize, quits
on q and gives the terminal back), `hearth status` and `--json` (rows match
the master's children and /proc), `hearth ctl reload`, and the error a client
gives when no hearth listens."""
import fcntl
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import threading
import time
import unittest

from harness import BIN, Server, TempRoot, children_of, proc_stat, wait_until

SHOW_CURSOR = b"\x1b[?25h"
HIDE_CURSOR = b"\x1b[?25l"
ESCAPE_RE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
REVERSE_RE = re.compile(rb"\x1b\[7m([^\x1b]*)\x1b\[m")


def start_server(root, ctl):
    """hearth with two workers and its control socket at ctl; returns it
    once the socket exists and both workers run."""
    srv = Server(root.path, "--workers", "2", "--control", ctl)
    ok = wait_until(lambda: os.path.exists(ctl) and len(children_of(srv.proc.pid)) == 2, 5)
    if not ok:
        srv.stop()
        raise RuntimeError("no control socket or workers:\n" + srv.stderr_text())
    return srv


def client(*args, timeout=10):
    """Run `hearth ARGS...`; returns the CompletedProcess (text)."""
    return subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def set_winsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class PtyProcess:
    """A command whose stdin, stdout and stderr are a pseudo-terminal; a
    thread collects everything it writes."""

    def __init__(self, argv, rows=24, cols=80):
        self.master, slave = os.openpty()
        set_winsize(slave, rows, cols)
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self._lock = threading.Lock()
        self._out = b""
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self):
        while True:
            try:
                b = os.read(self.master, 65536)
            except OSError:  # EIO once the last slave descriptor is closed
                break
            if not b:
                break
            with self._lock:
                self._out += b

    def output(self):
        with self._lock:
            return self._out

    def wait_output(self, predicate, timeout):
        """Wait until predicate(output) is truthy; returns the last output."""
        wait_until(lambda: predicate(self.output()), timeout)
        return self.output()

    def lflag(self):
        """The terminal's local modes (on Linux the master reaches the
        slave's settings, even after the program exited)."""
        return termios.tcgetattr(self.master)[3]

    def send(self, data):
        os.write(self.master, data)

    def resize(self, rows, cols):
        set_winsize(self.master, rows, cols)
        # the pty is not its controlling terminal (own session): signal it too
        os.kill(self.proc.pid, signal.SIGWINCH)

    def finish(self, timeout):
        """Wait for exit; returns the status (None on timeout) once all
        output is read."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._t.join(5)
        return rc

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._t.join(5)
        try:
            os.close(self.master)
        except OSError:
            pass


def complete_frames(out):
    """The screens drawn so far, each as its lines (escapes removed): the text
    between one cursor-home and the next (the last one may still be arriving,
    so it is left out)."""
    parts = out.split(b"\x1b[H")[1:-1]
    return [[ESCAPE_RE.sub(b"", line).replace(b"\r", b"").decode(errors="replace")
             for line in part.split(b"\n")] for part in parts]


class ControlServerCase(unittest.TestCase):
    """One hearth (two workers, a control socket in a temp dir) per class."""

    @classmethod
    def setUpClass(cls):
        cls.root = TempRoot()
        cls.root.write("index.html", b"hello\n")
        cls.tmp = tempfile.mkdtemp(prefix="hearth-ctl-")
        cls.ctl = os.path.join(cls.tmp, "h.ctl")
        cls.server = start_server(cls.root, cls.ctl)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.root.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.assertTrue(self.server.alive(), "hearth died:\n" + self.server.stderr_text())

    def workers(self):
        return children_of(self.server.proc.pid)


class TopTerminalTest(ControlServerCase):
    """`hearth top` in a pseudo-terminal."""

    def run_top(self, rows=24, cols=80):
        top = PtyProcess([BIN, "top", "--control", self.ctl], rows=rows, cols=cols)
        self.addCleanup(top.close)
        return top

    def wait_pids(self, top, pids, timeout=5):
        words = [re.compile(rb"\b%d\b" % p) for p in pids]
        out = top.wait_output(lambda o: all(w.search(o) for w in words), timeout)
        for p, w in zip(pids, words):
            self.assertRegex(out, w, "worker %d not shown by top:\n%r" % (p, out[-3000:]))
        return out

    def test_shows_workers_fits_80x24_and_quits_on_q(self):
        pids = self.workers()
        self.assertEqual(len(pids), 2, pids)
        top = self.run_top()
        out = self.wait_pids(top, pids)
        self.assertIn(HIDE_CURSOR, out)
        self.assertFalse(top.lflag() & (termios.ECHO | termios.ICANON), "terminal not in raw mode")
        # a refresh later (a second STATUS), the rates have values to show
        out = top.wait_output(lambda o: o.count(b"\x1b[H") >= 4, 5)
        lines = complete_frames(out)[-1]
        self.assertLessEqual(len(lines), 24, lines)
        for line in lines:
            self.assertLessEqual(len(line), 80, "line wider than the terminal: %r" % line)
        text = "\n".join(lines)
        for col in ("PID", "STATE", "NI", "%CPU", "RSS", "CONNS", "REQ/S", "MB/S"):
            self.assertIn(col, text)
        self.assertIn("pid %d" % self.server.proc.pid, text)
        self.assertRegex(text, r"total, [0-9.]+/s", "no request rate from the second snapshot")
        top.send(b"q")
        rc = top.finish(2)
        self.assertEqual(rc, 0, "top did not exit 0 within 2 s after q:\n%r" % top.output()[-2000:])
        self.assertTrue(top.output().endswith(SHOW_CURSOR),
                        "output does not end by showing the cursor: %r" % top.output()[-200:])
        self.assertEqual(top.lflag() & (termios.ECHO | termios.ICANON), termios.ECHO | termios.ICANON,
                         "terminal settings not restored")

    def test_sigterm_restores_the_terminal(self):
        top = self.run_top()
        self.wait_pids(top, self.workers())
        os.kill(top.proc.pid, signal.SIGTERM)
        self.assertEqual(top.finish(2), -signal.SIGTERM)  # dies of it, after cleaning up
        self.assertTrue(top.output().endswith(SHOW_CURSOR), top.output()[-200:])
        self.assertEqual(top.lflag() & (termios.ECHO | termios.ICANON), termios.ECHO | termios.ICANON)

    def test_redraws_on_resize(self):
        pids = self.workers()
        top = self.run_top()
        self.wait_pids(top, pids)
        # the column header is drawn in reverse video across the whole width
        out = top.wait_output(lambda o: REVERSE_RE.search(o), 3)
        widths = [len(m) for m in REVERSE_RE.findall(out)]
        self.assertTrue(widths and set(widths) == {80}, widths)
        mark = len(out)
        t0 = time.monotonic()
        top.resize(30, 100)
        out = top.wait_output(lambda o: any(len(m) == 100 for m in REVERSE_RE.findall(o[mark:])), 3)
        new = out[mark:]
        self.assertTrue(any(len(m) == 100 for m in REVERSE_RE.findall(new)),
                        "no redraw at 100 columns after the resize:\n%r" % new[-2000:])
        self.assertLess(time.monotonic() - t0, 3)
        # the redraw after the resize still shows the workers, within 30 rows
        out = top.wait_output(lambda o: o[mark:].count(b"\x1b[H") >= 2, 3)
        lines = complete_frames(out[mark:])[-1]
        self.assertLessEqual(len(lines), 30, lines)
        for p in pids:
            self.assertTrue(any(re.search(r"\b%d\b" % p, l) for l in lines), lines)
        top.send(b"q")
        self.assertEqual(top.finish(2), 0)
        self.assertTrue(top.output().endswith(SHOW_CURSOR), top.output()[-200:])

    def test_not_a_terminal_prints_one_snapshot(self):
        r = client("top", "--control", self.ctl)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("\x1b", r.stdout)
        for p in self.workers():
            self.assertRegex(r.stdout, r"(?m)^\s*%d\s" % p)


class StatusCommandTest(ControlServerCase):
    """`hearth status` and `hearth status --json`."""

    def test_json(self):
        r = client("status", "--json", "--control", self.ctl)
        self.assertEqual(r.returncode, 0, r.stderr)
        d = json.loads(r.stdout)
        for key in ("version", "pid", "uptime_ms", "config_file", "generation", "listeners", "totals",
                    "workers"):
            self.assertIn(key, d)
        self.assertEqual(d["pid"], self.server.proc.pid)
        self.assertIn("%s:%d" % self.server.address(), " ".join(d["listeners"]))
        self.assertEqual(set(d["totals"]["status"]), {"1xx", "2xx", "3xx", "4xx", "5xx"})
        pids = self.workers()
        self.assertEqual(sorted(w["pid"] for w in d["workers"]), pids)
        self.assertEqual(sorted(w["slot"] for w in d["workers"]), [0, 1])
        for w in d["workers"]:
            st = proc_stat(w["pid"])
            self.assertIsNotNone(st)
            self.assertEqual(w["nice"], int(st[19]), w)
            for key in ("generation", "state", "cpu_ms", "rss_bytes", "active", "requests", "bytes_out"):
                self.assertIn(key, w)
            self.assertGreater(w["rss_bytes"], 0)

    def test_text(self):
        r = client("status", "--control", self.ctl)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("pid %d" % self.server.proc.pid, r.stdout.splitlines()[0])
        for col in ("SLOT", "PID", "GEN", "STATE", "NI", "CPU", "RSS", "CONNS", "REQUESTS", "OUT"):
            self.assertIn(col, r.stdout)
        for p in self.workers():
            self.assertRegex(r.stdout, r"(?m)^\s*\d+\s+%d\s" % p)


class CtlCommandTest(unittest.TestCase):
    """`hearth ctl reload` and the clients' error without a server."""

    def setUp(self):
        self.root = TempRoot()
        self.root.write("index.html", b"hello\n")
        self.tmp = tempfile.mkdtemp(prefix="hearth-ctl-")
        self.ctl = os.path.join(self.tmp, "h.ctl")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.addCleanup(self.root.cleanup)

    def test_reload(self):
        srv = start_server(self.root, self.ctl)
        self.addCleanup(srv.stop)
        before = children_of(srv.proc.pid)
        r = client("ctl", "reload", "--control", self.ctl)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertTrue(wait_until(lambda: "reload: generation 2 started" in srv.stderr_text(), 5),
                        srv.stderr_text())
        new = wait_until(lambda: (lambda w: w if len(w) == 2 and not set(w) & set(before) else None)(
            children_of(srv.proc.pid)), 5)
        self.assertTrue(new, "workers not replaced after ctl reload:\n" + srv.stderr_text())
        d = json.loads(client("status", "--json", "--control", self.ctl).stdout)
        self.assertEqual(d["generation"], 2)

    def test_no_server(self):
        for args in (["status"], ["status", "--json"], ["top"], ["ctl", "reload"]):
            r = client(*args, "--control", self.ctl)
            self.assertEqual(r.returncode, 1, (args, r.stdout, r.stderr))
            self.assertEqual(r.stderr, "hearth: no hearth is listening on %s\n" % self.ctl, args)
            self.assertEqual(r.stdout, "")

    def test_top_in_terminal_without_server(self):
        top = PtyProcess([BIN, "top", "--control", self.ctl])
        self.addCleanup(top.close)
        self.assertEqual(top.finish(5), 1)
        out = top.output()
        self.assertIn(b"no hearth is listening on", out)
        self.assertNotIn(HIDE_CURSOR, out)  # it failed before taking the screen


if __name__ == "__main__":
    unittest.main()
