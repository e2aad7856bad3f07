"""Where session events come from: a named data set, the synthetic store, or a file.

A file is read by its header (DIGINETICA, RetailRocket ``events.csv``, or a generic event
table, see :func:`storex.data.readers.sessions.read_session_file`); a folder by the layout
the catalog recognises (DIGINETICA or RetailRocket).
"""

from __future__ import annotations

from pathlib import Path

from storex.data.catalog import DATASETS, detect_layout, load_dataset, load_path
from storex.data.readers.sessions import read_session_file
from storex.data.schema import StoreData
from storex.errors import DataError, MissingDataError

SESSION_LAYOUTS = ("diginetica", "retailrocket")


def load_session_source(
    name_or_path: str | Path, *, gap_minutes: float = 30.0, data_dir: Path | None = None
) -> StoreData:
    """Events of a named data set (``diginetica-sample``, ``synthetic``, ...) or a path."""
    text = str(name_or_path)
    if text == "synthetic" or text in DATASETS:
        return load_dataset(text, data_dir=data_dir, session_gap_minutes=gap_minutes)
    path = Path(name_or_path).expanduser()
    if path.is_file():
        data = read_session_file(path, gap_minutes=gap_minutes)
        data.name = dataset_name(path)
        return data
    if path.is_dir():
        layout = detect_layout(path)
        if layout not in SESSION_LAYOUTS:
            raise DataError(
                f"this folder holds {layout} data, not browsing sessions; pass a DIGINETICA "
                "or RetailRocket folder, or a CSV/TSV file of session events",
                path=path,
            )
        data = load_path(path, session_gap_minutes=gap_minutes)
        data.name = dataset_name(path)
        return data
    raise MissingDataError(
        f"{text!r} is neither a known data set nor an existing file or folder; known names: "
        f"{', '.join(DATASETS)}",
    )


def dataset_name(name_or_path: str | Path) -> str:
    """The name results are reported under: the data set name, or the file's stem."""
    text = str(name_or_path)
    if text in DATASETS:
        return text
    path = Path(text)
    return path.name.split(".")[0] if path.suffix else path.name
