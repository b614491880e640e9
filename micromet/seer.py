"""Read a SEER*Stat case-listing export and turn it into the analysis frame.

A SEER*Stat case listing is exported as two files: the data (``.txt``/``.csv``, perhaps gzipped)
and a dictionary ``.dic`` beside it that says how the data were written (delimiter, header,
labels or numeric codes, gzip) and names the variables in column order (see
``shared/SEER_SCHEMA.md`` §1). Two public functions:

* :func:`read_export` reads both and returns the *raw frame*: one row per exported tumour record,
  every value kept as text exactly as SEER*Stat labels it (zero padding kept, the label ``NA``
  stays ``"NA"``, surrounding blanks stripped), numeric codes decoded to labels through the
  ``[Format=...]`` sections of the ``.dic``, and column names made canonical (:data:`ALIASES`).
  This is what R users get with ``read.csv(..., colClasses = "character")`` or
  ``SEER2R::read.SeerStat(..., UseVarLabelsInData = TRUE)``.
* :func:`tidy` turns the raw frame into the analysis frame of ``notes/TIDY.md``: ages, tumour size
  and survival as numbers, the grouped categories used by the published analysis, and the
  competing-risk event code (0 censored, 1 breast-cancer death, 2 other death; cmprsk's coding).

Every recoding rule is written once, as a table (a dict) below, and applied to the distinct values
of a column only, so a full-scale extract (325,000 rows) is read and tidied in a few seconds.

Bad input raises :class:`micromet.errors.InputError` naming the file, column, 1-based data row
(or line) and value. Nothing is written anywhere: both functions only return frames.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from micromet.errors import InputError

__all__ = [
    "ALIASES",
    "REQUIRED_COLUMNS",
    "GRADE_VARIABLES",
    "Dictionary",
    "read_dic",
    "find_dic",
    "read_export",
    "tidy",
]

# ---------------------------------------------------------------------------------------------
# Column names
# ---------------------------------------------------------------------------------------------

#: Other spellings of a variable -> the canonical name used everywhere in micromet.
#: The Nov 2024 database calls the EOD 2018 TNM variables "... Recode (2018+)" (SEER_SCHEMA §2);
#: some analysis code writes "Sequence Number"; some databases label the ER/PR recodes "(2010+)"
#: (SEER_SCHEMA §3.6).  "Age recode with single ages and 85+" is *not* an alias: its top code
#: (85+) means something else than "90+".
ALIASES: dict[str, str] = {
    "Derived EOD 2018 T Recode (2018+)": "Derived EOD 2018 T (2018+)",
    "Derived EOD 2018 N Recode (2018+)": "Derived EOD 2018 N (2018+)",
    "Derived EOD 2018 M Recode (2018+)": "Derived EOD 2018 M (2018+)",
    "Derived EOD 2018 Stage Group Recode (2018+)": "Derived EOD 2018 Stage Group (2018+)",
    "Sequence Number": "Sequence number",
    "ER Status Recode Breast Cancer (2010+)": "ER Status Recode Breast Cancer (1990+)",
    "PR Status Recode Breast Cancer (2010+)": "PR Status Recode Breast Cancer (1990+)",
}

PATIENT_ID = "Patient ID"
AGE = "Age recode with single ages and 90+"
SEX = "Sex"
YEAR = "Year of diagnosis"
HISTOLOGY = "Histologic Type ICD-O-3"
T_STAGE = "Derived EOD 2018 T (2018+)"
N_STAGE = "Derived EOD 2018 N (2018+)"
M_STAGE = "Derived EOD 2018 M (2018+)"
TUMOR_SIZE = "Tumor Size Summary (2016+)"
ER = "ER Status Recode Breast Cancer (1990+)"
PR = "PR Status Recode Breast Cancer (1990+)"
HER2 = "Derived HER2 Recode (2010+)"
SUBTYPE = "Breast Subtype (2010+)"
SURVIVAL = "Survival months"
VITAL = "Vital status recode (study cutoff used)"
CAUSE_SPECIFIC = "SEER cause-specific death classification"
OTHER_CAUSE = "SEER other cause of death classification"

#: The three grade variables of 2018+ cases; ``tidy(grade=...)`` takes a name or a short key.
GRADE_VARIABLES: dict[str, str] = {
    "derived summary": "Derived Summary Grade 2018 (2018+)",
    "pathological": "Grade Pathological (2018+)",
    "clinical": "Grade Clinical (2018+)",
}
DEFAULT_GRADE = GRADE_VARIABLES["derived summary"]

#: Columns tidy needs (the grade column chosen is added to these).
REQUIRED_COLUMNS: tuple[str, ...] = (
    PATIENT_ID, AGE, SEX, YEAR, HISTOLOGY, T_STAGE, N_STAGE, M_STAGE, TUMOR_SIZE, ER, PR, HER2,
    SUBTYPE, SURVIVAL, VITAL, CAUSE_SPECIFIC, OTHER_CAUSE,
)

# ---------------------------------------------------------------------------------------------
# Recoding tables (label -> analysis value; None = missing).  A label in none of them is an error.
# ---------------------------------------------------------------------------------------------

BLANK = "Blank(s)"

SEX_LABELS: dict[str, str] = {"Female": "Female", "Male": "Male"}

HISTOLOGY_LEVELS = ["IDC", "Other"]
#: Histology codes counted as invasive ductal carcinoma (8500 IDC NOS, 8522 duct + lobular).
IDC_CODES = frozenset({"8500", "8522"})

GRADE_LEVELS = ["I-II", "III"]
GRADE_GROUPS: dict[str, str | None] = {
    "1": "I-II", "2": "I-II", "A": "I-II", "B": "I-II",
    "3": "III", "C": "III",
    "9": None, "D": None, "L": None, "M": None, "H": None, BLANK: None,
}

#: Tumor Size Summary (2016+), NAACCR item 756: 001-989 are millimetres; these are not sizes.
TUMOR_SIZE_MISSING = frozenset({"000", "990", "998", "999", BLANK})

RECEPTOR_LEVELS = ["Negative", "Positive"]
RECEPTOR_GROUPS: dict[str, str | None] = {
    "Positive": "Positive", "Negative": "Negative",
    "Borderline/Unknown": None, "Recode not available": None, "Unknown": None, BLANK: None,
}

SUBTYPE_LEVELS = ["HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "HR-/HER2-"]
SUBTYPE_GROUPS: dict[str, str | None] = {
    **{level: level for level in SUBTYPE_LEVELS},
    "Unknown": None, "Recode not available": None, BLANK: None,
}

T_LEVELS = ["T1-T2", "T3-T4"]
T_GROUPS: dict[str, str | None] = {
    **dict.fromkeys(["T1mi", "T1a", "T1b", "T1c", "T1", "T2"], "T1-T2"),
    **dict.fromkeys(["T3", "T4", "T4a", "T4b", "T4c", "T4d"], "T3-T4"),
    **dict.fromkeys(["TX", "T0", "Tis", "Tis(DCIS)", "Tis(Paget)", "Tis(LAMN)", "88", BLANK]),
}

N_LEVELS = ["N0", "N1-N3"]
N_GROUPS: dict[str, str | None] = {
    **dict.fromkeys(["N0", "N0(i+)", "N0(mol+)"], "N0"),
    **dict.fromkeys(
        ["N1mi", "N1", "N1a", "N1b", "N1c", "N2", "N2a", "N2b", "N3", "N3a", "N3b", "N3c"],
        "N1-N3",
    ),
    **dict.fromkeys(["NX", "88", BLANK]),
}

#: Labels of Derived EOD 2018 M (kept as they are in ``m_stage``; SEER_SCHEMA §3.4).
M_LABELS = frozenset(
    ["M0", "M0(i+)", "M1", "88", BLANK]
    + [f"M1{x}{y}" for x in "abcd" for y in ("", "(0)", "(1)")]
)

#: "Survival months" values that mean unknown: the label, and SEER*Stat's internal code 9999
#: (an unformatted/numeric export without a [Format] section writes the code).
SURVIVAL_UNKNOWN = frozenset({"Unknown", "9999"})

VITAL_CODES: dict[str, int] = {"Alive": 0, "Dead": 1}

CS_CANCER = "Dead (attributable to this cancer dx)"
OC_OTHER = "Dead (attributable to causes other than this cancer dx)"
UNKNOWN_COD = "Dead (missing/unknown COD)"
NOT_SEQ = "N/A not seq 0-59"
CAUSE_SPECIFIC_LABELS = frozenset({"Alive or dead of other cause", CS_CANCER, UNKNOWN_COD, NOT_SEQ})
OTHER_CAUSE_LABELS = frozenset({"Alive or dead due to cancer", OC_OTHER, UNKNOWN_COD, NOT_SEQ})

DEATH_CAUSE_LEVELS = ["alive", "breast cancer", "other cause", "unknown"]
#: death_cause -> event code (cmprsk coding; None = cause unknown, event <NA>).
EVENT_CODES: dict[str, int | None] = {
    "alive": 0, "breast cancer": 1, "other cause": 2, "unknown": None,
}


#: The columns of the analysis frame that :func:`tidy` returns (what a study may name).
ANALYSIS_COLUMNS = (
    "patient_id", "age", "sex", "year", "histology", "histology_code", "grade", "grade_label",
    "tumor_size_mm", "er", "pr", "her2", "subtype", "t_stage", "t_label", "n_stage", "n_label",
    "m_stage", "time_months", "vital", "death_cause", "event",
)


def death_cause_of(vital: str, cause_specific: str, other_cause: str) -> str | None:
    """The cause of death from the vital status and the two SEER classifications.

    Alive -> "alive"; dead with the cause-specific classification "Dead (attributable to this
    cancer dx)" -> "breast cancer"; dead with the other-cause classification "Dead (attributable
    to causes other than this cancer dx)" -> "other cause"; dead with a missing/unknown cause of
    death -> "unknown". A record whose classification is "N/A not seq 0-59" (a tumour outside
    sequence 0-59) has no cause-of-death record at all: "unknown" whether the patient is alive or
    dead, as SEER*Stat leaves such records out of cause-specific survival. Any other combination
    contradicts itself and gives None (the caller raises).
    """
    if NOT_SEQ in (cause_specific, other_cause):
        return "unknown"
    cancer = cause_specific == CS_CANCER
    other = other_cause == OC_OTHER
    if vital == "Alive":  # alive yet a recorded cause of death: the record contradicts itself
        return None if (cancer or other or UNKNOWN_COD in (cause_specific, other_cause)) \
            else "alive"
    if cancer and not other:
        return "breast cancer"
    if other and not cancer:
        return "other cause"
    if not (cancer or other) and (
        UNKNOWN_COD in (cause_specific, other_cause) or NOT_SEQ in (cause_specific, other_cause)
    ):
        return "unknown"
    return None


# ---------------------------------------------------------------------------------------------
# The .dic file
# ---------------------------------------------------------------------------------------------

DELIMITERS: dict[str, str] = {
    "comma": ",", "tab": "\t", "space": " ", "semi-colon": ";", "semicolon": ";",
}
VARIABLE_FORMATS = frozenset({"labels", "quotedlabels", "numeric"})
_VAR_KEY = re.compile(r"^Var(\d+)(Name|DisplayType|Base)$", re.IGNORECASE)
_VARIABLE_SECTIONS = {"variables", "life page variables"}


@dataclass
class Dictionary:
    """What a SEER*Stat ``.dic`` says about its data file.

    ``names`` are the variables in column order (``VarNName``), ``display_types`` their
    ``VarNDisplayType`` ("" when absent), ``formats`` the ``[Format=<name>]`` code -> label maps,
    ``options`` the ``[Export Options]`` key/value pairs as written.
    """

    path: Path
    options: dict[str, str] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    display_types: list[str] = field(default_factory=list)
    formats: dict[str, dict[str, str]] = field(default_factory=dict)

    def option(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.options.items():
            if k.lower() == key.lower():
                return v
        return default

    def _flag(self, key: str) -> bool | None:
        value = self.option(key)
        if value is None or value == "":
            return None
        low = value.lower()
        if low in ("true", "yes", "1"):
            return True
        if low in ("false", "no", "0"):
            return False
        raise InputError(f"[Export Options] {key}={value!r} is neither true nor false",
                         file=self.path)

    @property
    def delimiter(self) -> str:
        value = self.option("Field delimiter", "comma")
        try:
            return DELIMITERS[value.lower()]
        except KeyError:
            raise InputError(
                f"[Export Options] Field delimiter={value!r} is not one of "
                + ", ".join(sorted(DELIMITERS)), file=self.path) from None

    @property
    def variable_format(self) -> str:
        value = (self.option("Variable format", "labels") or "labels").lower()
        if value not in VARIABLE_FORMATS:
            raise InputError(f"[Export Options] Variable format={value!r} is not one of "
                             "labels, quotedlabels, numeric", file=self.path)
        return value

    @property
    def header(self) -> bool | None:
        """True/False as ``Variable names included`` says; None when the .dic does not say."""
        return self._flag("Variable names included")

    @property
    def gzipped(self) -> bool:
        return bool(self._flag("GZipped"))

    def coded(self, position: int) -> bool:
        """True when column ``position`` (0-based) holds codes rather than labels."""
        return (self.variable_format == "numeric"
                or self.display_types[position].lower() == "unformatted")


def _decode_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_dic(path) -> Dictionary:
    """Parse a SEER*Stat ``.dic`` file (INI-like; keys repeat and [Format=X] sections hold
    ``code=label`` lines, so configparser cannot read it)."""
    path = Path(path)
    try:
        text = _decode_text(path.read_bytes())
    except OSError as exc:
        raise InputError(f"cannot read the .dic: {exc.strerror or exc}", file=path) from None
    dic = Dictionary(path=path)
    variables: dict[int, dict[str, str]] = {}
    section = None
    fmt: dict[str, str] | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            fmt = None
            if section.lower().startswith("format="):
                name = section.split("=", 1)[1].strip()
                fmt = dic.formats.setdefault(name, {})
            continue
        if "=" not in line:
            raise InputError(f"line {lineno} of the .dic is not 'key=value': {line!r}", file=path)
        key, value = line.split("=", 1)
        key, value = key.strip(), value.strip()
        if section is None:
            continue
        if fmt is not None:
            if key in fmt and fmt[key] != value:
                raise InputError(f"line {lineno}: code {key!r} appears twice in [{section}]",
                                 file=path)
            fmt[key] = value
        elif section.lower() == "export options":
            dic.options[key] = value
        elif section.lower() in _VARIABLE_SECTIONS:
            m = _VAR_KEY.match(key)
            if not m:
                continue
            number, what = int(m.group(1)), m.group(2).lower()
            entry = variables.setdefault(number, {})
            if what in entry:
                raise InputError(f"line {lineno}: Var{number}{m.group(2)} appears twice",
                                 file=path)
            entry[what] = value
    numbers = sorted(variables)
    if not numbers:
        raise InputError("the .dic has no [Variables] section with VarNName lines", file=path)
    if numbers != list(range(1, len(numbers) + 1)) or any("name" not in variables[n]
                                                          for n in numbers):
        missing = [n for n in range(1, numbers[-1] + 1)
                   if n not in variables or "name" not in variables[n]]
        raise InputError(f"the [Variables] section lacks Var{missing[0]}Name", file=path)
    dic.names = [variables[n]["name"] for n in numbers]
    dic.display_types = [variables[n].get("displaytype", "") for n in numbers]
    seen: dict[str, int] = {}
    for i, name in enumerate(dic.names, start=1):
        if name in seen:
            raise InputError(f"Var{seen[name]}Name and Var{i}Name are both {name!r}", file=path)
        seen[name] = i
    _ = dic.variable_format, dic.delimiter  # validate these options now
    return dic


def find_dic(path) -> Path | None:
    """The ``.dic`` beside a data file, or None.

    Tried in order: the name with its last suffix replaced (``x.csv`` -> ``x.dic``,
    ``x.csv.gz`` -> ``x.csv.dic``), then with two suffixes replaced for gzipped files
    (``x.csv.gz`` -> ``x.dic``), then the name with ``.dic`` appended (``x.csv.dic``); each also
    with ``.DIC``.
    """
    path = Path(path)
    name = path.name
    stems = []
    if path.suffix:
        stems.append(name[: -len(path.suffix)])
        if path.suffix.lower() == ".gz":
            inner = Path(stems[0]).suffix
            if inner:
                stems.append(stems[0][: -len(inner)])
    stems.append(name)
    for stem in stems:
        for ext in (".dic", ".DIC"):
            candidate = path.with_name(stem + ext)
            if candidate != path and candidate.is_file():
                return candidate
    return None


# ---------------------------------------------------------------------------------------------
# The data file
# ---------------------------------------------------------------------------------------------

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
            column_types={n: pa.string() for n in names}, null_values=[],
            strings_can_be_null=False, quoted_strings_can_be_null=False),
    )
    if invalid:
        raise _WrongFieldCount()
    return table


def _decode_codes(values: pd.Series, codes: dict[str, str], path: Path, name: str) -> pd.Series:
    """Map SEER*Stat internal codes to labels through a [Format=...] section (per unique code)."""
    positions, uniques = pd.factorize(values, sort=False)
    labels = [codes.get(u) for u in uniques]
    for k, label in enumerate(labels):
        if label is None:
            row = int(np.flatnonzero(positions == k)[0]) + 1
            raise InputError(f"code not listed in the [Format={name}] section of the .dic",
                             file=path, column=name, row=row, value=uniques[k])
    return pd.Series(np.asarray(labels, dtype=object)[positions], index=values.index,
                     name=values.name)


def _looks_like_header(fields: list[str]) -> bool:
    known = set(REQUIRED_COLUMNS) | set(ALIASES) | set(GRADE_VARIABLES.values())
    return any(f in known for f in fields)


def read_export(path, dic=None) -> pd.DataFrame:
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
        return _read_export(path, dic)
    except (OSError, EOFError, zlib.error) as exc:  # corrupt gzip, unreadable file, ...
        raise InputError(f"cannot be read ({type(exc).__name__}: {exc}); is the file complete "
                         "and not corrupted?", file=path) from None
    except UnicodeDecodeError:
        raise InputError("is not text in UTF-8 or Latin-1 (a SEER*Stat export is text)",
                         file=path) from None


def _read_export(path: Path, dic) -> pd.DataFrame:
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
        col = pc.utf8_trim_whitespace(table.column(i))
        values = col.to_pandas(deduplicate_objects=True)
        if dictionary is not None and dictionary.coded(i) and name in dictionary.formats:
            values = _decode_codes(values, dictionary.formats[name], path, name)
        columns[name] = values
    frame = pd.DataFrame(columns)
    frame.columns = [str(c) for c in frame.columns]

    renamed = [ALIASES.get(c, c) for c in frame.columns]
    dup = pd.Index(renamed)[pd.Index(renamed).duplicated()]
    if len(dup):
        raise InputError("two columns have the same canonical name (one is an alias of the "
                         "other); keep one", file=path, column=dup[0])
    frame.columns = renamed
    frame.attrs["file"] = str(path)
    return frame


# ---------------------------------------------------------------------------------------------
# tidy
# ---------------------------------------------------------------------------------------------

AGE_TOP = 90  # "Age recode with single ages and 90+": 00 years .. 89 years, 90+ years
_AGE_LABEL = re.compile(r"^(\d{1,3}) years?$")
_AGE_TOP = re.compile(r"^(\d{1,3})\+ years?$")
_DIGITS = re.compile(r"^\d+$")


def _age_value(label: str):
    """'62 years' -> 62 (00-89 years), '90+ years' -> 90, 'Unknown' -> NaN; anything else
    (e.g. '150 years', '85+ years') is not a label of the age recode: None."""
    if label == "Unknown":
        return np.nan
    m = _AGE_LABEL.match(label)
    if m:
        age = int(m.group(1))
        return float(age) if age < AGE_TOP else None
    m = _AGE_TOP.match(label)
    return float(AGE_TOP) if m and int(m.group(1)) == AGE_TOP else None


def _size_value(label: str):
    if label in TUMOR_SIZE_MISSING:
        return np.nan
    if len(label) == 3 and label.isdigit() and 1 <= int(label) <= 989:
        return float(int(label))  # 001-989: millimetres
    return None


def _survival_value(label: str):
    if label in SURVIVAL_UNKNOWN:
        return np.nan
    return float(int(label)) if _DIGITS.match(label) else None


def _year_value(label: str):
    return int(label) if len(label) == 4 and label.isdigit() else None


def _refuse_duplicates(raw: pd.DataFrame, file) -> None:
    """A record repeated field for field (a listing exported twice, files concatenated) would be
    counted twice: refused, naming the first repeated row. (One patient may have several records
    with different fields: one per primary tumour.)"""
    repeated = raw.duplicated(keep="first").to_numpy()
    if repeated.any():
        first = int(np.flatnonzero(repeated)[0])
        raise InputError(f"{int(repeated.sum()):,} records repeat an earlier record field for "
                         "field (the first repeat is this row); remove the repeats (an export "
                         "saved twice, or files joined together?)", file=file, row=first + 1)


def check_followup(frame: pd.DataFrame, last_year: int, *, file=None) -> None:
    """Survival months no longer than the database's follow-up allows: a case diagnosed in year
    ``Y`` and followed to the end of ``last_year`` has at most ``(last_year - Y) * 12 + 11``
    complete months (SEER's survival months). ``InputError`` names the first row beyond it."""
    time = frame["time_months"].to_numpy(dtype=float)
    year = frame["year"].to_numpy(dtype=float, na_value=np.nan)
    limit = (last_year - year) * 12 + 11
    bad = (time < 0) | (time > limit)
    bad &= ~np.isnan(time)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"survival of {time[i]:g} months is impossible for a case diagnosed in "
            f"{int(year[i])} and followed to the end of {last_year} (at most {limit[i]:g}); "
            f"{int(bad.sum()):,} records are beyond the follow-up", file=file, column=SURVIVAL,
            row=i + 1, value=_int_text(time[i]))


def _int_text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


class _Column:
    """One raw column, factorized once: rules run on its distinct values only."""

    def __init__(self, raw: pd.DataFrame, name: str, file):
        self.name = name
        self.file = file
        self.codes, self.uniques = pd.factorize(raw[name].to_numpy(dtype=object), sort=False,
                                                use_na_sentinel=False)
        for k, label in enumerate(self.uniques):
            if not isinstance(label, str):
                self.fail(k, "not text: SEER labels must be read as text (read_export does, or "
                             "pandas.read_csv(..., dtype=str, keep_default_na=False))")

    def fail(self, k: int, reason: str):
        row = int(np.flatnonzero(self.codes == k)[0]) + 1
        raise InputError(reason, file=self.file, column=self.name, row=row,
                         value=self.uniques[k])

    def map_values(self, rule, reason: str, dtype=float) -> np.ndarray:
        """Apply ``rule`` (label -> value, None = invalid) to each distinct value."""
        out = []
        for k, label in enumerate(self.uniques):
            value = rule(label)
            if value is None:
                self.fail(k, reason)
            out.append(value)
        return np.asarray(out, dtype=dtype)[self.codes]

    def categorical(self, table: dict, levels: list[str], index) -> pd.Series:
        """Group labels through ``table`` (label -> level or None) into a Categorical."""
        level_code = {level: i for i, level in enumerate(levels)}
        mapped = np.empty(len(self.uniques), dtype=np.int64)
        for k, label in enumerate(self.uniques):
            if label not in table:
                self.fail(k, "label not in micromet's recoding table for this column")
            group = table[label]
            mapped[k] = -1 if group is None else level_code[group]
        return pd.Series(pd.Categorical.from_codes(mapped[self.codes], levels), index=index)

    def check(self, allowed, reason="label not in micromet's recoding table for this column"):
        for k, label in enumerate(self.uniques):
            if label not in allowed:
                self.fail(k, reason)

    def as_str(self, index) -> pd.Series:
        return pd.Series(np.asarray(self.uniques, dtype=object)[self.codes], index=index,
                         dtype=object)


def _grade_column(grade: str) -> str:
    if grade in GRADE_VARIABLES.values():
        return grade
    key = grade.strip().lower()
    key = {"summary": "derived summary", "derived": "derived summary"}.get(key, key)
    if key in GRADE_VARIABLES:
        return GRADE_VARIABLES[key]
    raise InputError(f"grade must be one of {sorted(GRADE_VARIABLES.values())} "
                     f"(or {sorted(GRADE_VARIABLES)})", value=grade)


def tidy(raw: pd.DataFrame, grade: str = DEFAULT_GRADE) -> pd.DataFrame:
    """The analysis frame of a raw export (``notes/TIDY.md``); one row per raw row, same index.

    Parameters
    ----------
    raw : DataFrame
        As returned by :func:`read_export` (canonical column names, labels as text).
    grade : str
        The grade variable: ``"Derived Summary Grade 2018 (2018+)"`` (the default),
        ``"Grade Pathological (2018+)"`` or ``"Grade Clinical (2018+)"``, or the short keys
        ``"derived summary"``, ``"pathological"``, ``"clinical"``.

    Returns
    -------
    DataFrame with columns ``patient_id, age, sex, year, histology, histology_code, grade,
    grade_label, tumor_size_mm, er, pr, her2, subtype, t_stage, t_label, n_stage, n_label,
    m_stage, time_months, vital, death_cause, event``. Grouping rules are the tables of this
    module (GRADE_GROUPS, T_GROUPS, N_GROUPS, RECEPTOR_GROUPS, SUBTYPE_GROUPS, TUMOR_SIZE_MISSING,
    ...). ``event`` is cmprsk's coding: 0 censored, 1 breast-cancer death, 2 other-cause death,
    <NA> when the cause of death is unknown.

    Raises
    ------
    InputError
        A required column is missing; a label that no table knows; a survival time that is not a
        whole number of months (``"Unknown"`` is allowed and becomes NaN); a contradictory vital
        status / cause-of-death combination. The message names file, column, 1-based data row and
        value.
    """
    file = raw.attrs.get("file")
    grade_name = _grade_column(grade)
    missing = [c for c in (*REQUIRED_COLUMNS, grade_name) if c not in raw.columns]
    if missing:
        raise InputError(
            "required column missing (have: " + ", ".join(map(str, raw.columns)) + ")",
            file=file, column=missing[0])
    _refuse_duplicates(raw, file)
    index = raw.index
    col = {name: _Column(raw, name, file) for name in (*REQUIRED_COLUMNS, grade_name)}

    out = {}
    out["patient_id"] = col[PATIENT_ID].as_str(index)
    out["age"] = pd.Series(col[AGE].map_values(
        _age_value, "not a label of the age recode ('00 years' to '89 years', '90+ years' or "
                    "'Unknown')"), index=index)
    col[SEX].check(SEX_LABELS)
    out["sex"] = col[SEX].as_str(index)
    year = col[YEAR].map_values(_year_value, "not a 4-digit year", dtype=np.int64)
    out["year"] = pd.Series(pd.array(year, dtype="Int64"), index=index)

    hist = col[HISTOLOGY]
    hist.check({u for u in hist.uniques if len(u) == 4 and u.isdigit()},
               "not a 4-digit ICD-O-3 histology code")
    out["histology"] = hist.categorical(
        {u: ("IDC" if u in IDC_CODES else "Other") for u in hist.uniques}, HISTOLOGY_LEVELS,
        index)
    out["histology_code"] = hist.as_str(index)

    out["grade"] = col[grade_name].categorical(GRADE_GROUPS, GRADE_LEVELS, index)
    out["grade_label"] = col[grade_name].as_str(index)
    out["tumor_size_mm"] = pd.Series(col[TUMOR_SIZE].map_values(
        _size_value, "not a Tumor Size Summary code (000-999 or Blank(s))"), index=index)
    out["er"] = col[ER].categorical(RECEPTOR_GROUPS, RECEPTOR_LEVELS, index)
    out["pr"] = col[PR].categorical(RECEPTOR_GROUPS, RECEPTOR_LEVELS, index)
    out["her2"] = col[HER2].categorical(RECEPTOR_GROUPS, RECEPTOR_LEVELS, index)
    out["subtype"] = col[SUBTYPE].categorical(SUBTYPE_GROUPS, SUBTYPE_LEVELS, index)
    out["t_stage"] = col[T_STAGE].categorical(T_GROUPS, T_LEVELS, index)
    out["t_label"] = col[T_STAGE].as_str(index)
    out["n_stage"] = col[N_STAGE].categorical(N_GROUPS, N_LEVELS, index)
    out["n_label"] = col[N_STAGE].as_str(index)
    col[M_STAGE].check(M_LABELS)
    out["m_stage"] = col[M_STAGE].as_str(index)
    out["time_months"] = pd.Series(col[SURVIVAL].map_values(
        _survival_value, "survival time is not a whole number of months or 'Unknown'"),
        index=index)

    vital = col[VITAL]
    vital.check(VITAL_CODES, "vital status is neither 'Alive' nor 'Dead'")
    out["vital"] = pd.Series(
        np.array([VITAL_CODES[u] for u in vital.uniques], dtype=np.int8)[vital.codes],
        index=index)
    col[CAUSE_SPECIFIC].check(CAUSE_SPECIFIC_LABELS)
    col[OTHER_CAUSE].check(OTHER_CAUSE_LABELS)

    # death cause per distinct (vital, cause-specific, other-cause) combination
    triple = (vital.codes.astype(np.int64) * len(col[CAUSE_SPECIFIC].uniques)
              + col[CAUSE_SPECIFIC].codes) * len(col[OTHER_CAUSE].uniques) + col[OTHER_CAUSE].codes
    combo_codes, combos = pd.factorize(triple, sort=False)
    cause_code = np.empty(len(combos), dtype=np.int64)
    event_code = np.empty(len(combos), dtype=np.int64)
    for k in range(len(combos)):
        first = int(np.flatnonzero(combo_codes == k)[0])
        v = vital.uniques[vital.codes[first]]
        cs = col[CAUSE_SPECIFIC].uniques[col[CAUSE_SPECIFIC].codes[first]]
        oc = col[OTHER_CAUSE].uniques[col[OTHER_CAUSE].codes[first]]
        cause = death_cause_of(v, cs, oc)
        if cause is None:
            raise InputError(
                f"vital status {v!r}, cause-specific {cs!r} and other-cause {oc!r} contradict "
                "each other", file=file, column=CAUSE_SPECIFIC, row=first + 1, value=cs)
        cause_code[k] = DEATH_CAUSE_LEVELS.index(cause)
        event = EVENT_CODES[cause]
        event_code[k] = -1 if event is None else event
    out["death_cause"] = pd.Series(
        pd.Categorical.from_codes(cause_code[combo_codes], DEATH_CAUSE_LEVELS), index=index)
    ev = event_code[combo_codes]
    out["event"] = pd.Series(pd.arrays.IntegerArray(np.where(ev < 0, 0, ev), ev < 0),
                             index=index)
    return pd.DataFrame(out, index=index)
