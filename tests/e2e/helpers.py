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


def pdf_with_text(text, pages=1):
    """A PDF of `pages` pages, each showing `text` and its number (ASCII)."""
    # Objects: 1 catalog, 2 pages, 3 font, then a page and its content
    # stream for each page.
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i in range(pages):
        stream = f"BT /F1 24 Tf 72 720 Td ({text} {i + 1}) Tj ET".encode()
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {5 + 2 * i} 0 R "
                       "/Resources << /Font << /F1 3 0 R >> >> >>".encode())
        objects.append(b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream")
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


def network_sockets_of(roots, allow_automation=True):
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
    allowed = ({automation_port(pid) for pid in roots} - {None}) if allow_automation else set()
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


def web_processes(roots):
    """The WebKit web processes among the descendants of `roots`."""
    found, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        kids = _children(pid)
        todo += kids
        for k in kids:
            try:
                if pathlib.Path(f"/proc/{k}/comm").read_text().strip().startswith("WebKitWebProces"):
                    found.append(k)
            except OSError:
                pass
    return found


def confinement(app_pid, web_pid, secret_dir):
    """How a web process is confined next to the app: which namespaces it
    does not share with the app, and whether it can see `secret_dir`
    (looked at through its own root, /proc/PID/root)."""
    apart = []
    for ns in ("user", "pid", "net", "mnt", "ipc"):
        try:
            if os.readlink(f"/proc/{web_pid}/ns/{ns}") != os.readlink(f"/proc/{app_pid}/ns/{ns}"):
                apart.append(ns)
        except OSError:
            pass
    try:
        sees = os.path.exists(f"/proc/{web_pid}/root{os.path.realpath(secret_dir)}")
    except OSError:
        sees = False
    return apart, sees


def clipboard():
    """What the X clipboard and primary selection offer: {selection: [targets]}."""
    import subprocess
    offered = {}
    for sel in ("clipboard", "primary"):
        r = subprocess.run(["xclip", "-o", "-selection", sel, "-t", "TARGETS"],
                           capture_output=True, timeout=10)
        offered[sel] = r.stdout.decode(errors="replace").split() if r.returncode == 0 else []
    return offered


def files_with(data, roots, since):
    """Files under `roots` changed after `since` (a time.time()) that hold
    `data` or are exactly it."""
    hits = []
    for root in roots:
        for p in pathlib.Path(root).rglob("*"):
            try:
                if p.is_file() and not p.is_symlink() and p.stat().st_mtime >= since:
                    body = p.read_bytes()
                    if data in body:
                        hits.append(str(p))
            except OSError:
                pass
    return hits


def _xdotool(*args):
    import subprocess
    return subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=10).stdout


def visible_windows():
    """The X windows on screen now (a popup menu would be one more)."""
    return _xdotool("search", "--onlyvisible", "--name", "").split()


def x_click(title, x, y, button):
    """A real click of the X server (xdotool) at (x, y) inside the visible
    window whose title contains `title`: it goes through GTK and WebKit as
    a person's would. (WebDriver's own right-click leaves its keyboard
    broken for the rest of the session.)"""
    def area(wid):
        geometry = _xdotool("getwindowgeometry", wid)
        w, h = geometry.split("Geometry:")[1].split()[0].split("x")
        return int(w) * int(h)
    window = max(_xdotool("search", "--onlyvisible", "--name", title).split(), key=area)
    _xdotool("mousemove", "--window", window, str(x), str(y), "click", str(button))
