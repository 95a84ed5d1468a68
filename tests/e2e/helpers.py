"""What the end-to-end scenario needs besides the driver: one-time codes
as an authenticator app computes them (RFC 6238 over the standard
library's HMAC), and small real files to receive."""

import base64
import hashlib
import hmac
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
