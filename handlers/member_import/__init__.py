"""Moving members in from another membership system, from a CSV file.

- `rows`: the file's columns and the checks of each row, with the problem codes;
- `reading`: the file read in chunks (encoding, SHA-256, rows with their line numbers);
- `apply`: the import itself, batch by batch, idempotent and resumable, audited once;
- `report`: the import's record and its refused rows as CSV.

A member moved in has no WeChat identity until they open a card in the mini-program with the
same phone number: `handlers.members.claims` then attaches their WeChat identity to this member.
"""

from handlers.member_import.apply import import_members
from handlers.member_import.reading import Source, decode, source_from_path, source_from_text
from handlers.member_import.report import (
    HEADINGS,
    get_import,
    import_view,
    list_imports,
    problems_csv,
    write_problems,
)

__all__ = [
    "HEADINGS",
    "Source",
    "decode",
    "get_import",
    "import_members",
    "import_view",
    "list_imports",
    "problems_csv",
    "source_from_path",
    "source_from_text",
    "write_problems",
]
