"""Access log (combined format; to a file, to stdout, or off; flushed at least
every second and at exit) and error log (levels, the "listening on" line,
why a request failed).
"""
import datetime
import os
import re
import signal
import subprocess
import time
import unittest

from harness import BIN, LISTEN_RE, Server, TempRoot, compat_args, raw_request

# ADDR - - [27/Nov/2026:08:00:00 +0000] "GET /x HTTP/1.1" 200 123 "referer" "user-agent"
QUOTED = r'"((?:[^"\\]|\\.)*)"'
COMBINED_RE = re.compile(r'^(\S+) - - \[([^\]]+)\] ' + QUOTED + r' (\d{3}) (\d+|-) ' + QUOTED + ' ' + QUOTED + r'$')
ERROR_LINE_RE = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z \[(debug|info|notice|warn|error)\] (.*)$')

A_TXT = b"access log test file\n"
FLUSH_DEADLINE = 2.0  # flushed at least every second: allow some slack


def wait_for(predicate, timeout):
    """Poll predicate until it returns something truthy or timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.02)


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def parse_combined(text):
    out = []
    for line in text.splitlines():
        m = COMBINED_RE.match(line)
        if not m:
            raise AssertionError("not a combined-format line: %r" % line)
        out.append(dict(addr=m.group(1), time=m.group(2), request=m.group(3), status=int(m.group(4)),
                        bytes=m.group(5), referer=m.group(6), ua=m.group(7), line=line))
    return out


def body_len(resp):
    head, body = resp.split(b"\r\n\r\n", 1)
    return len(body)


class AccessLogFileTest(unittest.TestCase):

    def setUp(self):
        self.root = TempRoot()
        self.root.write("a.txt", A_TXT)
        self.logdir = TempRoot()
        self.log = os.path.join(self.logdir.path, "access.log")

    def tearDown(self):
        self.root.cleanup()
        self.logdir.cleanup()

    def test_combined_lines_after_sigterm(self):
        s = Server(self.root.path, access_log=self.log)
        try:
            addr = s.address()
            r1 = raw_request(addr, b"GET /a.txt HTTP/1.1\r\nHost: t\r\nReferer: http://ref.example/page?x=1\r\n"
                                   b"User-Agent: test-agent/1.0 (unit)\r\nConnection: close\r\n\r\n")
            self.assertTrue(r1.startswith(b"HTTP/1.1 200"))
            r2 = raw_request(addr, b"GET /missing.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            self.assertTrue(r2.startswith(b"HTTP/1.1 404"))
            r3 = raw_request(addr, b"HEAD /a.txt HTTP/1.1\r\nHost: t\r\nUser-Agent: head-agent\r\n"
                                   b"Connection: close\r\n\r\n")
            self.assertTrue(r3.startswith(b"HTTP/1.1 200"))
        finally:
            rc = s.stop(signal.SIGTERM)
        self.assertEqual(rc, 0, s.stderr_text())
        lines = parse_combined(read_text(self.log))
        self.assertEqual(len(lines), 3, lines)
        now = datetime.datetime.now(datetime.timezone.utc)
        for l in lines:
            self.assertEqual(l["addr"], "127.0.0.1")
            t = datetime.datetime.strptime(l["time"], "%d/%b/%Y:%H:%M:%S %z")
            self.assertLess(abs((now - t).total_seconds()), 60, l["time"])

        get, miss, head = lines
        self.assertEqual(get["request"], "GET /a.txt HTTP/1.1")
        self.assertEqual(get["status"], 200)
        self.assertEqual(get["bytes"], str(len(A_TXT)))
        self.assertEqual(get["referer"], "http://ref.example/page?x=1")
        self.assertEqual(get["ua"], "test-agent/1.0 (unit)")

        self.assertEqual(miss["request"], "GET /missing.txt HTTP/1.1")
        self.assertEqual(miss["status"], 404)
        self.assertEqual(miss["bytes"], str(body_len(r2)))
        self.assertEqual(miss["referer"], "-")
        self.assertEqual(miss["ua"], "-")

        self.assertEqual(head["request"], "HEAD /a.txt HTTP/1.1")
        self.assertEqual(head["status"], 200)
        self.assertIn(head["bytes"], ("0", "-"))
        self.assertEqual(head["ua"], "head-agent")

    def test_flushed_while_running(self):
        with Server(self.root.path, access_log=self.log) as s:
            for i in range(2):
                path = "/a.txt?round=%d" % i
                r = raw_request(s.address(), b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                                % path.encode())
                self.assertTrue(r.startswith(b"HTTP/1.1 200"))
                want = '"GET %s HTTP/1.1" 200 ' % path
                found = wait_for(lambda: want in read_text(self.log), FLUSH_DEADLINE)
                self.assertTrue(found, "access log line for %s not flushed within %ss: %r"
                                % (path, FLUSH_DEADLINE, read_text(self.log)))
                self.assertTrue(s.alive())

    def test_flushed_at_exit(self):
        s = Server(self.root.path, access_log=self.log)
        try:
            for i in range(5):
                r = raw_request(s.address(), b"GET /a.txt?n=%d HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                                % i)
                self.assertTrue(r.startswith(b"HTTP/1.1 200"))
        finally:
            rc = s.stop(signal.SIGTERM)  # right away: the exit flush must write them
        self.assertEqual(rc, 0)
        lines = parse_combined(read_text(self.log))
        self.assertEqual([l["request"] for l in lines], ["GET /a.txt?n=%d HTTP/1.1" % i for i in range(5)])

    def test_keep_alive_requests_each_logged(self):
        s = Server(self.root.path, access_log=self.log)
        try:
            r = raw_request(s.address(), b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n"
                                         b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
                                         b"GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            self.assertEqual(r.count(b"HTTP/1.1 "), 3)
        finally:
            s.stop()
        self.assertEqual([l["status"] for l in parse_combined(read_text(self.log))], [200, 404, 200])

    def test_bad_request_logged(self):
        s = Server(self.root.path, access_log=self.log)
        try:
            r = raw_request(s.address(), b"GET /a.txt HTTP/1.1\r\nConnection: close\r\n\r\n")  # no Host
            self.assertTrue(r.startswith(b"HTTP/1.1 400"))
        finally:
            s.stop()
        lines = parse_combined(read_text(self.log))
        self.assertEqual([l["status"] for l in lines], [400])

    def test_request_line_escaped(self):
        s = Server(self.root.path, access_log=self.log)
        try:
            r = raw_request(s.address(), b'GET /q"x\\y HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
            self.assertTrue(r.startswith(b"HTTP/1.1 "))
        finally:
            s.stop()
        text = read_text(self.log)
        lines = parse_combined(text)
        self.assertEqual(len(lines), 1, text)
        req = lines[0]["request"]
        self.assertIn("\\x22", req, req)
        self.assertIn("\\x5c", req.lower(), req)

    def test_bytes_from_0x80_escaped(self):
        # 0x9b is CSI on a terminal that is not in UTF-8: nothing from 0x7f
        # up reaches the log raw (UTF-8 is escaped too, as nginx does)
        s = Server(self.root.path, access_log=self.log)
        try:
            r = raw_request(s.address(), b"GET /a.txt HTTP/1.1\r\nHost: t\r\nUser-Agent: a\x9b31mb\xc3\xa9\r\n"
                                         b"Connection: close\r\n\r\n")
            self.assertTrue(r.startswith(b"HTTP/1.1 200"), r[:100])
        finally:
            s.stop()
        with open(self.log, "rb") as f:
            raw = f.read()
        self.assertFalse(any(b >= 0x7f for b in raw), raw)
        self.assertIn(b"a\\x9b31mb\\xc3\\xa9", raw)

    def test_user_agent_with_quote_keeps_line_parseable(self):
        s = Server(self.root.path, access_log=self.log)
        try:
            r = raw_request(s.address(), b'GET /a.txt HTTP/1.1\r\nHost: t\r\nUser-Agent: evil" 200 1 "x\r\n'
                                         b'Referer: a\\b\r\nConnection: close\r\n\r\n')
            self.assertTrue(r.startswith(b"HTTP/1.1 200"))
        finally:
            s.stop()
        lines = parse_combined(read_text(self.log))  # raises if a raw quote broke the format
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines[0]["status"], 200)
        self.assertEqual(lines[0]["request"], "GET /a.txt HTTP/1.1")
        self.assertTrue(lines[0]["ua"].startswith("evil"), lines[0]["ua"])


class AccessLogStdoutTest(unittest.TestCase):

    def setUp(self):
        self.root = TempRoot()
        self.root.write("a.txt", A_TXT)

    def tearDown(self):
        self.root.cleanup()

    def test_dash_is_stdout(self):
        with Server(self.root.path, access_log="-") as s:
            r = raw_request(s.address(), b"GET /a.txt HTTP/1.1\r\nHost: t\r\nUser-Agent: stdout-ua\r\n"
                                         b"Connection: close\r\n\r\n")
            self.assertTrue(r.startswith(b"HTTP/1.1 200"))
            found = wait_for(lambda: '"GET /a.txt HTTP/1.1" 200' in s.stdout_text(), FLUSH_DEADLINE)
            self.assertTrue(found, "no access log line on stdout: %r" % s.stdout_text())
        lines = parse_combined(s.stdout_text())
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines[0]["ua"], "stdout-ua")
        self.assertNotIn("GET /a.txt", s.stderr_text())

    def test_off_writes_nothing(self):
        cwd_off = os.path.join(os.getcwd(), "off")
        existed = os.path.exists(cwd_off)
        s = Server(self.root.path, access_log="off")
        try:
            for path in (b"/a.txt", b"/missing"):
                raw_request(s.address(), b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path)
        finally:
            self.assertEqual(s.stop(), 0)
        self.assertEqual(s.stdout_text(), "")
        self.assertNotIn("GET /a.txt", s.stderr_text())
        if not existed:
            self.assertFalse(os.path.exists(cwd_off), "--access-log off created a file named 'off'")


class ErrorLogTest(unittest.TestCase):

    def setUp(self):
        self.root = TempRoot()
        self.addCleanup(self.root.cleanup)
        self.root.write("a.txt", A_TXT)
        self.logdir = TempRoot()
        self.addCleanup(self.logdir.cleanup)
        self.errlog = os.path.join(self.logdir.path, "error.log")
        self.stderr_path = os.path.join(self.logdir.path, "stderr")
        stderr_file = open(self.stderr_path, "wb")
        self.addCleanup(stderr_file.close)
        self.proc = subprocess.Popen([BIN] + compat_args([]) + ["--listen", "127.0.0.1:0", "--access-log", "off",
                                      "--error-log", self.errlog, self.root.path],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=stderr_file)
        self.addCleanup(self.stop)
        # readiness: the "listening on" line appears in the log file
        m = wait_for(lambda: self.proc.poll() is not None or LISTEN_RE.search(read_text(self.errlog).encode()),
                     10.0)
        if not m or m is True:
            self.fail("no 'listening on' in %s (exit %r):\nlog: %r\nstderr: %r" % (
                self.errlog, self.proc.poll(), read_text(self.errlog), read_text(self.stderr_path)))
        self.port = int(m.group(2))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log_lines(self):
        return [l for l in read_text(self.errlog).splitlines() if l.strip()]

    def test_listening_line_format(self):
        lines = self.log_lines()
        listen = [l for l in lines if "listening on" in l]
        self.assertEqual(len(listen), 1, lines)
        m = ERROR_LINE_RE.match(listen[0])
        self.assertTrue(m, "error log line format: %r" % listen[0])
        self.assertIn(m.group(1), ("info", "notice"), listen[0])
        self.assertIn("127.0.0.1:%d" % self.port, listen[0])
        for l in lines:
            self.assertRegex(l, ERROR_LINE_RE)
        # the log went to the file, not to stderr
        self.assertNotIn("listening on", read_text(self.stderr_path))
        # and the server it announced answers
        r = raw_request(("127.0.0.1", self.port), b"GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        self.assertTrue(r.startswith(b"HTTP/1.1 200"))
        self.assertEqual(self.stop(), 0)

    def bad_request_lines(self, request):
        before = len(self.log_lines())
        r = raw_request(("127.0.0.1", self.port), request)
        self.assertTrue(r.startswith(b"HTTP/1.1 400"), r[:100])
        lines = wait_for(lambda: self.log_lines()[before:], FLUSH_DEADLINE)
        self.assertTrue(lines, "nothing in the error log about the 400: %r" % self.log_lines())
        for l in lines:
            self.assertRegex(l, ERROR_LINE_RE)
        levels = {ERROR_LINE_RE.match(l).group(1) for l in lines}
        self.assertTrue(levels & {"info", "notice", "warn", "error"}, lines)
        return lines

    def test_bad_request_logged(self):
        self.bad_request_lines(b"GET /a.txt HTTP/1.1\r\nX-Test: 1\r\n\r\n")  # no Host
        self.assertTrue(self.proc.poll() is None)

    def test_bad_request_says_why(self):
        lines = self.bad_request_lines(b"GET /a.txt HTTP/1.1\r\nX-Test: 1\r\n\r\n")  # no Host
        self.assertTrue(any("host" in l.lower() for l in lines),
                        "the error log does not say why (missing Host): %r" % lines)

if __name__ == "__main__":
    unittest.main()
