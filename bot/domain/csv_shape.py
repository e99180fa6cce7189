"""How a CSV file is written: its encoding and its delimiter, read from the file itself.

Excel saves "CSV" as Windows-1252 in most Western locales, as UTF-8 with a byte-order mark
("CSV UTF-8"), or as UTF-16 with tabs ("Unicode Text"); where the decimal separator is a comma
(Germany, France, Brazil…) its list separator is `;`. CRM exports are UTF-8 with commas.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

DELIMITERS = (",", ";", "\t")
NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
CHUNK = 1 << 20


@dataclass(frozen=True)
class CsvShape:
    encoding: str  # a Python codec name: utf-8-sig, utf-16, cp1252 or latin-1
    delimiter: str

    def describe(self) -> str:
        """ "UTF-8, comma-separated": for the import's summary."""
        label = {"utf-8-sig": "UTF-8", "utf-16": "UTF-16", "cp1252": "Windows-1252 (cp1252)",
                 "latin-1": "Latin-1"}[self.encoding]  # fmt: skip
        return f"{label}, {NAMES[self.delimiter]}-separated"

    @property
    def usual(self) -> bool:
        return self.encoding == "utf-8-sig" and self.delimiter == ","


def sniff(path: Path) -> CsvShape:
    encoding = _encoding(path)
    with path.open(encoding=encoding, newline="") as handle:
        header = handle.readline()
    return CsvShape(encoding, delimiter_of(header))


def _encoding(path: Path) -> str:
    """A byte-order mark decides; otherwise the first of UTF-8 and cp1252 that decodes the
    whole file (latin-1 decodes anything: the five bytes cp1252 leaves undefined)."""
    with path.open("rb") as handle:
        start = handle.read(4)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8-sig", "cp1252"):
        if _decodes(path, encoding):
            return encoding
    return "latin-1"


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def delimiter_of(header: str) -> str:
    """The candidate that splits the header line most often, quoted names aside (a header of
    one column: a comma)."""
    unquoted = "".join(part for n, part in enumerate(header.split('"')) if n % 2 == 0)
    counts = {delimiter: unquoted.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","
