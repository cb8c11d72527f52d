"""Unix-domain socket listeners (issue 3): `--listen unix:PATH` and
`unix:@NAME` (abstract) serve exactly as TCP does (curl --unix-socket, Python
AF_UNIX), the socket file gets --unix-mode (default 0660), the access log
names the peer "unix:", a stale socket is replaced, a live one or any other
file is an error that leaves it alone, and the socket file goes at exit.
Everything runs with --workers 0 and --workers 2.
"""
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import unittest
import uuid

from harness import BIN, Hearth, bin_has_flag, TempRoot, file_text, read_response, wait_until

A_TXT = b"over a unix socket\n"
CURL = shutil.which("curl")


def unix_get(address, path="/a.txt", timeout=5.0):
    """GET over AF_UNIX (address: a path, or "\\0name" for the abstract namespace)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(address)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % path.encode())
        status, headers, body, _ = read_response(s)
        return status, headers, body
    finally:
        s.close()


class UnixSocketTests:
    WORKERS = 0

    def setUp(self):
        self.root = TempRoot()
        os.chmod(self.root.path, 0o755)
        self.root.write("a.txt", A_TXT, mode=0o644)
        self.dir = tempfile.mkdtemp(prefix="hearth-unix-")
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "hearth.sock")
        self.h = None

    def tearDown(self):
        if self.h:
            self.h.stop()
        self.root.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, listen, *args, **kw):
        self.h = Hearth(["--listen", listen, "--workers", self.WORKERS] + [str(a) for a in args]
                        + [self.root.path],
                        ready=rb"listening on " + re.escape(listen.encode()), **kw)
        if self.WORKERS:
            self.assertEqual(len(self.h.wait_workers(self.WORKERS, 5)), self.WORKERS, self.h.log_text())
        return self.h

    def start_fails(self, listen, *args):
        argv = [BIN, "--listen", listen, "--workers", str(self.WORKERS), "--access-log", "off"] \
            + [str(a) for a in args] + [self.root.path]
        if os.geteuid() == 0:
            argv += ["--user", "root"]
        if bin_has_flag("--control"):
            argv += ["--control", "off"]
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("hearth started on %s" % listen)
        return r.returncode, r.stderr.decode(errors="replace")

    @unittest.skipUnless(CURL, "curl not installed")
    def test_curl_and_python(self):
        self.start("unix:" + self.sock, "--access-log", "off")
        r = subprocess.run([CURL, "-sS", "--max-time", "5", "--unix-socket", self.sock,
                            "http://localhost/a.txt"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, A_TXT)
        status, headers, body = unix_get(self.sock)
        self.assertEqual((status, body), (200, A_TXT))
        self.assertEqual(unix_get(self.sock, "/missing")[0], 404)
        # keep-alive: two requests on one connection
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.sock)
        try:
            for _ in range(2):
                s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
                st, _, body, rest = read_response(s)
                self.assertEqual((st, body, rest), (200, A_TXT, b""))
        finally:
            s.close()

    def test_socket_mode_default_0660(self):
        self.start("unix:" + self.sock, "--access-log", "off")
        st = os.stat(self.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(oct(st.st_mode & 0o7777), oct(0o660))

    def test_socket_mode_option(self):
        self.start("unix:" + self.sock, "--access-log", "off", "--unix-mode", "0600")
        self.assertEqual(oct(os.stat(self.sock).st_mode & 0o7777), oct(0o600))
        self.assertEqual(unix_get(self.sock)[0], 200)

    @unittest.skipUnless(os.geteuid() == 0, "chown needs root")
    def test_socket_owner_follows_user(self):
        nobody = pwd.getpwnam("nobody")
        self.start("unix:" + self.sock, "--access-log", "off", "--user", "nobody")
        st = os.stat(self.sock)
        self.assertEqual((st.st_uid, st.st_gid), (nobody.pw_uid, nobody.pw_gid))
        self.assertEqual(unix_get(self.sock)[2], A_TXT)

    def test_access_log_peer(self):
        acc = os.path.join(self.dir, "access.log")
        self.start("unix:" + self.sock, "--access-log", acc)
        self.assertEqual(unix_get(self.sock, "/a.txt?unixpeer")[0], 200)
        self.assertTrue(wait_until(lambda: "?unixpeer" in file_text(acc), 3), "no access log line")
        line = [l for l in file_text(acc).splitlines() if "?unixpeer" in l][0]
        self.assertTrue(line.startswith("unix: "), line)

    @unittest.skipUnless(CURL, "curl not installed")
    def test_abstract_namespace(self):
        name = "hearth-test-%s" % uuid.uuid4().hex[:12]
        self.start("unix:@" + name, "--access-log", "off")
        self.assertEqual(unix_get("\0" + name)[2], A_TXT)
        r = subprocess.run([CURL, "-sS", "--max-time", "5", "--abstract-unix-socket", name,
                            "http://localhost/a.txt"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=10)
        self.assertEqual((r.returncode, r.stdout), (0, A_TXT), r.stderr)
        self.assertFalse(os.path.exists(name) or os.path.exists("@" + name), "a file was created")
        self.h.stop()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        with self.assertRaises(ConnectionRefusedError):
            s.connect("\0" + name)
        s.close()

    def test_stale_socket_replaced(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.sock)
        s.close()  # the file stays, nobody listens
        self.assertTrue(stat.S_ISSOCK(os.stat(self.sock).st_mode))
        self.start("unix:" + self.sock, "--access-log", "off")
        self.assertEqual(unix_get(self.sock)[2], A_TXT)

    def test_live_socket_in_use(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.sock)
        s.listen(1)
        try:
            rc, err = self.start_fails("unix:" + self.sock)
            self.assertNotEqual(rc, 0, err)
            self.assertIn("in use", err)
            # ours is still the one listening
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(2)
            c.connect(self.sock)
            conn, _ = s.accept()
            conn.close()
            c.close()
        finally:
            s.close()

    def test_regular_file_left_alone(self):
        with open(self.sock, "wb") as f:
            f.write(b"precious\n")
        rc, err = self.start_fails("unix:" + self.sock)
        self.assertNotEqual(rc, 0, err)
        self.assertTrue(err.strip())
        with open(self.sock, "rb") as f:
            self.assertEqual(f.read(), b"precious\n")

    def test_socket_removed_at_exit(self):
        self.start("unix:" + self.sock, "--access-log", "off")
        self.assertTrue(os.path.exists(self.sock))
        rc = self.h.stop(signal.SIGTERM)
        self.assertEqual(rc, 0, self.h.log_text())
        self.assertFalse(os.path.exists(self.sock), "socket file left after SIGTERM")

    def test_unix_and_tcp_together(self):
        self.h = Hearth(["--listen", "unix:" + self.sock, "--listen", "127.0.0.1:0", "--workers", self.WORKERS,
                         "--access-log", "off", self.root.path], ready=rb"listening on 127\.0\.0\.1:\d+")
        self.assertTrue(self.h.wait_log(r"listening on unix:" + re.escape(self.sock), 5), self.h.log_text())
        if self.WORKERS:
            self.assertEqual(len(self.h.wait_workers(self.WORKERS, 5)), self.WORKERS)
        self.assertEqual(unix_get(self.sock)[2], A_TXT)
        s = socket.create_connection(self.h.address(), timeout=5)
        try:
            s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            self.assertEqual(read_response(s)[2], A_TXT)
        finally:
            s.close()


class UnixSingleProcessTest(UnixSocketTests, unittest.TestCase):
    WORKERS = 0


class UnixWorkersTest(UnixSocketTests, unittest.TestCase):
    WORKERS = 2


if __name__ == "__main__":
    unittest.main()
