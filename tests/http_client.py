"""The tests' HTTP client for hostile requests.

A body larger than ``LARGE`` is sent as an HTTP/1.1 client should send one: the headers first,
with ``Expect: 100-continue``, and the body only once the server has not refused it. A server
that refuses a body it will not read (413, over its size limit) closes the connection with the
body unread, and the kernel resets it. A client that was still writing the body then sees the
reset instead of the refusal, by chance of timing: urllib did, once, in CI."""
import select
import socket
import urllib.error
import urllib.parse
import urllib.request

LARGE = 64 << 10
REFUSAL_WAIT_S = 5.0  # how long a 100 Continue is watched for a refusal right behind it


def request(url, method="GET", body=None, headers=None, timeout=300):
    """(status, body bytes) of one request; 4xx and 5xx are returned, not raised."""
    headers = dict(headers or {})
    if body is not None and len(body) > LARGE:
        return _expecting_continue(url, method, body, headers, timeout)
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class _Connection:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _more(self) -> bool:
        data = self.sock.recv(1 << 16)
        self.buf += data
        return bool(data)

    def head(self):
        """The next response's status code and lower-cased headers."""
        while b"\r\n\r\n" not in self.buf:
            if not self._more():
                raise ConnectionError(f"connection closed before a response head: {self.buf[:200]!r}")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status, *lines = head.decode("latin-1").split("\r\n")
        fields = dict(line.split(":", 1) for line in lines if ":" in line)
        return int(status.split()[1]), {k.strip().lower(): v.strip() for k, v in fields.items()}

    def body(self, fields) -> bytes:
        length = fields.get("content-length")
        while (length is None or len(self.buf) < int(length)) and self._more():
            pass
        return self.buf if length is None else self.buf[:int(length)]


def _expecting_continue(url, method, body, headers, timeout):
    parts = urllib.parse.urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}",
             "Expect: 100-continue", "Connection: close"] + [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as sock:
        conn = _Connection(sock)
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        code, fields = conn.head()
        if code != 100:
            return code, conn.body(fields)
        # Sanic says 100 Continue before it checks the length, and refuses right behind it
        refused = conn.buf or select.select([sock], [], [], REFUSAL_WAIT_S)[0]
        if not refused:
            try:
                sock.sendall(body)
            except (ConnectionResetError, BrokenPipeError):
                pass  # refused while the body was on its way: the refusal is still to be read
        code, fields = conn.head()
        return code, conn.body(fields)
