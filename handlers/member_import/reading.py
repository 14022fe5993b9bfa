"""Reading an import file without holding it: its encoding, its fingerprint, its rows.

UTF-8 (with or without a byte-order mark, as spreadsheets write it) or else GB18030. The file
is read twice in chunks, once to tell the encoding and compute its SHA-256 (the same file
imported again resumes an unfinished import), once row by row while importing; memory stays
bounded by the batch, whatever the file's size.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from wxmember.core.errors import CsvTooLarge, ValidationFailed

CHUNK = 1 << 16
# An upload through the API or the console (bounded by `server.max_body_bytes` as well);
# larger files go through `wxmember import-members`, read from disk.
UPLOAD_MAX_CHARS = 4_000_000
ENCODINGS = ("utf-8-sig", "gb18030")


@dataclass(frozen=True)
class Source:
    """A file to import: where its text comes from and its fingerprint."""

    sha256: str
    filename: str
    path: Path | None = None
    encoding: str = "utf-8-sig"
    text: str | None = None

    def lines(self) -> Iterator[str]:
        """The file's text, line by line (newlines kept, for the CSV reader)."""
        if self.text is not None:
            yield from io.StringIO(self.text, newline="")
            return
        assert self.path is not None
        with self.path.open(encoding=self.encoding, newline="") as handle:
            yield from handle


def _unreadable(what: str = "text") -> ValidationFailed:
    return ValidationFailed(f"The file is not {what}.", code="csv_unreadable")


def source_from_text(text: str, filename: str = "") -> Source:
    """An uploaded file already decoded to text; 413 `csv_too_large` past UPLOAD_MAX_CHARS."""
    if len(text) > UPLOAD_MAX_CHARS:
        raise CsvTooLarge("Import a file this large with `wxmember import-members`.")
    text = text.removeprefix("\ufeff")
    if "\x00" in text:  # a spreadsheet's own format (xlsx), not text saved as CSV
        raise _unreadable("CSV")
    return Source(hashlib.sha256(text.encode()).hexdigest(), filename, text=text)


def decode(content: bytes) -> str:
    """An uploaded file's text: UTF-8 (with or without a byte-order mark), else GB18030."""
    if len(content) > UPLOAD_MAX_CHARS * 4:
        raise CsvTooLarge("Import a file this large with `wxmember import-members`.")
    for encoding in ENCODINGS:
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _unreadable()


def source_from_path(path: Path) -> Source:
    """A file on disk: its encoding and fingerprint found in one chunked pass."""
    for encoding in ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        digest = hashlib.sha256()
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    text = decoder.decode(chunk)
                    if "\x00" in text:
                        raise _unreadable("CSV")
                    digest.update(text.encode())
                digest.update(decoder.decode(b"", final=True).encode())
        except UnicodeDecodeError:
            continue
        return Source(digest.hexdigest(), path.name, path=path, encoding=encoding)
    raise _unreadable()


def rows_of(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank row with its line number in the file (a quoted cell may span lines)."""
    reader = csv.reader(lines)
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield reader.line_num, row
    except csv.Error:
        raise _unreadable("CSV") from None
