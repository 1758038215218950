"""Development and test stand-in for a ClickHouse server: chDB behind ClickHouse's HTTP interface.

NOT FOR PRODUCTION. earshot talks to a real ClickHouse server in production; this adapter
exists because no modern ClickHouse server binary can be installed on the project's machines,
while the ClickHouse engine itself can (PyPI `chdb`). It speaks the subset of the HTTP
interface that clickhouse-go/v2 uses with Protocol: clickhouse.HTTP:

- GET /ping and GET / answer "Ok.".
- POST / runs one statement: the URL parameter `query` followed by the body (ClickHouse's own
  rule). For `INSERT ... FORMAT <fmt>` in the URL, the body is the data; it may be chunked.
- URL parameters: `database`, `default_format` (output format when the SQL has none),
  `param_<name>` for `{name:Type}` placeholders, any other unknown key is a setting applied with
  SET for that one request (and restored after). Client bookkeeping keys are ignored.
- The hello query of clickhouse-go is answered at the client's protocol revision with
  revision() = 0, so every later reply is plain Native, which is what chDB emits.
- Errors: HTTP 500 (or 404 for unknown tables/databases, 400 for syntax errors, as ClickHouse
  does), header X-ClickHouse-Exception-Code, body "Code: N. DB::Exception: ...".

chDB runs one engine per process and per data directory, so every call holds one lock.
"""

import argparse
import os
import re
import signal
import struct
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

from chdb import session as chdb_session

HELLO = "SELECT displayName(), version(), revision(), timezone()"

# URL parameters that are client bookkeeping, not settings.
IGNORED_PARAMS = {
    "query", "database", "default_format", "query_id", "client_protocol_version",
    "session_id", "session_timeout", "session_check", "quota_key", "user", "password",
    "compress", "decompress", "enable_http_compression", "wait_end_of_query",
    "buffer_size", "max_result_rows",
}

INSERT_DATA_RE = re.compile(r"^\s*INSERT\s+INTO\s+(.+?)\s+FORMAT\s+(\w+)\s*$", re.IGNORECASE | re.DOTALL)
CODE_RE = re.compile(r"Code:\s*(\d+)\.")
SETTING_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# ClickHouse's own HTTP status for a few common error codes (others are 500).
STATUS_BY_CODE = {60: 404, 81: 404, 62: 400, 47: 400, 46: 400, 36: 400, 53: 400, 27: 400, 117: 400}


def uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def native_string(s):
    data = s.encode()
    return uvarint(len(data)) + data


def hello_block(display_name, version, tz):
    """One row (displayName, version, revision=0, timezone) encoded at a protocol revision with
    block info and per-column custom-serialization flags, as clickhouse-go decodes the hello."""
    out = bytearray()
    # Block info: field 1 is_overflows=false, field 2 bucket_num=-1, end marker 0.
    out += uvarint(1) + b"\x00" + uvarint(2) + struct.pack("<i", -1) + uvarint(0)
    out += uvarint(4) + uvarint(1)  # columns, rows
    for name, typ, value in (
        ("displayName()", "String", native_string(display_name)),
        ("version()", "String", native_string(version)),
        ("revision()", "UInt32", struct.pack("<I", 0)),
        ("timezone()", "String", native_string(tz)),
    ):
        out += native_string(name) + native_string(typ) + b"\x00" + value
    return bytes(out)


class Engine:
    """The one chDB session of this process; every call holds the lock."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.session = chdb_session.Session(path)
        self.tmpdir = os.path.join(path, "tmp-inserts")
        os.makedirs(self.tmpdir, exist_ok=True)
        row = self._query_text("SELECT displayName(), version(), timezone()").strip().split("\t")
        self.display_name, self.version, self.timezone = row[0], row[1], row[2]
        self.current_db = "default"

    def _query_text(self, sql):
        return self.session.query(sql, "TabSeparated").bytes().decode()

    def run(self, sql, fmt, database, settings, params, data=None):
        with self.lock:
            if database and database != self.current_db:
                self.session.query("USE " + quote_ident(database))
                self.current_db = database
            restore = []
            try:
                for name, value in settings.items():
                    old = self._query_text(
                        "SELECT value FROM system.settings WHERE name = '%s'" % name).strip()
                    self.session.query("SET %s = %s" % (name, quote_value(value)))
                    restore.append((name, old))
                if data is not None:
                    return self._insert(sql, data, fmt)
                return self.session.query(sql, fmt, params=params or None).bytes()
            finally:
                for name, old in restore:
                    self.session.query("SET %s = %s" % (name, quote_value(old)))

    def _insert(self, target_and_format, data, _fmt):
        target, in_fmt = target_and_format
        fd, path = tempfile.mkstemp(dir=self.tmpdir, suffix=".bin")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            if data:
                self.session.query("INSERT INTO %s FROM INFILE '%s' FORMAT %s" % (target, path, in_fmt))
            return b""
        finally:
            os.unlink(path)


def quote_ident(name):
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_value(value):
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    engine = None  # set by main

    def log_message(self, fmt, *args):  # quiet: tests produce thousands of requests
        pass

    def do_GET(self):
        url = urlparse(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        if url.path in ("/ping", "/") and "query" not in params:
            self._reply(200, b"Ok.\n", "text/plain; charset=UTF-8")
            return
        self._execute(params, b"")

    def do_POST(self):
        url = urlparse(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        self._execute(params, self._read_body())

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _execute(self, params, body):
        engine = self.engine
        url_query = params.get("query", "")
        fmt = params.get("default_format") or "TabSeparated"
        database = params.get("database") or "default"
        query_params = {k[len("param_"):]: v for k, v in params.items() if k.startswith("param_")}
        settings = {k: v for k, v in params.items()
                    if k not in IGNORED_PARAMS and not k.startswith("param_") and SETTING_NAME_RE.match(k)}
        try:
            m = INSERT_DATA_RE.match(url_query) if url_query else None
            if m:
                out = engine.run((m.group(1), m.group(2)), fmt, database, settings, query_params, data=body)
            else:
                sql = (url_query + " " + body.decode()).strip() if url_query else body.decode().strip()
                if sql.rstrip(";").strip() == HELLO:
                    out = hello_block(engine.display_name, engine.version, engine.timezone)
                else:
                    out = engine.run(sql, fmt, database, settings, query_params)
        except Exception as exc:  # chDB raises one error type carrying ClickHouse's text
            text = str(exc)
            m = CODE_RE.search(text)
            code = int(m.group(1)) if m else 1001  # 1001 = STD_EXCEPTION in ClickHouse
            if not m:
                text = "Code: 1001. DB::Exception: %s. (STD_EXCEPTION)" % text
            else:
                text = text[m.start():]
            self._reply(STATUS_BY_CODE.get(code, 500), (text + "\n").encode(), "text/plain; charset=UTF-8",
                        {"X-ClickHouse-Exception-Code": str(code)})
            return
        self._reply(200, out, "application/octet-stream", {"X-ClickHouse-Format": fmt})

    def _reply(self, status, body, ctype, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-ClickHouse-Server-Display-Name", "chdb-http-adapter")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


def main():
    ap = argparse.ArgumentParser(description="chDB behind ClickHouse's HTTP interface (dev/test only)")
    ap.add_argument("--listen", default="127.0.0.1:8123")
    ap.add_argument("--data", required=True, help="chDB data directory (persists across restarts)")
    args = ap.parse_args()
    host, port = args.listen.rsplit(":", 1)
    Handler.engine = Engine(os.path.abspath(args.data))
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print("chdb-http: listening on %s, data in %s, engine %s" % (args.listen, args.data, Handler.engine.version),
          file=sys.stderr, flush=True)
    server.serve_forever()
    Handler.engine.session.close()


if __name__ == "__main__":
    main()
