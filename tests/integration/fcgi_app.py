"""A small FastCGI application (FastCGI 1.0, Responder role) for hearth's
gateway tests, in standard-library Python, plus a minimal FastCGI client.

The application listens on a Unix-domain socket or a TCP port and serves every
connection in its own thread, one request at a time (it answers a second
BEGIN_REQUEST on a busy connection with CANT_MPX_CONN). It checks what the web
server sends strictly (version, record types, request ids, padding, the order
BEGIN_REQUEST, PARAMS..., empty PARAMS, STDIN..., empty STDIN, name-value
encoding) and notes every violation in `errors`, honours FCGI_KEEP_CONN (closes
the connection after the request when it is clear), and counts what it sees:
connections accepted and closed, requests (with their params), aborts.

Use it in-process (the tests do, to read its counters directly):

    app = FcgiApp("unix:/tmp/x/app.sock")   # or "127.0.0.1:0"
    app.start()
    ... app.address ("unix:/tmp/x/app.sock" or "127.0.0.1:PORT"),
        app.stats()["accepts"], app.requests, app.aborts, app.errors ...
    app.stop()

or as a process: `python3 fcgi_app.py unix:/path/app.sock` (or 127.0.0.1:0)
prints "listening on ADDR" and serves until SIGTERM / SIGINT; the behaviour
`stats` returns the counters as JSON.

A behaviour is chosen by the `do` query parameter, else by the base name of
SCRIPT_NAME without its extension (/gen.fcgi -> gen); anything unknown is
`echo`. Other query parameters tune it:

    echo      JSON: every param (name -> value, latin-1 strings), the param list
              in order, the body's length and sha256 and its first 64 KiB,
              keep_conn, the connection number and the request id
    gen       bytes=N of deterministic output (gen_chunks / gen_sha256 here);
              cl=1 also sends Content-Length; rec=N caps the STDOUT record size
    status    code=N [reason=TEXT] -> "Status: N TEXT"; h=Name:Value (any number
              of times) adds header lines; body=TEXT; cl=1 sends Content-Length
    redirect  loc=VALUE -> "Location: VALUE" without Status (status=N adds one)
    loop      Location: the same script again, for ever
    stderr    bytes=N of STDERR (records of up to 64 KiB, each starting with
              STDERR-MARKER), or text=TEXT as one record (count=N: N records
              "TEXT #k"), then a short 200
              "stderr done"
    sleep     secs=S before answering like echo (interrupted by stop())
    garbage   kind=text|version|type|id|length: bytes that are not the records a
              web server may receive, instead of the answer
    malformed kind=nocolon|status|nohead|ctl|eof|space: a malformed CGI head
    bighead   bytes=N of header lines (X-Pad-K: ...) before the body
    close     bytes=N of body out of a declared total=M (cl=1 sends it as
              Content-Length), then the connection is closed without
              END_REQUEST; pause=S sends the head alone S seconds before the
              body; head=0 closes before any output at all
    overloaded  END_REQUEST with protocol status OVERLOADED, no output
    noread    does not read STDIN: sleeps secs=S with the body unread
    stats     the counters as JSON
"""
import hashlib
import json
import os
import select
import socket
import struct
import sys
import threading
import time
import urllib.parse

VERSION = 1
BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR, DATA, \
    GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = range(1, 12)
RESPONDER = 1
KEEP_CONN = 1
REQUEST_COMPLETE, CANT_MPX_CONN, OVERLOADED, UNKNOWN_ROLE = range(4)
MAX_CONTENT = 65535
TYPE_NAMES = {1: "BEGIN_REQUEST", 2: "ABORT_REQUEST", 3: "END_REQUEST", 4: "PARAMS", 5: "STDIN",
              6: "STDOUT", 7: "STDERR", 8: "DATA", 9: "GET_VALUES", 10: "GET_VALUES_RESULT",
              11: "UNKNOWN_TYPE"}

# ---------------------------------------------------------------------------
# Records and name-value pairs (FastCGI 1.0, sections 3.3 and 3.4)


def record(rtype, request_id, content=b"", padding=None):
    """One record; padding defaults to what brings the content to 8 bytes."""
    if len(content) > MAX_CONTENT:
        raise ValueError("record content over 65535 bytes")
    if padding is None:
        padding = -len(content) % 8
    return struct.pack(">BBHHBx", VERSION, rtype, request_id, len(content), padding) + content + b"\0" * padding


def records(rtype, request_id, data, size=MAX_CONTENT):
    """data cut into records of at most size bytes (no terminating empty one)."""
    out = []
    view = memoryview(data)
    for i in range(0, len(view), size):
        out.append(record(rtype, request_id, bytes(view[i:i + size])))
    return b"".join(out)


def nv_len(n):
    return struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)


def nv_encode(pairs):
    """[(name, value)] (bytes or str) -> the name-value pair encoding."""
    out = []
    for k, v in pairs:
        k = k.encode("latin-1") if isinstance(k, str) else k
        v = v.encode("latin-1") if isinstance(v, str) else v
        out.append(nv_len(len(k)) + nv_len(len(v)) + k + v)
    return b"".join(out)


class ProtocolError(Exception):
    pass


def nv_decode(data):
    """The name-value pair encoding -> [(name bytes, value bytes)]; raises
    ProtocolError when malformed."""
    pairs = []
    i = 0
    n = len(data)

    def length():
        nonlocal i
        if i >= n:
            raise ProtocolError("name-value pair: truncated length")
        if data[i] < 128:
            i += 1
            return data[i - 1]
        if i + 4 > n:
            raise ProtocolError("name-value pair: truncated 4-byte length")
        v = struct.unpack(">I", data[i:i + 4])[0] & 0x7FFFFFFF
        i += 4
        return v

    while i < n:
        nl = length()
        vl = length()
        if i + nl + vl > n:
            raise ProtocolError("name-value pair: lengths %d+%d run past the stream" % (nl, vl))
        pairs.append((bytes(data[i:i + nl]), bytes(data[i + nl:i + nl + vl])))
        i += nl + vl
    return pairs


# ---------------------------------------------------------------------------
# Deterministic output, reproducible by the tests

_BASE = b"".join(hashlib.sha256(b"hearth-fcgi-%d" % i).digest() for i in range(2048))  # 64 KiB


def gen_chunks(n):
    """n deterministic bytes, as chunks of up to 64 KiB: block i is a
    rotation of a fixed pseudo-random 64 KiB block, so a shifted, dropped or
    repeated block changes the hash."""
    i = 0
    left = n
    size = len(_BASE)
    while left > 0:
        off = (i * 4099) % size
        blk = _BASE[off:] + _BASE[:off]
        if left < size:
            blk = blk[:left]
        yield blk
        left -= len(blk)
        i += 1


def gen_sha256(n):
    h = hashlib.sha256()
    for c in gen_chunks(n):
        h.update(c)
    return h.hexdigest()


# ---------------------------------------------------------------------------
# The application


class Aborted(Exception):
    """The web server aborted the request (ABORT_REQUEST) or closed the
    connection while the application was answering."""


class Closed(Exception):
    """The peer closed the connection between records."""


class Request:
    def __init__(self, request_id, keep_conn, conn_no):
        self.id = request_id
        self.keep_conn = keep_conn
        self.conn_no = conn_no
        self.params_buf = bytearray()
        self.params_done = False
        self.pairs = []
        self.params = {}
        self.body_len = 0
        self.body_hash = hashlib.sha256()
        self.body_head = bytearray()
        self.stdin_done = False
        self.query = {}

    def path(self):
        return self.params.get("REQUEST_URI") or self.params.get("SCRIPT_NAME") or ""

    def q(self, name, default=None):
        v = self.query.get(name)
        return v[-1] if v else default

    def qi(self, name, default=0):
        v = self.q(name)
        return int(v) if v not in (None, "") else default


class Conn:
    def __init__(self, app, sock, no):
        self.app = app
        self.sock = sock
        self.no = no
        self.buf = bytearray()
        self.pending = bytearray()
        self.req = None

    # ---- reading

    def _fill(self, timeout=None):
        """Read more bytes into buf; Closed at end of stream."""
        if timeout is not None:
            r, _, _ = select.select([self.sock], [], [], timeout)
            if not r:
                raise socket.timeout("no data from the web server in %ss" % timeout)
        try:
            b = self.sock.recv(262144)
        except (ConnectionResetError, OSError) as e:
            raise Closed(str(e))
        if not b:
            raise Closed("end of stream")
        self.buf += b

    def _take_record(self):
        """A complete record from buf, or None."""
        if len(self.buf) < 8:
            return None
        version, rtype, rid, clen, plen = struct.unpack(">BBHHBx", self.buf[:8])
        if version != VERSION:
            raise ProtocolError("record version %d" % version)
        total = 8 + clen + plen
        if len(self.buf) < total:
            return None
        content = bytes(self.buf[8:8 + clen])
        del self.buf[:total]
        if plen > 7 or (clen + plen) % 8 != 0:
            # the spec recommends 8-byte alignment, hearth promises it
            self.app._error("conn %d: %s with %d content bytes padded by %d (not to a multiple of 8)" % (
                self.no, TYPE_NAMES.get(rtype, rtype), clen, plen))
        return rtype, rid, content

    def read_record(self, timeout=None):
        while True:
            rec = self._take_record()
            if rec is not None:
                return rec
            self._fill(timeout)

    # ---- writing

    def send(self, data):
        """Write data, watching the socket for ABORT_REQUEST or the end of
        the connection meanwhile (Aborted)."""
        view = memoryview(data)
        deadline = time.monotonic() + self.app.write_timeout
        while view:
            if self.app._stopping.is_set():
                raise Aborted("application stopping")
            r, w, _ = select.select([self.sock], [self.sock], [], 0.2)
            if r:
                self._check_incoming()
            if w:
                try:
                    n = self.sock.send(view)
                except (BrokenPipeError, ConnectionResetError) as e:
                    raise Aborted("write failed: %s" % e)
                view = view[n:]
                deadline = time.monotonic() + self.app.write_timeout
            elif time.monotonic() > deadline:
                raise Aborted("web server did not read for %ss" % self.app.write_timeout)

    def _check_incoming(self):
        try:
            b = self.sock.recv(65536)
        except (ConnectionResetError, OSError) as e:
            raise Aborted("read failed: %s" % e)
        if not b:
            raise Aborted("end of stream")
        self.buf += b
        while True:
            rec = self._take_record()
            if rec is None:
                return
            rtype, rid, content = rec
            if rtype == ABORT_REQUEST and self.req is not None and rid == self.req.id:
                raise Aborted("ABORT_REQUEST")
            if rtype == STDIN and self.req is not None and rid == self.req.id and self.req.stdin_done:
                self.app._error("conn %d: STDIN after the empty STDIN record" % self.no)
            elif rtype != STDIN:
                self.app._error("conn %d: %s while the application answers" % (self.no, TYPE_NAMES.get(rtype, rtype)))

    # Output is gathered and written in pieces of 256 KiB or at the end, the
    # last of it together with END_REQUEST (as php-fpm does): the web server
    # then sees a small response end in one read.

    def _queue(self, data):
        self.pending += data
        if len(self.pending) >= 262144:
            self.flush()

    def flush(self):
        if self.pending:
            data = bytes(self.pending)
            self.pending = bytearray()
            self.send(data)

    def stdout(self, data, size=MAX_CONTENT):
        if data:
            self._queue(records(STDOUT, self.req.id, data, size))

    def stderr(self, data):
        if data:
            self._queue(records(STDERR, self.req.id, data))

    def end(self, app_status=0, protocol_status=REQUEST_COMPLETE, request_id=None):
        rid = self.req.id if request_id is None else request_id
        # the empty STDOUT record ends the stream, as php-fpm does
        self._queue(record(STDOUT, rid) + record(END_REQUEST, rid, struct.pack(">IB3x", app_status, protocol_status)))
        self.flush()

    # ---- the loop

    def serve(self):
        app = self.app
        try:
            while not app._stopping.is_set():
                try:
                    rtype, rid, content = self.read_record()
                except Closed:
                    return
                if rid == 0:
                    self._management(rtype, content)
                    continue
                if rtype == BEGIN_REQUEST:
                    if len(content) != 8:
                        raise ProtocolError("BEGIN_REQUEST with %d content bytes" % len(content))
                    role, flags = struct.unpack(">HB5x", content)
                    if self.req is not None:
                        app._error("conn %d: BEGIN_REQUEST %d while request %d is open" % (self.no, rid, self.req.id))
                        self.send(record(END_REQUEST, rid, struct.pack(">IB3x", 0, CANT_MPX_CONN)))
                        continue
                    if role != RESPONDER:
                        app._error("conn %d: role %d" % (self.no, role))
                        self.send(record(END_REQUEST, rid, struct.pack(">IB3x", 0, UNKNOWN_ROLE)))
                        continue
                    if flags & ~KEEP_CONN:
                        app._error("conn %d: BEGIN_REQUEST flags %#x" % (self.no, flags))
                    self.req = Request(rid, bool(flags & KEEP_CONN), self.no)
                    continue
                req = self.req
                if req is None or rid != req.id:
                    if rtype == ABORT_REQUEST:
                        continue  # may cross an END_REQUEST already sent
                    raise ProtocolError("%s for request %d, open: %s" % (
                        TYPE_NAMES.get(rtype, rtype), rid, req and req.id))
                if rtype == ABORT_REQUEST:
                    app._abort(req, "ABORT_REQUEST before the answer")
                    self.send(record(END_REQUEST, rid, struct.pack(">IB3x", 1, REQUEST_COMPLETE)))
                    self.req = None
                    if not req.keep_conn:
                        return
                elif rtype == PARAMS:
                    if req.params_done:
                        raise ProtocolError("PARAMS after the empty PARAMS record")
                    if content:
                        req.params_buf += content
                        continue
                    req.params_done = True
                    req.pairs = nv_decode(req.params_buf)
                    for k, v in req.pairs:
                        req.params[k.decode("latin-1")] = v.decode("latin-1")
                    req.query = urllib.parse.parse_qs(req.params.get("QUERY_STRING", ""), keep_blank_values=True)
                    app._params_seen(req)
                    if self._mode(req) == "noread":
                        self._noread(req)
                        return
                elif rtype == STDIN:
                    if not req.params_done:
                        raise ProtocolError("STDIN before the end of PARAMS")
                    if req.stdin_done:
                        raise ProtocolError("STDIN after the empty STDIN record")
                    if content:
                        req.body_len += len(content)
                        req.body_hash.update(content)
                        if len(req.body_head) < 65536:
                            req.body_head += content[:65536 - len(req.body_head)]
                        continue
                    req.stdin_done = True
                    keep = self._answer(req)
                    self.req = None
                    if not keep or not req.keep_conn:
                        return
                elif rtype == DATA:
                    raise ProtocolError("DATA record for a Responder")
                else:
                    raise ProtocolError("record type %s from the web server" % TYPE_NAMES.get(rtype, rtype))
        except ProtocolError as e:
            app._error("conn %d: %s" % (self.no, e))
        except Aborted as e:
            if self.req is not None:
                app._abort(self.req, str(e))
        except (Closed, socket.timeout, OSError) as e:
            if self.req is not None:
                app._abort(self.req, "connection lost: %s" % e)
        finally:
            app._closed(self)
            try:
                self.sock.close()
            except OSError:
                pass

    def _management(self, rtype, content):
        if rtype == GET_VALUES:
            names = [k for k, _ in nv_decode(content)]
            known = {b"FCGI_MAX_CONNS": b"100", b"FCGI_MAX_REQS": b"100", b"FCGI_MPXS_CONNS": b"0"}
            self.send(record(GET_VALUES_RESULT, 0, nv_encode([(k, known[k]) for k in names if k in known])))
        else:
            self.send(record(UNKNOWN_TYPE, 0, struct.pack(">B7x", rtype)))

    def _mode(self, req):
        mode = req.q("do")
        if not mode:
            script = req.params.get("SCRIPT_NAME", "")
            base = script.rsplit("/", 1)[-1]
            mode = base.split(".", 1)[0]
        return mode if mode == "noread" or hasattr(self, "do_" + mode) else "echo"

    def _answer(self, req):
        """Run the behaviour; True when the connection may carry on."""
        self.app._request_done(req)
        return getattr(self, "do_" + self._mode(req))(req) is not False

    # ---- behaviours (return False to drop the connection)

    def do_echo(self, req):
        doc = {
            "params": req.params,
            "pairs": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in req.pairs],
            "body_length": req.body_len,
            "body_sha256": req.body_hash.hexdigest(),
            "body_head": bytes(req.body_head).decode("latin-1"),
            "keep_conn": req.keep_conn,
            "conn": self.no,
            "request_id": req.id,
        }
        body = json.dumps(doc, sort_keys=True).encode()
        self.stdout(b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        self.end()

    do_index = do_echo
    do_count = do_echo

    def do_stats(self, req):
        body = json.dumps(self.app.stats(), sort_keys=True).encode()
        self.stdout(b"Content-Type: application/json\r\n\r\n" + body)
        self.end()

    def do_gen(self, req):
        n = req.qi("bytes", 1 << 20)
        size = req.qi("rec", MAX_CONTENT)
        head = b"Content-Type: application/octet-stream\r\n"
        if req.q("cl") == "1":
            head += b"Content-Length: %d\r\n" % n
        self.stdout(head + b"\r\n")
        for c in gen_chunks(n):
            self.stdout(c, size)
        self.end()

    def do_status(self, req):
        head = b""
        code = req.q("code")
        if code:
            head += b"Status: " + code.encode("latin-1")
            if req.q("reason"):
                head += b" " + req.q("reason").encode("latin-1")
            head += b"\r\n"
        for h in req.query.get("h", []):
            head += h.encode("latin-1") + b"\r\n"
        body = (req.q("body") or "status body\n").encode("latin-1")
        if req.q("cl") == "1":
            head += b"Content-Length: %d\r\n" % len(body)
        self.stdout(head + b"Content-Type: text/plain\r\n\r\n" + body)
        self.end()

    def do_redirect(self, req):
        head = b"Location: " + req.q("loc", "/").encode("latin-1") + b"\r\n"
        if req.q("status"):
            head = b"Status: " + req.q("status").encode() + b"\r\n" + head
        self.stdout(head + b"\r\n")
        self.end()

    def do_loop(self, req):
        self.stdout(b"Location: " + req.params.get("SCRIPT_NAME", "/loop.fcgi").encode("latin-1") + b"\r\n\r\n")
        self.end()

    def do_stderr(self, req):
        if req.q("text") is not None:
            for k in range(req.qi("count", 1)):  # count=N: N records, the text then " #k"
                self.stderr(req.q("text").encode("latin-1") + (b" #%d" % k if req.q("count") else b""))
            self.stdout(b"Content-Type: text/plain\r\n\r\nstderr done\n")
            self.end()
            return
        n = req.qi("bytes", 1 << 20)
        sent = 0
        k = 0
        while sent < n:
            line = b"STDERR-MARKER %d " % k
            chunk = (line + b"x" * (MAX_CONTENT - len(line) - 1) + b"\n")[:n - sent]
            self.stderr(chunk)
            sent += len(chunk)
            k += 1
        self.stdout(b"Content-Type: text/plain\r\n\r\nstderr done\n")
        self.end()

    def do_sleep(self, req):
        """Answer after secs=S, watching the connection meanwhile (ABORT_REQUEST
        or its end is noted as an abort)."""
        deadline = time.monotonic() + float(req.q("secs", "1"))
        while time.monotonic() < deadline:
            if self.app._stopping.is_set():
                return False
            r, _, _ = select.select([self.sock], [], [], min(0.05, max(0, deadline - time.monotonic())))
            if r:
                self._check_incoming()  # raises Aborted
        return self.do_echo(req)

    def do_garbage(self, req):
        kind = req.q("kind", "text")
        if kind == "text":
            data = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nnot a FastCGI record\n"
        elif kind == "version":
            data = struct.pack(">BBHHBx", 2, STDOUT, req.id, 8, 0) + b"Status: "
        elif kind == "type":
            data = record(BEGIN_REQUEST, req.id, struct.pack(">HB5x", RESPONDER, 0))
        elif kind == "id":
            data = record(STDOUT, (req.id + 1) & 0xFFFF or 2, b"Content-Type: text/plain\r\n\r\nwrong id\n")
        elif kind == "length":  # END_REQUEST whose body is 4 bytes, not 8
            data = record(END_REQUEST, req.id, b"\0\0\0\0")
        else:
            data = os.urandom(64)
        self.send(data)
        # leave the connection open: the web server must notice on its own
        self.app._stopping.wait(float(req.q("hold", "3")))
        return False

    def do_malformed(self, req):
        kind = req.q("kind", "nocolon")
        head = {
            "nocolon": b"Content-Type text/plain\r\n\r\n",
            "status": b"Status: abc\r\nContent-Type: text/plain\r\n\r\n",
            "nohead": b"X-Only: this\r\n\r\n",
            "ctl": b"Content-Type: text/plain\r\nX-Bad: a\x01b\r\n\r\n",
            "space": b"Content-Type: text/plain\r\nBad Name: v\r\n\r\n",
            "eof": b"Content-Type: text/plain\r\nX-No-End: 1\r\n",
        }[kind]
        self.stdout(head + (b"" if kind == "eof" else b"body\n"))
        self.end()

    def do_bighead(self, req):
        n = req.qi("bytes", 100000)
        lines = []
        size = 0
        k = 0
        while size < n:
            line = b"X-Pad-%d: %s\r\n" % (k, b"p" * 1000)
            lines.append(line)
            size += len(line)
            k += 1
        self.stdout(b"Content-Type: text/plain\r\n" + b"".join(lines) + b"\r\nbig head body\n")
        self.end()

    def do_close(self, req):
        if req.q("head") == "0":
            return False
        total = req.qi("total", 1 << 20)
        n = req.qi("bytes", 100000)
        head = b"Content-Type: application/octet-stream\r\n"
        if req.q("cl") == "1":
            head += b"Content-Length: %d\r\n" % total
        self.stdout(head + b"\r\n")
        if req.q("pause"):  # the head goes out on its own first
            self.flush()
            if self.app._stopping.wait(float(req.q("pause"))):
                return False
        for c in gen_chunks(n):
            self.stdout(c)
        self.flush()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return False

    def do_overloaded(self, req):
        self.send(record(END_REQUEST, req.id, struct.pack(">IB3x", 0, OVERLOADED)))

    def _noread(self, req):
        """Read nothing more (STDIN stays unread) for secs=S, then close."""
        self.app._request_done(req)
        self.app._stopping.wait(float(req.q("secs", "5")))


class FcgiApp:
    """The application, served from background threads."""

    def __init__(self, address, write_timeout=30.0, max_conns=0):
        self.requested = address
        self.write_timeout = write_timeout
        # like php-fpm's pm.max_children: with max_conns > 0, at most that many
        # connections are served at once, the others wait in the listen queue
        self.max_conns = max_conns
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._conns = set()
        self._threads = []
        self.accepts = 0
        self.closes = 0
        self.requests = []   # Request objects whose params arrived (dicts of params)
        self.done = []       # Request objects whose STDIN ended (answered)
        self.aborts = []     # (path, how)
        self.errors = []     # protocol violations by the web server
        self.address = None
        self.sock_path = None

    def start(self):
        a = self.requested
        if a.startswith("unix:"):
            self.sock_path = a[5:]
            try:
                os.unlink(self.sock_path)
            except FileNotFoundError:
                pass
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(self.sock_path)
            os.chmod(self.sock_path, 0o666)
            self.address = a
        else:
            host, _, port = a.rpartition(":")
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, int(port)))
            self.address = "%s:%d" % (host, s.getsockname()[1])
        s.listen(128)
        self._listener = s
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def _accept_loop(self):
        while not self._stopping.is_set():
            if self.max_conns:
                with self._lock:
                    full = len(self._conns) >= self.max_conns
                if full:
                    time.sleep(0.01)
                    continue
            r, _, _ = select.select([self._listener], [], [], 0.1)
            if not r:
                continue
            try:
                c, _ = self._listener.accept()
            except OSError:
                continue
            with self._lock:
                self.accepts += 1
                conn = Conn(self, c, self.accepts)
                self._conns.add(conn)
            t = threading.Thread(target=conn.serve, daemon=True)
            t.start()
            with self._lock:
                self._threads = [x for x in self._threads if x.is_alive()] + [t]

    # ---- bookkeeping (called from connection threads)

    def _error(self, msg):
        with self._lock:
            self.errors.append(msg)

    def _params_seen(self, req):
        with self._lock:
            self.requests.append(req)

    def _request_done(self, req):
        with self._lock:
            self.done.append(req)

    def _abort(self, req, how):
        with self._lock:
            self.aborts.append((req.params.get("REQUEST_URI", ""), how))

    def _closed(self, conn):
        with self._lock:
            self.closes += 1
            self._conns.discard(conn)

    # ---- for the tests

    def stats(self):
        with self._lock:
            return {
                "accepts": self.accepts,
                "closes": self.closes,
                "open": len(self._conns),
                "requests": [r.params.get("REQUEST_URI", "") for r in self.requests],
                "aborts": list(self.aborts),
                "errors": list(self.errors),
            }

    def uris(self):
        with self._lock:
            return [r.params.get("REQUEST_URI", "") for r in self.requests]

    def drop_idle(self):
        """Close every connection that has no request open (a backend
        restarting, or closing pooled connections on its own)."""
        with self._lock:
            idle = [c for c in self._conns if c.req is None]
        for c in idle:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(idle)

    def stop(self):
        self._stopping.set()
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in list(self._threads):
            t.join(5)
        if self.sock_path:
            try:
                os.unlink(self.sock_path)
            except FileNotFoundError:
                pass


# ---------------------------------------------------------------------------
# A minimal client (for self-tests, and for talking to php-fpm directly)


def connect(address, timeout=10.0):
    if address.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(address[5:])
        return s
    host, _, port = address.rpartition(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def client_request(sock, params, body=b"", request_id=1, keep_conn=False, split=None):
    """Send one request on sock and read the answer: returns
    (stdout bytes, stderr bytes, app_status, protocol_status). split, when
    given, sends the request's bytes in pieces of that size."""
    out = record(BEGIN_REQUEST, request_id, struct.pack(">HB5x", RESPONDER, KEEP_CONN if keep_conn else 0))
    out += records(PARAMS, request_id, nv_encode(params)) + record(PARAMS, request_id)
    out += records(STDIN, request_id, body) + record(STDIN, request_id)
    if split:
        for i in range(0, len(out), split):
            sock.sendall(out[i:i + split])
    else:
        sock.sendall(out)
    buf = bytearray()
    stdout = bytearray()
    stderr = bytearray()
    while True:
        while len(buf) < 8:
            b = sock.recv(262144)
            if not b:
                raise EOFError("connection closed before END_REQUEST")
            buf += b
        version, rtype, rid, clen, plen = struct.unpack(">BBHHBx", buf[:8])
        if version != VERSION:
            raise ProtocolError("version %d" % version)
        while len(buf) < 8 + clen + plen:
            b = sock.recv(262144)
            if not b:
                raise EOFError("connection closed inside a record")
            buf += b
        content = bytes(buf[8:8 + clen])
        del buf[:8 + clen + plen]
        if rid != request_id:
            raise ProtocolError("record for request %d" % rid)
        if rtype == STDOUT:
            stdout += content
        elif rtype == STDERR:
            stderr += content
        elif rtype == END_REQUEST:
            app_status, proto = struct.unpack(">IB3x", content)
            return bytes(stdout), bytes(stderr), app_status, proto
        else:
            raise ProtocolError("record type %d" % rtype)


def self_test(address=None):
    """Talk to the application with the client above; raises on failure."""
    import tempfile
    d = None
    if address is None:
        d = tempfile.mkdtemp(prefix="fcgi-app-")
        address = "unix:" + os.path.join(d, "app.sock")
    app = FcgiApp(address).start()
    try:
        s = connect(app.address)
        body = os.urandom(200000)
        params = [("SCRIPT_NAME", "/echo.fcgi"), ("QUERY_STRING", "a=1"), ("REQUEST_URI", "/echo.fcgi?a=1"),
                  ("LONG", "v" * 300)]
        for rid in (1, 2, 3):
            out, err, st, proto = client_request(s, params, body, request_id=rid, keep_conn=True, split=7 if rid == 2 else None)
            head, doc = out.split(b"\r\n\r\n", 1)
            doc = json.loads(doc)
            assert doc["body_sha256"] == hashlib.sha256(body).hexdigest(), doc
            assert doc["body_length"] == len(body)
            assert doc["params"]["LONG"] == "v" * 300
            assert doc["keep_conn"] is True and doc["conn"] == 1
            assert (st, proto) == (0, 0)
        out, _, _, _ = client_request(s, [("SCRIPT_NAME", "/gen.fcgi"), ("QUERY_STRING", "bytes=300000&rec=1000")],
                                      keep_conn=True)
        head, data = out.split(b"\r\n\r\n", 1)
        assert hashlib.sha256(data).hexdigest() == gen_sha256(300000)
        out, err, _, _ = client_request(s, [("SCRIPT_NAME", "/stderr.fcgi"), ("QUERY_STRING", "bytes=200000")])
        assert len(err) == 200000 and err.startswith(b"STDERR-MARKER 0 "), len(err)
        assert s.recv(10) == b"", "no keep_conn: the application closes"
        s.close()
        s = connect(app.address)
        out, _, _, _ = client_request(s, [("SCRIPT_NAME", "/status.fcgi"),
                                          ("QUERY_STRING", "code=404&reason=Nope&h=X-A:+1&h=X-B:+2")])
        assert out.startswith(b"Status: 404 Nope\r\nX-A: 1\r\nX-B: 2\r\n"), out
        s.close()
        s = connect(app.address)
        s.sendall(record(BEGIN_REQUEST, 1, struct.pack(">HB5x", RESPONDER, 0)) +
                  record(PARAMS, 1, nv_encode([("SCRIPT_NAME", "/gen.fcgi"), ("QUERY_STRING", "bytes=100000000")])) +
                  record(PARAMS, 1) + record(STDIN, 1))
        s.recv(1000)
        s.sendall(record(ABORT_REQUEST, 1))
        deadline = time.monotonic() + 5
        while not app.aborts and time.monotonic() < deadline:
            s.recv(1 << 20)
        assert app.aborts and "ABORT_REQUEST" in app.aborts[0][1], app.aborts
        s.close()
        assert app.errors == [], app.errors
        assert app.accepts == 3, app.accepts
    finally:
        app.stop()
        if d:
            os.rmdir(d)


def main(argv):
    if argv[1:2] == ["--self-test"]:
        self_test()
        print("fcgi_app self-test passed")
        return 0
    if len(argv) != 2:
        print("usage: fcgi_app.py unix:/path/app.sock | HOST:PORT | --self-test", file=sys.stderr)
        return 2
    import signal
    app = FcgiApp(argv[1]).start()
    print("listening on %s" % app.address, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    while not stop.wait(1):
        pass
    app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
