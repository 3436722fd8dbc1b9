"""The corpus metadata file (`reports.toml`): title, council, body, date per report file."""
from __future__ import annotations

import tomllib
from pathlib import Path

from ingest.model import ReportMeta

METADATA_FILE = "reports.toml"


class MetadataError(Exception):
    pass


def load_metadata(path: Path) -> dict[str, ReportMeta]:
    """Metadata keyed by file name; an absent file means no metadata."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MetadataError(f"{path}: not valid TOML ({exc})") from exc
    reports: dict[str, ReportMeta] = {}
    fields = set(ReportMeta.__dataclass_fields__)
    for entry in data.get("report", []):
        if "file" not in entry or "title" not in entry:
            raise MetadataError(f"{path}: every [[report]] needs `file` and `title`")
        reports[entry["file"]] = ReportMeta(**{k: str(v) for k, v in entry.items() if k in fields},
                                            **({} if "council" in entry else {"council": ""}))
    return reports


def default_meta(path: Path, pdf_title: str = "") -> ReportMeta:
    """What we can say about a file the metadata file does not describe."""
    title = pdf_title.strip() or path.stem.replace("-", " ").replace("_", " ").strip()
    return ReportMeta(file=path.name, title=title, council="")
