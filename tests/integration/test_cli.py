"""hearth's command line: --help, --version, errors on bad flags and values
(one line naming the flag, exit status 2), ROOT positional / --root / the
current directory, repeatable --listen in its three forms.
"""
import http.client
import os
import socket
import subprocess
import threading
import time
import unittest

from harness import BIN, LISTEN_RE, Server, TempRoot, compat_args, raw_request

ISSUE_FLAGS = ("--root", "--listen", "--workers", "--timeout-header", "--timeout-body",
               "--timeout-idle", "--timeout-send", "--listing", "--follow-symlinks", "--dotfiles",
               "--access-log", "--error-log", "--help", "--version")

RUN_TIMEOUT = 10.0  # a command that should exit at once; a hang means it started serving


def run(*args, cwd=None):
    try:
        return subprocess.run([BIN] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("hearth %r did not exit within %ss (it accepted the arguments?)"
                             % (args, RUN_TIMEOUT)) from e


def ipv6_loopback_available():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        s.bind(("::1", 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


def http_get(host, port, path, family=None):
    c = http.client.HTTPConnection(host, port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def listeners(server, n, timeout=5.0):
    """Wait until server's stderr has n "listening on" lines; return [(host, port)]."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for line in list(server.stderr_lines):
            m = LISTEN_RE.search(line)
            if m:
                found.append((m.group(1).decode().strip("[]"), int(m.group(2))))
        if len(found) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


class Launched:
    """hearth started with an exact argv (and cwd), ready once it reports
    "listening on" on stderr. For the cases harness.Server cannot express."""

    def __init__(self, argv, cwd=None, timeout=10.0):
        self.proc = subprocess.Popen([BIN] + compat_args(argv) + argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.lines = []
        self.port = None
        self._ready = threading.Event()
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("hearth %r did not start:\n%s" % (argv, b"".join(self.lines).decode(
                    errors="replace")))

    def _pump(self):
        for line in iter(self.proc.stderr.readline, b""):
            self.lines.append(line)
            m = LISTEN_RE.search(line)
            if m and self.port is None:
                self.port = int(m.group(2))
                self._ready.set()
        self.proc.stderr.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._t.join(5)
        return self.proc.returncode


class HelpVersionTest(unittest.TestCase):

    def test_help(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        for flag in ISSUE_FLAGS:
            self.assertIn(flag, out, "--help does not mention %s" % flag)
        self.assertIn("ROOT", out)

    def test_help_with_other_flags(self):
        r = run("--listen", "127.0.0.1:0", "--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--listen", r.stdout.decode())

    def test_version(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode().strip()
        self.assertRegex(out, r"^hearth\b.*\d+\.\d+")
        self.assertEqual(len(out.splitlines()), 1, out)


class BadArgumentsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.root = TempRoot()

    @classmethod
    def tearDownClass(cls):
        cls.root.cleanup()

    def assert_usage_error(self, args, flag):
        r = run(*args)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 2, "hearth %r: exit %s, stderr %r" % (args, r.returncode, err))
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, "want one line on stderr for %r, got %r" % (args, err))
        self.assertIn(flag, lines[0], "the error for %r does not name %s: %r" % (args, flag, err))

    def test_unknown_flag(self):
        for flag in ("--bogus", "--no-such-flag", "--listenx", "-z"):
            with self.subTest(flag=flag):
                self.assert_usage_error([flag, "--listen", "127.0.0.1:0", self.root.path], flag)

    def test_bad_timeouts(self):
        for flag in ("--timeout-header", "--timeout-body", "--timeout-idle", "--timeout-send"):
            for value in ("abc", "-1", "0", "", "1x"):
                with self.subTest(flag=flag, value=value):
                    self.assert_usage_error([flag, value, "--listen", "127.0.0.1:0", "--access-log", "off",
                                             self.root.path], flag)

    def test_bad_listen(self):
        for value in ("nonsense", "1.2.3.4:99999", "[::1", "127.0.0.1:abc", "127.0.0.1:-1",
                      "[::1]:70000", ""):
            with self.subTest(value=value):
                self.assert_usage_error(["--listen", value, "--access-log", "off", self.root.path],
                                        "--listen")

    def test_bad_listen_after_a_good_one(self):
        self.assert_usage_error(["--listen", "127.0.0.1:0", "--listen", "nonsense", "--access-log", "off",
                                 self.root.path], "--listen")

    def test_bad_workers(self):
        for value in ("abc", "-1", "", "513", "2x"):  # 0 is valid: a single process
            with self.subTest(value=value):
                self.assert_usage_error(["--workers", value, "--listen", "127.0.0.1:0", "--access-log", "off",
                                         self.root.path], "--workers")

    def test_missing_values(self):
        for flag in ("--root", "--listen", "--workers", "--timeout-header", "--timeout-body",
                     "--timeout-idle", "--timeout-send", "--access-log", "--error-log"):
            with self.subTest(flag=flag):
                self.assert_usage_error([self.root.path, "--listen", "127.0.0.1:0", flag], flag)

    def test_bad_decision_flags(self):
        # --keepalive-requests and --max-body-size (decisions.md)
        for flag, value in (("--keepalive-requests", "abc"), ("--keepalive-requests", "-3"),
                            ("--max-body-size", "abc"), ("--max-body-size", "-1"), ("--max-body-size", "5q")):
            with self.subTest(flag=flag, value=value):
                self.assert_usage_error([flag, value, "--listen", "127.0.0.1:0", "--access-log", "off",
                                         self.root.path], flag)

    def test_nonexistent_root(self):
        missing = os.path.join(self.root.path, "does", "not", "exist")
        for args in ([missing], ["--root", missing]):
            with self.subTest(args=args):
                r = run("--listen", "127.0.0.1:0", "--access-log", "off", *args)
                self.assertNotEqual(r.returncode, 0)
                self.assertTrue(r.stderr.strip(), "no error message for a missing root")
                self.assertNotIn(b"listening on", r.stderr)


class RootTest(unittest.TestCase):

    def setUp(self):
        self.root = TempRoot()
        self.root.write("marker.txt", b"the root marker\n")

    def tearDown(self):
        self.root.cleanup()

    def check_serves(self, port):
        status, body = http_get("127.0.0.1", port, "/marker.txt")
        self.assertEqual((status, body), (200, b"the root marker\n"))

    def test_positional_root(self):
        with Server(self.root.path) as s:
            self.check_serves(s.port)

    def test_root_flag(self):
        other = TempRoot()  # the current directory must not be what is served
        try:
            srv = Launched(["--listen", "127.0.0.1:0", "--access-log", "off", "--root", self.root.path],
                           cwd=other.path)
            try:
                self.check_serves(srv.port)
            finally:
                self.assertEqual(srv.stop(), 0)
        finally:
            other.cleanup()

    def test_root_defaults_to_current_directory(self):
        srv = Launched(["--listen", "127.0.0.1:0", "--access-log", "off"], cwd=self.root.path)
        try:
            self.check_serves(srv.port)
        finally:
            srv.stop()

    def test_relative_root(self):
        parent = os.path.dirname(self.root.path)
        srv = Launched(["--listen", "127.0.0.1:0", "--access-log", "off", os.path.basename(self.root.path)],
                       cwd=parent)
        try:
            self.check_serves(srv.port)
        finally:
            srv.stop()

    def test_sigterm_exits_zero(self):
        s = Server(self.root.path)
        self.check_serves(s.port)
        self.assertEqual(s.stop(), 0, s.stderr_text())

    def test_all_valid_flags_accepted(self):
        with Server(self.root.path, "--workers", "1", "--timeout-header", "2.5", "--timeout-body", "3",
                    "--timeout-idle", "0.5", "--timeout-send", "10", "--listing", "--follow-symlinks",
                    "--dotfiles", "--error-log", "-", "--keepalive-requests", "5",
                    "--max-body-size", "2m") as s:
            self.check_serves(s.port)


class ListenTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.root = TempRoot()
        cls.root.write("marker.txt", b"listen marker\n")

    @classmethod
    def tearDownClass(cls):
        cls.root.cleanup()

    def test_two_ipv4_listeners(self):
        with Server(self.root.path, "--listen", "127.0.0.1:0") as s:
            found = listeners(s, 2)
            self.assertEqual(len(found), 2, s.stderr_text())
            ports = {p for _, p in found}
            self.assertEqual(len(ports), 2, found)
            for host, port in found:
                self.assertEqual(host, "127.0.0.1")
                self.assertEqual(http_get("127.0.0.1", port, "/marker.txt"), (200, b"listen marker\n"))

    def test_ipv4_and_ipv6_listeners(self):
        if not ipv6_loopback_available():
            self.skipTest("no IPv6 loopback")
        with Server(self.root.path, "--listen", "[::1]:0") as s:
            found = listeners(s, 2)
            self.assertEqual(len(found), 2, s.stderr_text())
            by_host = dict(found)
            self.assertIn("127.0.0.1", by_host, found)
            self.assertIn("::1", by_host, found)
            self.assertEqual(http_get("127.0.0.1", by_host["127.0.0.1"], "/marker.txt"),
                             (200, b"listen marker\n"))
            self.assertEqual(http_get("::1", by_host["::1"], "/marker.txt"), (200, b"listen marker\n"))

    def test_ipv6_only(self):
        if not ipv6_loopback_available():
            self.skipTest("no IPv6 loopback")
        with Server(self.root.path, listen="[::1]:0") as s:
            self.assertEqual(s.host, "::1")
            self.assertEqual(http_get("::1", s.port, "/marker.txt"), (200, b"listen marker\n"))

    def test_port_only_form(self):
        # ":PORT" binds every interface: keep it up only for one request
        s = Server(self.root.path, listen=":0")
        try:
            self.assertIn(s.host, ("0.0.0.0", "::", "*", ""), s.stderr_text())
            self.assertEqual(http_get("127.0.0.1", s.port, "/marker.txt"), (200, b"listen marker\n"))
        finally:
            s.stop()

    def test_listen_replaces_default(self):
        # with an explicit --listen there is exactly one listener (not also 8080)
        with Server(self.root.path) as s:
            raw_request(s.address(), b"GET /marker.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            found = listeners(s, 2, timeout=0.3)
            self.assertEqual(len(found), 1, found)


if __name__ == "__main__":
    unittest.main()
