"""Master and worker processes (issue 3): N workers visible as children of the
master with their titles and nice value, CPU affinity, a worker killed with
SIGKILL replaced within a second while the other worker's clients carry on,
100 crashes in a row leave no zombie, and a worker crashing at start is
restarted with a growing delay rather than in a fork storm.
"""
import os
import re
import signal
import socket
import threading
import shutil
import tempfile
import time
import unittest

from harness import (Hearth, TempRoot, free_port, owner_of, proc_age, proc_stat, proc_status, proc_title,
                     read_response, wait_until, zombies_of)

BODY = b"hello from a worker\n"
STARTED_RE = r"worker (\d+) started \(slot (\d+), generation (\d+)\)"


def get(addr, path="/a.txt", timeout=5.0):
    """One request on a new connection; returns (status, body)."""
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path.encode())
        status, _, body, _ = read_response(s)
        return status, body
    finally:
        s.close()


def start(root, *args, **kw):
    return Hearth(["--listen", "127.0.0.1:0", "--access-log", "off"] + [str(a) for a in args]
                  + [root.path], **kw)


def slots(h):
    """{worker pid: slot} from the "worker PID started (slot I, generation G)" lines."""
    return {int(p): int(s) for p, s, g in re.findall(STARTED_RE, h.log_text())}


def keepalive_get(s, path="/a.txt"):
    s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path.encode())
    status, _, body, rest = read_response(s)
    return status, body


class WorkerProcessesTest(unittest.TestCase):

    def setUp(self):
        self.root = TempRoot()
        self.root.write("a.txt", BODY)
        self.servers = []

    def tearDown(self):
        for h in self.servers:
            h.stop()
        self.root.cleanup()

    def start(self, *args, **kw):
        h = start(self.root, *args, **kw)
        self.servers.append(h)
        return h

    def check_titles_and_nice(self, n, nice):
        h = self.start("--workers", n, "--worker-nice", nice)
        ws = h.wait_workers(n, 5)
        self.assertEqual(len(ws), n, "workers: %r\n%s" % (ws, h.log_text()))

        title = proc_title(h.pid)
        self.assertTrue(title.startswith("hearth: master process"), "master title %r" % title)
        # the rest is the command line (option parsing may have permuted its words)
        rest = title[len("hearth: master process"):].split()
        self.assertTrue(rest, "master title %r without the command line" % title)
        self.assertIn(rest[0], (h.argv[0], os.path.basename(h.argv[0])), title)
        self.assertEqual(sorted(rest[1:]), sorted(h.argv[1:]),
                         "master title %r does not carry the command line %r" % (title, h.argv))

        for w in ws:
            wt = wait_until(lambda: (proc_title(w) or "").startswith("hearth: worker process") and proc_title(w), 2)
            self.assertTrue(wt, "worker %d title %r" % (w, proc_title(w)))
            self.assertEqual(int(proc_stat(w)[19]), nice, "nice of worker %d" % w)
        self.assertEqual(int(proc_stat(h.pid)[19]), os.getpriority(os.PRIO_PROCESS, 0),
                         "the master keeps the nice value it was started with")

        # every worker logged its start, each in its own slot, generation 1
        found = wait_until(lambda: all(w in slots(h) for w in ws), 2)
        self.assertTrue(found, "no 'worker PID started (slot I, generation G)' line for %r:\n%s"
                        % (ws, h.log_text()))
        sl = slots(h)
        self.assertEqual(len({sl[w] for w in ws}), n, "slots %r" % sl)
        for p, s, g in re.findall(STARTED_RE, h.log_text()):
            self.assertEqual(g, "1")

        for _ in range(2 * n):
            self.assertEqual(get(h.address()), (200, BODY))
        self.assertEqual(sorted(h.workers()), sorted(ws), "workers changed while serving")

    def test_burst_of_connections_shared_by_the_workers(self):
        """A burst of 800 keep-alive connections (the way wrk opens its 5,000)
        on a listener both workers share: each worker ends up holding a fair
        part of them. Whoever wakes first would otherwise drain the whole
        accept queue and serve those connections for their whole life."""
        mport = free_port()
        h = self.start("--workers", 2, "--metrics", "127.0.0.1:%d" % mport, "--accept-mode", "shared")
        self.assertEqual(len(h.wait_workers(2, 5)), 2)
        socks = []
        try:
            for _ in range(800):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(h.address())
                socks.append(s)
            for s in socks:
                s.setblocking(True)
                s.settimeout(10)
                s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            for s in socks:
                self.assertEqual(read_response(s)[0], 200)

            def active():
                c = socket.create_connection(("127.0.0.1", mport), timeout=5)
                try:
                    c.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    body = read_response(c)[2]
                finally:
                    c.close()
                return [int(n) for n in re.findall(
                    rb'^hearth_worker_connections_active\{pid="\d+",slot="\d+"\} (\d+)', body, re.M)]
            counts = wait_until(lambda: (lambda a: a if sum(a) >= 800 else None)(active()), 5)
            self.assertTrue(counts, "the workers do not report 800 connections: %r" % active())
            self.assertEqual(len(counts), 2)
            self.assertGreaterEqual(min(counts), 800 * 0.3, "one worker took most of the burst: %r" % counts)
        finally:
            for s in socks:
                s.close()

    def test_unix_metrics_socket_removed_at_exit(self):
        d = tempfile.mkdtemp(prefix="hearth-metrics-")
        try:
            path = os.path.join(d, "m.sock")
            h = self.start("--workers", 1, "--metrics", "unix:" + path)
            self.assertEqual(len(h.wait_workers(1, 5)), 1)
            c = socket.socket(socket.AF_UNIX)
            c.settimeout(5)
            c.connect(path)
            c.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            self.assertEqual(read_response(c)[0], 200)
            c.close()
            h.stop()
            self.assertFalse(os.path.exists(path), "the metrics socket file was left behind")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_two_workers_titles_nice(self):
        self.check_titles_and_nice(2, 5)

    def test_three_workers_titles_nice(self):
        self.check_titles_and_nice(3, 10)

    @unittest.skipUnless(os.geteuid() == 0, "a negative nice value needs root")
    def test_negative_nice_as_root(self):
        self.check_titles_and_nice(2, -5)

    @unittest.skipUnless(0 in os.sched_getaffinity(0), "CPU 0 not available to the tests")
    def test_cpu_affinity_list(self):
        h = self.start("--workers", 3, "--worker-cpu-affinity", "0")
        ws = h.wait_workers(3, 5)
        self.assertEqual(len(ws), 3, h.log_text())
        for w in ws:
            got = wait_until(lambda: proc_status(w)["Cpus_allowed_list"] == "0", 2)
            self.assertTrue(got, "worker %d Cpus_allowed_list %r" % (w, proc_status(w)["Cpus_allowed_list"]))
        self.assertEqual(os.sched_getaffinity(h.pid), os.sched_getaffinity(0),
                         "the master is not pinned")
        self.assertEqual(get(h.address()), (200, BODY))

    @unittest.skipUnless(os.sched_getaffinity(0) == set(range(os.cpu_count() or 1)),
                         "the tests do not have every online CPU")
    def test_cpu_affinity_auto(self):
        ncpu = os.cpu_count()
        n = ncpu + 1  # one more worker than CPUs: the slots wrap around
        h = self.start("--workers", n, "--worker-cpu-affinity", "auto")
        ws = h.wait_workers(n, 5)
        self.assertEqual(len(ws), n, h.log_text())
        self.assertTrue(wait_until(lambda: all(w in slots(h) for w in ws), 2), h.log_text())
        sl = slots(h)
        for w in ws:
            want = str(sl[w] % ncpu)
            got = wait_until(lambda: proc_status(w)["Cpus_allowed_list"] == want, 2)
            self.assertTrue(got, "worker %d (slot %d) Cpus_allowed_list %r, want %r"
                            % (w, sl[w], proc_status(w)["Cpus_allowed_list"], want))
        self.assertEqual(get(h.address()), (200, BODY))

    @unittest.skipUnless(len(os.sched_getaffinity(0)) >= 2 and {0, 1} <= os.sched_getaffinity(0),
                         "needs CPUs 0 and 1")
    def test_cpu_affinity_list_order(self):
        # slot I -> the I-th CPU of the list (mod its length)
        h = self.start("--workers", 3, "--worker-cpu-affinity", "1,0")
        ws = h.wait_workers(3, 5)
        self.assertEqual(len(ws), 3, h.log_text())
        self.assertTrue(wait_until(lambda: all(w in slots(h) for w in ws), 2), h.log_text())
        sl = slots(h)
        for w in ws:
            want = str([1, 0][sl[w] % 2])
            got = wait_until(lambda: proc_status(w)["Cpus_allowed_list"] == want, 2)
            self.assertTrue(got, "worker %d (slot %d) Cpus_allowed_list %r, want %r"
                            % (w, sl[w], proc_status(w)["Cpus_allowed_list"], want))


class WorkerCrashTest(unittest.TestCase):

    def setUp(self):
        self.root = TempRoot()
        self.root.write("a.txt", BODY)
        self.h = None

    def tearDown(self):
        if self.h:
            self.h.stop()
        self.root.cleanup()

    def wait_old_workers(self, n, age=1.1, timeout=8.0):
        """n workers, each at least age seconds old (so no crash-loop backoff applies)."""
        def ok():
            ws = self.h.workers()
            return ws if len(ws) == n and all((proc_age(w) or 0) >= age for w in ws) else None
        ws = wait_until(ok, timeout, 0.02)
        self.assertTrue(ws, "never saw %d workers %.1f s old: %r\n%s"
                        % (n, age, self.h.workers(), self.h.log_text()))
        return ws

    def test_kill9_worker_replaced_quickly_others_unaffected(self):
        self.h = h = start(self.root, "--workers", 2)
        ws = self.wait_old_workers(2)

        # keep-alive connections until both workers hold one (or 16 tries)
        conns = []
        for _ in range(16):
            s = socket.create_connection(h.address(), timeout=5)
            self.assertEqual(keepalive_get(s), (200, BODY))
            conns.append((s, owner_of(s, ws)))
            if {o for _, o in conns} >= set(ws):
                break
        owners = {o for _, o in conns}
        self.assertTrue(owners <= set(ws) and None not in owners, "connection owners %r" % owners)
        victim = ws[0] if ws[1] in owners else ws[1]
        survivors = [s for s, o in conns if o != victim]
        self.assertTrue(survivors)

        # a stream of requests on new connections, before, during and after the kill
        stop = threading.Event()
        results = []

        def stream():
            while not stop.is_set():
                try:
                    st, body = get(h.address(), timeout=3)
                    results.append((time.monotonic(), st == 200 and body == BODY, st))
                except (OSError, EOFError, ValueError, IndexError) as e:
                    results.append((time.monotonic(), False, repr(e)))
        t = threading.Thread(target=stream, daemon=True)
        t.start()
        try:
            self.assertTrue(wait_until(lambda: len(results) >= 20, 5), "stream not flowing")
            t_kill = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            new = h.wait_workers(2, 1.5, exclude=[victim])
            elapsed = time.monotonic() - t_kill
            self.assertTrue(len(new) == 2 and victim not in new, "workers %r\n%s" % (new, h.log_text()))
            self.assertLess(elapsed, 1.0, "replacement took %.3f s" % elapsed)

            # the other worker's keep-alive clients did not notice
            for s in survivors:
                for _ in range(3):
                    self.assertEqual(keepalive_get(s), (200, BODY))
            n_at_replace = len(results)
            wait_until(lambda: len(results) >= n_at_replace + 20, 5)
        finally:
            stop.set()
            t.join(10)
        for s, _ in conns:
            s.close()

        failures = [r for r in results if not r[1]]
        print("\nkill -9: %d requests in the stream, %d failed: %r; replaced in %.3f s"
              % (len(results), len(failures), failures[:5], elapsed))
        self.assertLessEqual(len(failures), 3, "too many failures around the kill: %r" % failures)
        for _ in range(20):
            self.assertEqual(get(h.address()), (200, BODY))

        self.assertTrue(h.wait_log(r"worker %d killed by signal 9" % victim, 2),
                        "no exit line for %d:\n%s" % (victim, h.log_text()))
        new_pid = (set(new) - set(ws)).pop()
        self.assertTrue(wait_until(lambda: new_pid in slots(h), 2), h.log_text())
        self.assertEqual(slots(h)[new_pid], slots(h)[victim], "the replacement takes the victim's slot")
        self.assertEqual(zombies_of(h.pid), [])

    def test_hundred_crashes_no_zombie(self):
        self.h = h = start(self.root, "--workers", 4)
        killed = []
        transient_zombies = 0
        for rnd in range(25):
            ws = self.wait_old_workers(4)
            for w in ws:
                os.kill(w, signal.SIGKILL)
            killed += ws
            new = h.wait_workers(4, 3, exclude=killed)
            self.assertTrue(len(new) == 4 and not set(new) & set(killed),
                            "round %d: workers %r after killing %r\n%s" % (rnd, new, ws, h.log_text()[-3000:]))
            if zombies_of(h.pid):
                transient_zombies += 1
            self.assertTrue(wait_until(lambda: not zombies_of(h.pid), 1.0),
                            "round %d: zombies %r" % (rnd, zombies_of(h.pid)))
            self.assertTrue(h.alive())
        self.assertEqual(len(killed), 100)
        exits = h.wait_log(r"worker (\d+) killed by signal 9", 3, count=100)
        self.assertEqual(len(exits), 100, h.log_text()[-3000:])
        self.assertEqual(sorted(int(p) for p in exits), sorted(killed))
        print("\n100 crashes: %d rounds with a zombie right after the replacements (reaped within 1 s)"
              % transient_zombies)
        self.assertEqual(get(h.address()), (200, BODY))

    def test_crash_loop_backoff(self):
        self.h = h = start(self.root, "--workers", 2)
        ws = h.wait_workers(2, 5)
        self.assertEqual(len(ws), 2, h.log_text())
        victim, other = ws
        first_age = proc_age(victim)
        known = set(ws)
        kill_times = []
        os.kill(victim, signal.SIGKILL)
        kill_times.append(time.monotonic())
        for i in range(5):
            def fresh():
                return [w for w in h.workers() if w not in known]
            new = wait_until(fresh, 8, 0.001)
            self.assertTrue(new, "kill %d: no new worker in 8 s\n%s" % (i + 2, h.log_text()))
            os.kill(new[0], signal.SIGKILL)
            kill_times.append(time.monotonic())
            known.update(new)
        total = kill_times[-1] - kill_times[0]
        gaps = ["%.0f" % ((b - a) * 1000) for a, b in zip(kill_times, kill_times[1:])]
        print("\nbackoff: first victim %.2f s old; gaps between kills (ms): %s" % (first_age, gaps))
        self.assertGreaterEqual(total, 1.4, "6 quick crashes in %.2f s: no backoff (gaps %s)" % (total, gaps))

        lines = h.wait_log(r"restarting worker slot (\d+) in (\d+) ms", 2, count=6 if first_age < 0.9 else 5)
        delays = [int(d) for s, d in lines]
        self.assertGreaterEqual(len(delays), 5, h.log_text())
        self.assertEqual(len({s for s, d in lines}), 1, "one slot only: %r" % lines)
        want = [min(100 * 2 ** k, 5000) for k in range(len(delays))]
        self.assertEqual(delays, want, h.log_text())
        starts = re.findall(STARTED_RE, h.log_text())
        self.assertLessEqual(len(starts), 2 + 6, "fork storm? %d starts" % len(starts))

        # the other slot was not disturbed and keeps serving during the backoff
        self.assertTrue(h.alive())
        self.assertIn(other, h.workers())
        self.assertEqual(get(h.address()), (200, BODY))
        # and the slot comes back after its delay (3.2 s at most here)
        back = h.wait_workers(2, 6, exclude=known - {other})
        self.assertEqual(len(back), 2, "slot not restarted after the backoff\n%s" % h.log_text())
        self.assertIn(other, back)
        self.assertEqual(zombies_of(h.pid), [])

    @unittest.skipUnless(os.environ.get("HEARTH_FAULT_LIB"), "HEARTH_FAULT_LIB not set (run through CTest)")
    def test_fork_failure_backoff(self):
        """fork() failing (the pids or process limit reached) when a worker
        must be replaced: the master logs it and tries again after 100 ms,
        doubling, instead of retrying in a loop; the other worker serves on;
        the slot is back once fork works again. fork fails while a flag
        file exists (tests/fault/fault.c, loaded with LD_PRELOAD)."""
        tmp = tempfile.mkdtemp(prefix="hearth-fault-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        flag = os.path.join(tmp, "no-fork")
        env = dict(os.environ, LD_PRELOAD=os.environ["HEARTH_FAULT_LIB"], HEARTH_FAULT_FORK=flag)
        # an ASan build's runtime would insist on coming first in the library list
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "verify_asan_link_order=0"]))
        self.h = h = start(self.root, "--workers", 2, env=env)
        victim, other = self.wait_old_workers(2)  # not a quick death: no backoff of its own
        open(flag, "w").close()
        os.kill(victim, signal.SIGKILL)
        fails = h.wait_log(r"fork: (.*)", 5, count=4)
        self.assertGreaterEqual(len(fails), 4, h.log_text())
        self.assertIn("Resource temporarily unavailable", fails[0])
        # 100 + 200 + 400 ms between the first four attempts: no retry storm
        lines = h.wait_log(r"restarting worker slot (\d+) in (\d+) ms", 2, count=4)
        delays = [int(d) for _, d in lines]
        self.assertEqual(delays[:4], [100, 200, 400, 800], h.log_text())
        self.assertEqual(len({sl for sl, _ in lines}), 1, lines)
        attempts = len(re.findall(r"fork: ", h.log_text()))
        self.assertLessEqual(attempts, len(lines) + 1, "fork retried without a delay\n" + h.log_text())
        # the other worker serves on meanwhile
        self.assertTrue(h.alive())
        self.assertEqual(h.workers(), [other])
        self.assertEqual(get(h.address()), (200, BODY))
        # fork works again: the slot is back within its next delay (1.6 s at most here)
        os.unlink(flag)
        back = h.wait_workers(2, 5)
        self.assertEqual(len(back), 2, "slot not restarted once fork works\n" + h.log_text())
        self.assertIn(other, back)
        self.assertEqual(get(h.address()), (200, BODY))
        self.assertEqual(zombies_of(h.pid), [])


if __name__ == "__main__":
    unittest.main()
