"""SEER*Stat's ``.dic`` dictionary of an export: delimiter, header flag, variable names and formats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from micromet.errors import InputError

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
