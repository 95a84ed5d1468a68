"""What the end-to-end scenario needs besides the driver: one-time codes
as an authenticator app computes them (RFC 6238 over the standard
library's HMAC), and small real files to receive."""

import base64
import hashlib
import hmac
import os
import pathlib
import struct
import time


def totp(secret_base32, step):
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{code % 1_000_000:06d}"


class Authenticator:
    """Hands out each person's code, never the same step twice (the vault
    refuses a replayed code), waiting for the next step when needed."""

    def __init__(self):
        self.secrets = {}
        self.used = {}

    def code(self, person):
        step = int(time.time()) // 30
        while step <= self.used.get(person, -1):
            time.sleep(1)
            step = int(time.time()) // 30
        self.used[person] = step
        return totp(self.secrets[person], step)


def pdf_with_text(text):
    """A one-page PDF whose content stream shows `text` (ASCII)."""
    stream = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def png_with_stripes(width=160, height=90):
    """A small RGB PNG: dark and light stripes (zlib and the PNG chunk
    layout from the standard library's view of the format)."""
    import zlib

    rows = b"".join(
        b"\x00" + b"".join(b"\x20\x20\x20" if (x // 10) % 2 == 0 else b"\xf0\xf0\xf0" for x in range(width))
        for _ in range(height)
    )

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _inet_table():
    """Every IPv4/IPv6 socket in this namespace, by inode:
    (protocol, local address, local port, remote address, remote port, state)."""
    sockets = {}
    for proto in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6"):
        try:
            lines = pathlib.Path(f"/proc/net/{proto}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 9:
                (la, lp), (ra, rp) = (x.split(":") for x in (f[1], f[2]))
                sockets[f[9]] = (proto, la, int(lp, 16), ra, int(rp, 16), f[3])
    return sockets


def _loopback(addr):
    if len(addr) == 8:  # IPv4, little-endian: 127.x.x.x ends in 7F
        return addr.endswith("7F")
    return addr in ("00000000000000000000000001000000",) or (
        addr.startswith("0000000000000000FFFF0000") and addr.endswith("7F"))


def _children(pid):
    kids = []
    for task in pathlib.Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def _socket_inodes(pid):
    out = []
    try:
        for fd in pathlib.Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                out.append(target[8:-1])
    except OSError:
        pass
    return out


def automation_port(pid):
    """The port of WebKit's automation (inspector) server, if WebKitWebDriver
    asked this process for one (WEBKIT_INSPECTOR_SERVER=127.0.0.1:PORT)."""
    try:
        env = pathlib.Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for var in env:
        name, _, value = var.partition(b"=")
        if name in (b"WEBKIT_INSPECTOR_SERVER", b"WEBKIT_INSPECTOR_HTTP_SERVER"):
            return int(value.rpartition(b":")[2])
    return None


def app_pids(app):
    """Every process running `app` (by its executable)."""
    app = os.path.realpath(app)
    found = []
    for proc in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            if os.path.realpath(proc / "exe") == app:
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def network_sockets_of(roots):
    """The IPv4/IPv6 sockets held by the processes `roots` and all their
    descendants: [(pid, name, socket)], and the pids looked at. The one
    exception is WebKit's automation server and its connections, on
    loopback, at the port WebKitWebDriver asked for in the environment:
    it exists only while a driver drives the window."""
    pids, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo += _children(pid)
    allowed = {automation_port(pid) for pid in roots} - {None}
    table = _inet_table()
    held = []
    for pid in pids:
        try:
            name = pathlib.Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        for inode in _socket_inodes(pid):
            sock = table.get(inode)
            if sock is None:
                continue
            proto, la, lp, ra, rp, _ = sock
            automation = (proto.startswith("tcp") and _loopback(la)
                          and (lp in allowed or rp in allowed))
            if not automation:
                held.append((pid, name, sock))
    return held, pids
