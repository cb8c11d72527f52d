"""Background running (issue 3): --daemon returns 0 once it serves, the pid
file names the master and refuses a second start, `hearth -s` signals the
running master, stale pid files are replaced, start-up errors are reported by
the command that started the daemon.
"""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import (BIN, TempRoot, children_of, fd_targets, file_text, free_port, pid_alive, proc_stat,
                     proc_title, read_response, wait_until)

A_TXT = b"daemon test file\n"


def get(addr, path="/a.txt", timeout=5.0):
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path.encode())
        status, _, body, _ = read_response(s)
        return status, body
    finally:
        s.close()


def refused(addr):
    try:
        socket.create_connection(addr, timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def user_args():
    return ["--user", "root"] if os.geteuid() == 0 else []


def read_pid(path):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    m = re.fullmatch(r"(\d+)\n", text)
    return int(m.group(1)) if m else text


class DaemonTest(unittest.TestCase):

    def setUp(self):
        self.root = TempRoot()
        self.root.write("a.txt", A_TXT)
        self.dir = tempfile.mkdtemp(prefix="hearth-daemon-")
        self.pidfile = os.path.join(self.dir, "hearth.pid")
        self.log = os.path.join(self.dir, "error.log")
        self.started = []  # master pids we started

    def tearDown(self):
        for pid in self.started:
            if not (pid_alive(pid) and (proc_title(pid) or "").startswith("hearth")):
                continue
            workers = children_of(pid)
            os.kill(pid, signal.SIGINT)
            if not wait_until(lambda: not pid_alive(pid), 3):
                os.kill(pid, signal.SIGKILL)
                wait_until(lambda: not pid_alive(pid), 3)
            for w in workers:
                if pid_alive(w) and (proc_title(w) or "").startswith("hearth"):
                    os.kill(w, signal.SIGKILL)
        self.root.cleanup()
        for dirpath, dirnames, filenames in os.walk(self.dir, topdown=False):
            for f in filenames:
                os.unlink(os.path.join(dirpath, f))
            for d in dirnames:
                os.rmdir(os.path.join(dirpath, d))
        os.rmdir(self.dir)

    def run_hearth(self, args, timeout=15, cwd=None, **kw):
        try:
            return subprocess.run([BIN] + [str(a) for a in args], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=timeout, cwd=cwd, **kw)
        except subprocess.TimeoutExpired as e:
            self.fail("%r did not return within %d s (a daemon still holding the caller's "
                      "stdout/stderr, or no daemon at all?)\n%r" % (args, timeout, e.stderr))

    def daemon(self, port, extra=(), pidfile=None, log=None, cwd=None, root=None):
        pidfile = pidfile or self.pidfile
        log = log or self.log
        args = ["--daemon", "--pid-file", pidfile, "--error-log", log, "--listen", "127.0.0.1:%d" % port,
                "--workers", 2, "--access-log", "off"] + user_args() + list(extra) + [root or self.root.path]
        t0 = time.monotonic()
        r = self.run_hearth(args, cwd=cwd)
        elapsed = time.monotonic() - t0
        pid = read_pid(os.path.join(cwd or "", pidfile))
        if isinstance(pid, int):
            self.started.append(pid)
        return r, pid, elapsed

    def ctl(self, *args, cwd=None):
        return self.run_hearth(["-s"] + list(args), timeout=10, cwd=cwd)

    def test_daemon_pidfile_and_signals(self):
        port = free_port()
        r, pid, elapsed = self.daemon(port)
        self.assertEqual(r.returncode, 0, "stderr: %r\nlog:\n%s" % (r.stderr, file_text(self.log)))
        self.assertIsInstance(pid, int, "pid file content %r" % pid)
        # serving as soon as the command returned: listeners bound, workers up
        self.assertEqual(get(("127.0.0.1", port)), (200, A_TXT))
        self.assertEqual(len(children_of(pid)), 2, "workers not up when --daemon returned")
        self.assertTrue(pid_alive(pid))
        self.assertTrue((proc_title(pid) or "").startswith("hearth: master process"), proc_title(pid))
        st = proc_stat(pid)
        self.assertNotEqual(int(st[4]), os.getpid(), "not detached")
        self.assertNotEqual(int(st[6]), os.getsid(0), "no setsid")
        self.assertEqual(os.readlink("/proc/%d/cwd" % pid), "/")
        self.assertEqual(os.readlink("/proc/%d/fd/0" % pid), "/dev/null")
        self.assertEqual(os.readlink("/proc/%d/fd/1" % pid), "/dev/null")
        self.assertIn(os.readlink("/proc/%d/fd/2" % pid), ("/dev/null", self.log))
        print("\n--daemon returned after %.2f s" % elapsed)

        # a second hearth with the same pid file is refused, the first one untouched
        port2 = free_port()
        for daemon in ([], ["--daemon"]):
            r2 = self.run_hearth(daemon + ["--pid-file", self.pidfile, "--error-log", self.log,
                                           "--listen", "127.0.0.1:%d" % port2, "--workers", 2,
                                           "--access-log", "off"] + user_args() + [self.root.path])
            err = r2.stderr.decode(errors="replace")
            self.assertEqual(r2.returncode, 1, "second start %r: %r" % (daemon, err))
            self.assertIn("already running", err)
            self.assertIn(str(pid), err)
            self.assertEqual(read_pid(self.pidfile), pid, "pid file changed by the refused start")
            self.assertTrue(refused(("127.0.0.1", port2)))
        self.assertTrue(pid_alive(pid))
        self.assertEqual(get(("127.0.0.1", port)), (200, A_TXT))

        # -s reload
        r = self.ctl("reload", "--pid-file", self.pidfile)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_until(lambda: "reload: generation 2 started" in file_text(self.log), 5),
                        file_text(self.log))
        self.assertEqual(get(("127.0.0.1", port)), (200, A_TXT))

        # -s reopen after moving the log away: the next lines go to a new file
        os.rename(self.log, self.log + ".1")
        r = self.ctl("reopen", "--pid-file", self.pidfile)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_until(lambda: os.path.exists(self.log), 5), "no new error log after -s reopen")
        # wait until the master no longer holds the old file, then make it log something
        self.assertTrue(wait_until(lambda: not any(t.endswith(".1") for t in fd_targets(pid)), 5),
                        "master still holds the old log")
        r = self.ctl("reload", "--pid-file", self.pidfile)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_until(lambda: "reload: generation 3 started" in file_text(self.log), 5),
                        file_text(self.log))
        self.assertNotIn("generation 3", file_text(self.log + ".1"))

        # -s stop: graceful; the master leaves and removes its pid file
        workers = children_of(pid)
        r = self.ctl("stop", "--pid-file", self.pidfile)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_until(lambda: not pid_alive(pid), 10), "master still alive after -s stop")
        self.assertTrue(wait_until(lambda: not os.path.exists(self.pidfile), 2), "pid file left behind")
        for w in workers:
            self.assertTrue(wait_until(lambda: not pid_alive(w), 2), "worker %d left behind" % w)
        self.assertIn("graceful stop", file_text(self.log))
        self.assertTrue(refused(("127.0.0.1", port)))

    def test_signal_without_master(self):
        r = self.ctl("stop", "--pid-file", "/nonexistent/hearth.pid")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.strip(), "no message")
        # a pid file naming a dead process: nothing to signal either
        p = subprocess.Popen(["true"])
        p.wait()
        with open(self.pidfile, "w") as f:
            f.write("%d\n" % p.pid)
        r = self.ctl("reload", "--pid-file", self.pidfile)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertTrue(r.stderr.strip(), "no message")

    def test_stale_pid_file_replaced(self):
        p = subprocess.Popen(["true"])
        p.wait()
        with open(self.pidfile, "w") as f:
            f.write("%d\n" % p.pid)
        port = free_port()
        r, pid, _ = self.daemon(port)
        self.assertEqual(r.returncode, 0, "stderr %r\nlog:\n%s" % (r.stderr, file_text(self.log)))
        self.assertIsInstance(pid, int)
        self.assertNotEqual(pid, p.pid)
        self.assertTrue(pid_alive(pid))
        self.assertEqual(get(("127.0.0.1", port)), (200, A_TXT))
        # -s quit: SIGINT, an immediate stop
        r = self.ctl("quit", "--pid-file", self.pidfile)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_until(lambda: not pid_alive(pid), 3))
        self.assertTrue(wait_until(lambda: not os.path.exists(self.pidfile), 2), "pid file left behind")

    def test_port_in_use_fails_fast(self):
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        try:
            r, pid, elapsed = self.daemon(port)
        finally:
            blocker.close()
        err = r.stderr.decode(errors="replace")
        self.assertNotEqual(r.returncode, 0, "daemon started on a busy port: %r" % err)
        self.assertLess(elapsed, 10)
        self.assertTrue(str(port) in err or "in use" in err.lower(),
                        "error does not name the problem: %r" % err)
        self.assertFalse(os.path.exists(self.pidfile), "pid file left by a failed start")

    def test_daemon_needs_an_error_log_file(self):
        port = free_port()
        for extra in ([], ["--error-log", "-"]):
            r = self.run_hearth(["--daemon", "--pid-file", self.pidfile, "--listen", "127.0.0.1:%d" % port]
                                + extra + user_args() + [self.root.path])
            self.assertEqual(r.returncode, 2, "%r: %r" % (extra, r.stderr))
            self.assertIn("--daemon", r.stderr.decode(errors="replace"))
            self.assertTrue(refused(("127.0.0.1", port)))

    def test_relative_paths_resolved_before_chdir(self):
        os.makedirs(os.path.join(self.dir, "www"))
        os.makedirs(os.path.join(self.dir, "logs"))
        with open(os.path.join(self.dir, "www", "a.txt"), "wb") as f:
            f.write(A_TXT)
        port = free_port()
        r, pid, _ = self.daemon(port, pidfile="hearth.pid", log="logs/error.log", cwd=self.dir, root="www")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsInstance(pid, int)
        self.assertEqual(get(("127.0.0.1", port)), (200, A_TXT))
        self.assertIn("listening on", file_text(os.path.join(self.dir, "logs", "error.log")))
        r = self.ctl("stop", "--pid-file", "hearth.pid", cwd=self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_until(lambda: not pid_alive(pid), 10))
        self.assertTrue(wait_until(lambda: not os.path.exists(os.path.join(self.dir, "hearth.pid")), 2))

    def test_signals_through_the_config_pid_file(self):
        port = free_port()
        conf = os.path.join(self.dir, "hearth.conf")
        with open(conf, "w") as f:
            f.write("listen 127.0.0.1:%d;\nroot %s;\npid-file %s;\nerror-log %s;\naccess-log off;\n"
                    % (port, self.root.path, self.pidfile, self.log))
        r = self.run_hearth(["-c", conf, "--daemon", "--workers", 2] + user_args())
        self.assertEqual(r.returncode, 0, r.stderr)
        pid = read_pid(self.pidfile)
        self.assertIsInstance(pid, int)
        self.started.append(pid)
        self.assertEqual(get(("127.0.0.1", port)), (200, A_TXT))
        r = self.ctl("reload", "-c", conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_until(lambda: "reload: generation 2 started" in file_text(self.log), 5),
                        file_text(self.log))
        r = self.ctl("stop", "-c", conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_until(lambda: not pid_alive(pid), 10))

    def test_relative_config_file_reloads(self):
        # a daemon has done chdir("/"); a reload re-reads -c h.conf, which is
        # the start-up directory's
        port = free_port()
        with open(os.path.join(self.dir, "h.conf"), "w") as f:
            f.write("listen 127.0.0.1:%d;\nroot %s;\npid-file hearth.pid;\nerror-log error.log;\n"
                    "access-log off;\n" % (port, self.root.path))
        r = self.run_hearth(["-c", "h.conf", "--daemon", "--workers", 1] + user_args(), cwd=self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        pid = read_pid(self.pidfile)
        self.assertIsInstance(pid, int)
        self.started.append(pid)
        r = self.ctl("reload", "-c", "h.conf", cwd=self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_until(lambda: "reload: generation 2 started" in file_text(self.log), 5),
                        file_text(self.log))
        self.assertNotIn("reload failed", file_text(self.log))
        self.assertEqual(get(("127.0.0.1", port)), (200, A_TXT))

    def test_inherited_descriptors_closed(self):
        rd, wr = os.pipe()
        try:
            port = free_port()
            args = ["--daemon", "--pid-file", self.pidfile, "--error-log", self.log, "--listen",
                    "127.0.0.1:%d" % port, "--workers", 1, "--access-log", "off"] + user_args() + [
                    self.root.path]
            r = self.run_hearth(args, pass_fds=(rd, wr))
            self.assertEqual(r.returncode, 0, r.stderr)
            pid = read_pid(self.pidfile)
            self.assertIsInstance(pid, int)
            self.started.append(pid)
            pipe = os.readlink("/proc/self/fd/%d" % rd)
            self.assertTrue(pipe.startswith("pipe:["), pipe)
            for p in [pid] + children_of(pid):
                self.assertNotIn(pipe, fd_targets(p), "pid %d kept the caller's pipe" % p)
        finally:
            os.close(rd)
            os.close(wr)

    @unittest.skipUnless(os.geteuid() == 0, "needs root (to take CAP_SETGID away)")
    def test_worker_that_cannot_start_fails_the_start(self):
        # without CAP_SETGID the workers' setgroups() fails: --daemon must say
        # so and exit non-zero, not wait (or restart them) for ever
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)

        def drop_setgid():
            if libc.prctl(24, 6, 0, 0, 0) != 0:  # PR_CAPBSET_DROP, CAP_SETGID
                raise OSError(ctypes.get_errno(), "prctl")

        port = free_port()
        args = ["--daemon", "--pid-file", self.pidfile, "--error-log", self.log, "--listen",
                "127.0.0.1:%d" % port, "--workers", 2, "--access-log", "off", "--user", "nobody",
                self.root.path]
        r = self.run_hearth(args, timeout=10, preexec_fn=drop_setgid)
        log = file_text(self.log)
        self.assertNotEqual(r.returncode, 0, log)
        self.assertIn(b"a worker could not start", r.stderr)
        self.assertIn("setgroups", log)
        pid = read_pid(self.pidfile)
        if isinstance(pid, int):
            self.started.append(pid)
            self.assertTrue(wait_until(lambda: not pid_alive(pid), 5), "the master stayed")
        self.assertTrue(wait_until(lambda: refused(("127.0.0.1", port)), 5))


if __name__ == "__main__":
    unittest.main()
