"""Output framing (V.250 §5.7.1, CLARIFICATIONS §2).

Every information line, final result code and URC is sent as ``\\r\\n<text>\\r\\n``.
"""

from __future__ import annotations

CRLF = b"\r\n"
OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
#: The data-mode prompt of §2.3.4, with its space (CLARIFICATIONS §14).
PROMPT = b"\r\n> "


def line(text: str | bytes) -> bytes:
    """One framed line: ``\\r\\n<text>\\r\\n``."""
    body = text.encode("latin-1") if isinstance(text, str) else text
    return CRLF + body + CRLF
