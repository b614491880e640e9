"""Reading a SEER*Stat case-listing export (CSV/TXT, gzip or not) as text, exactly as written.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from micromet.errors import InputError
from micromet.seer.dic import Dictionary, find_dic, read_dic
from micromet.seer.schema import ALIASES, GRADE_VARIABLES, REQUIRED_COLUMNS

_GZIP_MAGIC = b"\x1f\x8b"


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == _GZIP_MAGIC


def _open_text(path: Path, gz: bool) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if gz else open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")


def _first_record(path: Path, gz: bool, delimiter: str) -> tuple[list[str] | None, int]:
    """The fields of the first non-blank line and its 1-based line number (None if no line)."""
    with _open_text(path, gz) as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                fields = next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter,
                                         quotechar='"'))
                return [f.strip() for f in fields], lineno
    return None, 0


def _bad_line(path: Path, gz: bool, delimiter: str, expected: int, header: bool) -> InputError:
    """Find the first line whose field count differs from ``expected`` (error path only)."""
    with _open_text(path, gz) as fh:
        reader = csv.reader(fh, delimiter=delimiter, quotechar='"')
        data_row = 0
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            if header:
                header = False
                continue
            data_row += 1
            if len(fields) != expected:
                # the line itself is not quoted: it holds a Patient ID and a whole record
                return InputError(
                    f"line {reader.line_num} has {len(fields)} fields, expected {expected}",
                    file=path, row=data_row)
    return InputError(f"a line does not have {expected} fields", file=path)


class _WrongFieldCount(Exception):
    pass


def _read_table(path: Path, gz: bool, names: list[str], delimiter: str, skip: int,
                encoding: str) -> pa.Table:
    """Every column dictionary-encoded as it is parsed (a SEER export has few distinct labels
    per column: the labels are made once, not once per row)."""
    invalid = []

    def on_invalid(row):
        invalid.append(row.number)
        return "skip"

    source = pa.input_stream(str(path), compression="gzip" if gz else None)
    table = pacsv.read_csv(
        source,
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=skip, encoding=encoding,
                                       block_size=1 << 24),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                         newlines_in_values=False, ignore_empty_lines=True,
                                         invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.dictionary(pa.int32(), pa.string()) for n in names},
            null_values=[],
            strings_can_be_null=False, quoted_strings_can_be_null=False),
    )
    if invalid:
        raise _WrongFieldCount()
    return table


def _factorized(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, labels) of a dictionary-encoded column: labels (``object`` of ``str``, blanks
    around them stripped) in order of first appearance, as ``pandas.factorize`` gives them."""
    column = column.unify_dictionaries()
    if column.num_chunks == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=object)
    dictionary = column.chunk(0).dictionary
    codes = np.concatenate([chunk.indices.to_numpy(zero_copy_only=False)
                            for chunk in column.chunks])
    trimmed = np.asarray(pc.utf8_trim_whitespace(dictionary).to_pylist(), dtype=object)
    merged, labels = pd.factorize(trimmed, sort=False)  # " a" and "a" are one label
    return merged[codes], np.asarray(labels, dtype=object)


def _decode_codes(codes: np.ndarray, uniques: np.ndarray, formats: dict[str, str], path: Path,
                  name: str) -> tuple[np.ndarray, np.ndarray]:
    """Map SEER*Stat internal codes to labels through a [Format=...] section (per unique code)."""
    labels = [formats.get(u) for u in uniques]
    for k, label in enumerate(labels):
        if label is None:
            row = int(np.flatnonzero(codes == k)[0]) + 1
            raise InputError(f"code not listed in the [Format={name}] section of the .dic",
                             file=path, column=name, row=row, value=uniques[k])
    merged, labels = pd.factorize(np.asarray(labels, dtype=object), sort=False)
    return merged[codes], np.asarray(labels, dtype=object)


def _looks_like_header(fields: list[str]) -> bool:
    known = set(REQUIRED_COLUMNS) | set(ALIASES) | set(GRADE_VARIABLES.values())
    return any(f in known for f in fields)


def read_export(path, dic=None, *, categorical: bool = False) -> pd.DataFrame:
    """Read a SEER*Stat case-listing export (label, quoted-label or numeric; any delimiter).

    Parameters
    ----------
    path : str or Path
        The data file (``.txt``, ``.csv``, ... ; gzipped if its ``.dic`` says ``GZipped=true``,
        its name ends in ``.gz`` or it starts with the gzip magic bytes; the bytes decide).
    dic : str or Path, optional
        The dictionary. By default the ``.dic`` beside the data file (:func:`find_dic`). Without
        one, the data must be a comma-separated label export with a header line.

    Returns
    -------
    DataFrame
        One row per line of data; every column is text (``object`` of ``str``) exactly as
        exported with surrounding blanks stripped: zero padding kept (``"0041"``), the label
        ``"NA"`` kept; numeric codes replaced by their ``[Format=...]`` labels (a coded variable
        without a ``[Format]`` section, such as ``Survival months``, keeps its codes); columns
        renamed to their canonical names (:data:`ALIASES`). ``attrs["file"]`` holds the data
        file's path.
        Same content as R's ``read.csv(path, colClasses = "character", na.strings = NULL,
        check.names = FALSE, strip.white = TRUE)`` on a label export.
        With ``categorical=True`` the same labels come as ``pandas.Categorical`` columns (their
        categories in order of first appearance): what :func:`tidy` reads fastest, in a tenth
        of the memory.

    Raises
    ------
    InputError
        Empty file; a line with the wrong number of fields (its 1-based line number); a header
        that differs from the ``.dic`` variables; a code missing from its ``[Format]`` section;
        repeated column names.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder; give the export's data file", file=path)
    if not path.is_file():
        raise InputError("no such file", file=path)
    try:
        return _read_export(path, dic, categorical)
    except (OSError, EOFError, zlib.error) as exc:  # corrupt gzip, unreadable file, ...
        raise InputError(f"cannot be read ({type(exc).__name__}: {exc}); is the file complete "
                         "and not corrupted?", file=path) from None
    except UnicodeDecodeError:
        raise InputError("is not text in UTF-8 or Latin-1 (a SEER*Stat export is text)",
                         file=path) from None


def _read_export(path: Path, dic, categorical: bool = False) -> pd.DataFrame:
    if dic is None:
        dic_path = find_dic(path)
        dictionary = read_dic(dic_path) if dic_path is not None else None
    else:
        dictionary = dic if isinstance(dic, Dictionary) else read_dic(dic)

    gz = _is_gzip(path)
    if dictionary is not None:
        delimiter = dictionary.delimiter
        first, first_line = _first_record(path, gz, delimiter)
    else:  # no .dic: a header naming SEER variables is required; it also tells the delimiter
        for delimiter in (",", "\t", ";"):
            first, first_line = _first_record(path, gz, delimiter)
            if first is None or _looks_like_header(first):
                break
    if first is None:
        raise InputError("the file is empty (no data lines)", file=path)

    if dictionary is None:
        if not _looks_like_header(first):
            raise InputError(
                "no .dic found beside the data file and line 1 is not a header naming SEER "
                "variables; give the .dic or export with 'Variable names included'", file=path)
        header, names = True, first
    else:
        names = dictionary.names
        said = dictionary.header
        first_is_names = first == names
        if said is None:
            header = first_is_names
        else:
            header = said
        if header and not first_is_names:
            if len(first) != len(names):
                absent = [n for n in names if n not in first]
                extra = [n for n in first if n not in names]
                which = (f"; not in the header: {', '.join(map(repr, absent))}" if absent
                         else "") + (f"; not in the .dic: {', '.join(map(repr, extra))}"
                                     if extra else "")
                raise InputError(
                    f"the header has {len(first)} columns but the .dic "
                    f"({dictionary.path.name}) lists {len(names)} variables{which}",
                    file=path, column=(absent or extra or [None])[0])
            i = next(i for i, (a, b) in enumerate(zip(first, names)) if a != b)
            raise InputError(
                f"header column {i + 1} is {first[i]!r} but the .dic ({dictionary.path.name}) "
                f"says Var{i + 1}Name={names[i]}", file=path, column=names[i], value=first[i])
        if not header and first_is_names:
            raise InputError(
                f"the .dic ({dictionary.path.name}) says 'Variable names included=false' but "
                "line 1 is the header", file=path)
        if not header and len(first) != len(names):
            raise InputError(
                f"line {first_line} has {len(first)} fields but the .dic "
                f"({dictionary.path.name}) lists {len(names)} variables", file=path, row=1)

    seen = set()
    for name in names:
        if name in seen:
            raise InputError("the column name appears twice in the header", file=path,
                             column=name)
        seen.add(name)

    skip = first_line if header else first_line - 1
    table = None
    for encoding in ("utf8", "latin-1"):
        try:
            table = _read_table(path, gz, list(names), delimiter, skip, encoding)
            break
        except _WrongFieldCount:
            raise _bad_line(path, gz, delimiter, len(names), header) from None
        except pa.ArrowInvalid as exc:
            if "invalid UTF8" in str(exc) or "UTF8" in str(exc):
                continue
            raise InputError(f"cannot parse the data: {exc}", file=path) from None
    if table is None:  # pragma: no cover - latin-1 always decodes
        raise InputError("cannot decode the file", file=path)
    if table.num_rows == 0:
        raise InputError("the file has a header but no data lines", file=path)

    columns = {}
    for i, name in enumerate(names):
        codes, labels = _factorized(table.column(i))
        if dictionary is not None and dictionary.coded(i) and name in dictionary.formats:
            codes, labels = _decode_codes(codes, labels, dictionary.formats[name], path, name)
        if categorical:
            columns[str(name)] = pd.Categorical.from_codes(codes, categories=labels,
                                                           validate=False)
        else:
            columns[str(name)] = labels[codes]
    frame = pd.DataFrame(columns, copy=False)  # one block per column: nothing copied

    renamed = [ALIASES.get(c, c) for c in frame.columns]
    dup = pd.Index(renamed)[pd.Index(renamed).duplicated()]
    if len(dup):
        raise InputError("two columns have the same canonical name (one is an alias of the "
                         "other); keep one", file=path, column=dup[0])
    frame.columns = renamed
    frame.attrs["file"] = str(path)
    return frame
