"""Write small PDFs for tests, from text: good, encrypted, image-only, truncated, corrupt. No binary blobs."""
from __future__ import annotations

import io
import zlib
from pathlib import Path


MISSING_OBJECT = 99999  # an object number no fixture file holds


def _escape(text: str) -> str:
    text = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return "".join(f"\\{ord(c):03o}" if ord(c) < 32 else c for c in text)  # control bytes as octal escapes


def pdf_bytes(pages: list[list[str]], image_only: bool = False, broken: dict[int, str] | None = None) -> bytes:
    """A PDF with one page per list of lines (Helvetica 11pt), or a page with only an image.

    `broken` maps 1-based page numbers to a fault: "missing-object" (the page's content is a
    reference to an object the file does not hold) or "bad-filter" (its content stream claims a
    compression filter no reader knows)."""
    broken = broken or {}
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_obj = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for page_number, lines in enumerate(pages, start=1):
        if image_only:
            pixels = zlib.compress(bytes([128]) * 64 * 64)
            image = add(b"<< /Type /XObject /Subtype /Image /Width 64 /Height 64 /ColorSpace /DeviceGray "
                        b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n" % len(pixels)
                        + pixels + b"\nendstream")
            stream = b"q 400 0 0 400 100 300 cm /Im1 Do Q"
            resources = b"<< /XObject << /Im1 %d 0 R >> >>" % image
        else:
            ops = ["BT /F1 11 Tf 14 TL 56 790 Td"]
            ops += [f"({_escape(line)}) Tj T*" for line in lines]
            ops.append("ET")
            stream = "\n".join(ops).encode("cp1252", errors="replace")
            resources = b"<< /Font << /F1 %d 0 R >> >>" % font
        fault = broken.get(page_number)
        extra = b" /Filter /NoSuchFilter" if fault == "bad-filter" else b""
        content = add(b"<< /Length %d%s >>\nstream\n" % (len(stream), extra) + stream + b"\nendstream")
        if fault == "missing-object":
            content = MISSING_OBJECT
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources %s /Contents %d 0 R >>"
                        % (pages_obj, resources, content)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    objects[pages_obj - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref))
    return out.getvalue()


def write_pdf(path: Path, pages: list[list[str]]) -> Path:
    path.write_bytes(pdf_bytes(pages))
    return path


def write_encrypted_pdf(path: Path, pages: list[list[str]], user_password: str = "secret") -> Path:
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(pdf_bytes(pages)))
    writer = pypdf.PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def write_image_only_pdf(path: Path, n_pages: int = 2) -> Path:
    path.write_bytes(pdf_bytes([[]] * n_pages, image_only=True))
    return path


def write_truncated_pdf(path: Path, pages: list[list[str]]) -> Path:
    data = pdf_bytes(pages)
    path.write_bytes(data[: len(data) // 3])
    return path


def report_pages(title: str, bodies: list[list[str]]) -> list[list[str]]:
    """Pages with a running header (title) and a 'Page N of M' line, like the shipped corpus."""
    total = len(bodies)
    return [[title, f"Page {n} of {total}", *body] for n, body in enumerate(bodies, start=1)]


def first_pages(source: Path, target: Path, count: int) -> Path:
    """Write the first count pages of the PDF at source to target (a slice of a shipped report)."""
    import pypdf

    writer = pypdf.PdfWriter()
    for page in pypdf.PdfReader(source).pages[:count]:
        writer.add_page(page)
    with target.open("wb") as fh:
        writer.write(fh)
    return target
