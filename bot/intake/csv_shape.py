"""How a CSV file is written: its encoding and its delimiter, read from the file itself.

Excel saves "CSV" as Windows-1252 in most Western locales, as UTF-8 with a byte-order mark
("CSV UTF-8"), or as UTF-16 with tabs ("Unicode Text"); where the decimal separator is a comma
(Germany, France, Brazil…) its list separator is `;`. CRM exports are UTF-8 with commas.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

DELIMITERS = (",", ";", "\t")
NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
CHUNK = 1 << 20


@dataclass(frozen=True)
class CsvShape:
    encoding: str  # a Python codec name: utf-8-sig, utf-16, cp1252 or latin-1
    delimiter: str
    # "surrogateescape": a UTF-8 file with a few stray bytes, each kept as a lone surrogate
    # (\udc80-\udcff) so its row is rejected and written back to the rejects file byte for byte
    errors: str = "strict"

    def describe(self) -> str:
        """ "UTF-8, comma-separated": for the import's summary."""
        label = {"utf-8-sig": "UTF-8", "utf-16": "UTF-16", "cp1252": "Windows-1252 (cp1252)",
                 "latin-1": "Latin-1"}[self.encoding]  # fmt: skip
        return f"{label}, {NAMES[self.delimiter]}-separated"

    @property
    def usual(self) -> bool:
        return self.encoding == "utf-8-sig" and self.delimiter == ","


def sniff(path: Path) -> CsvShape:
    encoding, errors = _encoding(path)
    with path.open(encoding=encoding, errors=errors, newline="") as handle:
        header = handle.readline()
    return CsvShape(encoding, delimiter_of(header), errors)


def _encoding(path: Path) -> tuple[str, str]:
    """(codec, errors), from the evidence of the whole file. A byte-order mark decides. A file
    that is UTF-8 throughout, or UTF-8 whose non-ASCII text is mostly valid UTF-8 with a few
    stray bytes (their rows are rejected, the others read right), is UTF-8; otherwise cp1252
    where it decodes (Excel's Western "CSV"), else latin-1 (which decodes anything)."""
    with path.open("rb") as handle:
        start = handle.read(4)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "strict"
    if _decodes(path, "utf-8-sig"):
        return "utf-8-sig", "strict"
    valid, stray = _utf8_evidence(path)
    if valid > stray:
        return "utf-8-sig", "surrogateescape"
    return ("cp1252" if _decodes(path, "cp1252") else "latin-1"), "strict"


def _utf8_evidence(path: Path) -> tuple[int, int]:
    """(non-ASCII characters that are valid UTF-8, bytes that are not)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    valid = stray = 0
    with path.open("rb") as handle:
        for chunk in [*iter(lambda: handle.read(CHUNK), b""), b""]:
            text = decoder.decode(chunk, final=not chunk)
            escaped = len(_STRAY.findall(text))
            stray += escaped
            valid += len(text) - len(text.encode("ascii", "ignore")) - escaped
    return valid, stray


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


def undecodable(cells: list[str]) -> str | None:
    """The first stray byte of a row read with "surrogateescape", as `0xFF`; None if none."""
    for cell in cells:
        if found := _STRAY.search(cell):
            return f"0x{ord(found.group()) - 0xDC00:02X}"
    return None


_STRAY = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, as surrogateescape keeps it


def delimiter_of(header: str) -> str:
    """The candidate that splits the header line most often, quoted names aside (a header of
    one column: a comma)."""
    unquoted = "".join(part for n, part in enumerate(header.split('"')) if n % 2 == 0)
    counts = {delimiter: unquoted.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","
