"""Configuration file and privileges (issue 3): `hearth -t -c FILE` accepts a
good file and names FILE:LINE: DIRECTIVE: for bad ones, command-line flags
override the file, named sites are chosen by the Host header (port ignored,
case-insensitive, wildcards, a default site), and workers started as root drop
to --user (nobody by default; --user root keeps root).
"""
import grp
import os
import pwd
import re
import socket
import subprocess
import tempfile
import unittest

from harness import BIN, Hearth, TempRoot, free_port, proc_status, read_response, wait_until


def user_args():
    return ["--user", "root"] if os.geteuid() == 0 else []


def request(addr, head, timeout=5.0):
    """Send a raw request head (CRLF added at the end), read one response."""
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.sendall(head.encode() + b"\r\n")
        status, headers, body, _ = read_response(s)
        return status, body
    finally:
        s.close()


def get_host(addr, host, path="/f.txt"):
    return request(addr, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (path, host))


def refused(addr):
    try:
        socket.create_connection(addr, timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


class ConfTestCase(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="hearth-conf-")
        self.roots = {}
        self.h = None

    def tearDown(self):
        if self.h:
            self.h.stop()
        for r in self.roots.values():
            r.cleanup()
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))
        os.rmdir(self.dir)

    def root(self, tag):
        """A document root whose /f.txt says tag, readable by anyone."""
        r = TempRoot()
        os.chmod(r.path, 0o755)
        r.write("f.txt", "root %s\n" % tag, mode=0o644)
        r.mkdir("dir")
        os.chmod(os.path.join(r.path, "dir"), 0o755)
        r.write("dir/inner.txt", "inner %s\n" % tag, mode=0o644)
        self.roots[tag] = r
        return r.path

    def write_conf(self, text, name="hearth.conf"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path


class ConfigTestFlagTest(ConfTestCase):

    def check(self, text):
        path = self.write_conf(text)
        try:
            r = subprocess.run([BIN, "-t", "-c", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("hearth -t did not exit")
        return path, r.returncode, r.stderr.decode(errors="replace")

    def test_good_file(self):
        a, d, top = self.root("A"), self.root("D"), self.root("T")
        path, rc, err = self.check(
            "# everything a flag can say, and sites\n"
            "listen 127.0.0.1:%d;\n"
            "listen 127.0.0.1:%d;   # a second listener\n"
            "root %s;\n"
            "workers 2;\n"
            "timeout-header 2;\n"
            "timeout-idle 30;\n"
            "keepalive-requests 100;\n"
            "max-body-size 1m;\n"
            "listing on;\n"
            "access-log off;\n"
            "log-level info;\n"
            "\n"
            "site a.test www.a.test {\n"
            "    root %s;\n"
            "    listing off;\n"
            "}\n"
            "site default {\n"
            "    root %s;\n"
            "}\n" % (free_port(), free_port(), top, a, d))
        self.assertEqual(rc, 0, err)
        self.assertIn("configuration %s is ok" % path, err)

    def check_error(self, text, line_re, directive):
        path, rc, err = self.check(text)
        self.assertEqual(rc, 1, "accepted:\n%s\n%s" % (text, err))
        rx = r"hearth: %s:(%s): %s: \S" % (re.escape(path), line_re, re.escape(directive))
        self.assertRegex(err, rx, "for:\n%s" % text)

    def test_unknown_directive(self):
        r = self.root("R")
        self.check_error("listen 127.0.0.1:0;\nroot %s;\nfrobnicate yes;\n" % r, "3", "frobnicate")

    def test_bad_value(self):
        r = self.root("R")
        self.check_error("listen 127.0.0.1:0;\ntimeout-header abc;\nroot %s;\n" % r, "2", "timeout-header")

    def test_bad_value_in_site(self):
        r = self.root("R")
        self.check_error("root %s;\nsite a.test {\n    listing maybe;\n}\n" % r, "3", "listing")

    def test_missing_semicolon(self):
        r = self.root("R")
        # the error may be reported where the directive is or at the end of the file
        self.check_error("listen 127.0.0.1:0;\nroot %s\n" % r, "2|3", "root")

    def test_unterminated_site(self):
        r = self.root("R")
        self.check_error("root %s;\nsite a.test {\n    root %s;\n" % (r, r), r"\d+", "site")

    def test_missing_file(self):
        path = os.path.join(self.dir, "nope.conf")
        r = subprocess.run([BIN, "-t", "-c", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn(path, r.stderr.decode(errors="replace"))


class FlagsOverrideTest(ConfTestCase):

    def test_root_flag_wins(self):
        a, b = self.root("A"), self.root("B")
        port = free_port()
        conf = self.write_conf("listen 127.0.0.1:%d;\nroot %s;\naccess-log off;\n" % (port, a))
        for args in (["--root", b], [b]):
            with self.subTest(args=args):
                self.h = Hearth(["-c", conf, "--workers", 0] + args + user_args(),
                                ready=rb"listening on 127\.0\.0\.1:%d" % port)
                self.assertEqual(get_host(self.h.address(), "t"), (200, b"root B\n"))
                self.h.stop()
                self.h = None

    def test_listen_flag_replaces_file_listens(self):
        a = self.root("A")
        p1, p2 = free_port(), free_port()
        conf = self.write_conf("listen 127.0.0.1:%d;\nroot %s;\naccess-log off;\n" % (p1, a))
        self.h = Hearth(["-c", conf, "--workers", 0, "--listen", "127.0.0.1:%d" % p2] + user_args(),
                        ready=rb"listening on 127\.0\.0\.1:%d" % p2)
        self.assertEqual(get_host(("127.0.0.1", p2), "t"), (200, b"root A\n"))
        self.assertTrue(refused(("127.0.0.1", p1)), "the file's listen is still bound")
        self.assertNotIn("127.0.0.1:%d" % p1, self.h.log_text())

    def test_several_listens_in_file(self):
        a = self.root("A")
        p1, p2 = free_port(), free_port()
        conf = self.write_conf("listen 127.0.0.1:%d;\nlisten 127.0.0.1:%d;\nroot %s;\naccess-log off;\n"
                               % (p1, p2, a))
        self.h = Hearth(["-c", conf, "--workers", 2] + user_args(),
                        ready=rb"listening on 127\.0\.0\.1:%d" % p2)
        self.assertTrue(self.h.wait_log("listening on 127.0.0.1:%d" % p1, 2), self.h.log_text())
        for p in (p1, p2):
            self.assertEqual(get_host(("127.0.0.1", p), "t"), (200, b"root A\n"))


class VirtualHostTest(ConfTestCase):

    def start(self, text, workers=2):
        port = free_port()
        conf = self.write_conf(("listen 127.0.0.1:%d;\naccess-log off;\n" % port) + text)
        self.h = Hearth(["-c", conf, "--workers", workers] + user_args(),
                        ready=rb"listening on 127\.0\.0\.1:%d" % port)
        if workers:
            self.h.wait_workers(workers, 5)
        return self.h.address()

    def test_sites(self):
        a, b, d, t = self.root("A"), self.root("B"), self.root("D"), self.root("T")
        addr = self.start("root %s;\n"
                          "site a.test { root %s; }\n"
                          "site b.test *.c.test {\n  root %s;\n  listing on;\n}\n"
                          "site default { root %s; }\n" % (t, a, b, d))
        cases = [
            ("GET /f.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n", "A"),
            ("GET /f.txt HTTP/1.1\r\nHost: A.Test\r\nConnection: close\r\n", "A"),
            ("GET /f.txt HTTP/1.1\r\nHost: B.TEST:8080\r\nConnection: close\r\n", "B"),
            ("GET /f.txt HTTP/1.1\r\nHost: x.c.test\r\nConnection: close\r\n", "B"),
            ("GET /f.txt HTTP/1.1\r\nHost: c.test\r\nConnection: close\r\n", "D"),
            ("GET /f.txt HTTP/1.1\r\nHost: unknown.test\r\nConnection: close\r\n", "D"),
            ("GET /f.txt HTTP/1.1\r\nHost: 127.0.0.1:1234\r\nConnection: close\r\n", "D"),
            ("GET /f.txt HTTP/1.0\r\n", "D"),
            ("GET http://a.test/f.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n", "A"),
            # absolute-form: the target's authority wins over Host (RFC 9112 section 3.2.2)
            ("GET http://a.test/f.txt HTTP/1.1\r\nHost: zzz.test\r\nConnection: close\r\n", "A"),
        ]
        for head, tag in cases:
            with self.subTest(request=head.split("\r\n")[:2]):
                self.assertEqual(request(addr, head), (200, ("root %s\n" % tag).encode()))

        # listing only where the site asks for it
        st, body = get_host(addr, "b.test", "/dir/")
        self.assertEqual(st, 200)
        self.assertIn(b"inner.txt", body)
        st, body = get_host(addr, "y.c.test", "/dir/")
        self.assertEqual(st, 200)
        for host in ("a.test", "unknown.test"):
            with self.subTest(listing=host):
                self.assertNotEqual(get_host(addr, host, "/dir/")[0], 200)
        self.assertEqual(get_host(addr, "a.test", "/dir/inner.txt"), (200, b"inner A\n"))

        # keep-alive: each request of a connection picks its own site
        s = socket.create_connection(addr, timeout=5)
        try:
            for host, tag in (("a.test", "A"), ("b.test", "B"), ("nope.test", "D"), ("a.test", "A")):
                s.sendall(b"GET /f.txt HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
                st, _, body, rest = read_response(s)
                self.assertEqual((st, body), (200, ("root %s\n" % tag).encode()))
        finally:
            s.close()

    def test_no_default_site_uses_top_level_root(self):
        a, t = self.root("A"), self.root("T")
        addr = self.start("root %s;\nsite a.test { root %s; }\n" % (t, a), workers=0)
        self.assertEqual(get_host(addr, "a.test"), (200, b"root A\n"))
        self.assertEqual(get_host(addr, "other.test"), (200, b"root T\n"))
        self.assertEqual(request(addr, "GET /f.txt HTTP/1.0\r\n"), (200, b"root T\n"))


def ids(pid):
    st = proc_status(pid)
    return ([int(x) for x in st["Uid"].split()], [int(x) for x in st["Gid"].split()],
            [int(x) for x in st["Groups"].split()])


class PrivilegeTest(ConfTestCase):

    def start(self, args, add_user):
        a = self.root("A")
        self.h = Hearth(["--listen", "127.0.0.1:0", "--workers", 2, "--access-log", "off"] + args + [a],
                        add_user=add_user)
        ws = self.h.wait_workers(2, 5)
        self.assertEqual(len(ws), 2, self.h.log_text())
        return ws

    def check_workers_as(self, ws, uid, gid):
        for w in ws:
            ok = wait_until(lambda: ids(w)[0] == [uid] * 4 and ids(w)[1] == [gid] * 4, 2)
            u, g, groups = ids(w)
            self.assertTrue(ok, "worker %d: Uid %r Gid %r, want %d/%d" % (w, u, g, uid, gid))
            self.assertTrue(set(groups) <= {gid}, "worker %d kept supplementary groups %r" % (w, groups))
        for _ in range(4):
            self.assertEqual(get_host(self.h.address(), "t"), (200, b"root A\n"))

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_user_nobody(self):
        nobody = pwd.getpwnam("nobody")
        ws = self.start(["--user", "nobody"], add_user=False)
        self.check_workers_as(ws, nobody.pw_uid, nobody.pw_gid)
        self.assertEqual(ids(self.h.pid)[0], [0, 0, 0, 0], "the master stays root")

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_root_without_user_runs_workers_as_nobody(self):
        nobody = pwd.getpwnam("nobody")
        ws = self.start([], add_user=False)
        self.check_workers_as(ws, nobody.pw_uid, nobody.pw_gid)
        self.assertIn("nobody", self.h.log_text())

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_user_root_keeps_root(self):
        ws = self.start(["--user", "root"], add_user=False)
        self.check_workers_as(ws, 0, 0)

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_user_and_group(self):
        nobody = pwd.getpwnam("nobody")
        others = [g for g in ("nogroup", "daemon", "users") if _gid(g) not in (None, nobody.pw_gid, 0)]
        if not others:
            self.skipTest("no suitable group")
        gid = _gid(others[0])
        ws = self.start(["--user", "nobody:%s" % others[0]], add_user=False)
        self.check_workers_as(ws, nobody.pw_uid, gid)

    @unittest.skipIf(os.geteuid() == 0, "as root, any user is allowed")
    def test_other_user_refused_when_not_root(self):
        a = self.root("A")
        try:
            r = subprocess.run([BIN, "--listen", "127.0.0.1:0", "--workers", "2", "--user", "root", a],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("started with --user root while not root")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("root", r.stderr.decode(errors="replace"))


def _gid(name):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


if __name__ == "__main__":
    unittest.main()
