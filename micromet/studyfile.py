"""Reading a study file: strict YAML (a key given twice is an error), ``extends`` (a file laid
over another study), ``--set key=value`` overrides, and the typed conversion of the mapping into
frozen dataclasses, every error naming the key and the file. Generic: ``micromet.study`` holds
what a study is.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from micromet.errors import InputError


def read_study_file(path: Path, resolve, seen: tuple[Path, ...] = ()) -> dict:
    """A study file as a mapping; with ``extends: <study>``, that study's mapping with this
    file's keys laid over it (sections merged key by key, lists and values replaced).
    ``resolve`` turns a study name into its file (``micromet.study.study_path``)."""
    if not path.is_file():
        raise InputError("study file not found" if not path.exists() else "is not a file",
                         file=path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506
    except DuplicateKey as exc:
        raise InputError(f"key '{exc.key}' appears twice in one section (line {exc.line}); "
                         "give each parameter once", file=path, column=exc.key) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML{_yaml_where(exc)}", file=path) from None
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", file=path) from None
    if not isinstance(raw, dict):
        raise InputError("a study file must be a mapping of key: value", file=path)
    base = raw.pop("extends", None)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise InputError("parameter 'extends' must be the name of another study (or its file)",
                         file=path, column="extends", value=base)
    base_path = resolve(base)
    if not base_path.is_absolute() and not base_path.exists():
        base_path = path.parent / base_path
    if base_path.resolve() in {p.resolve() for p in (*seen, path)}:
        raise InputError("parameter 'extends' makes a cycle of study files", file=path,
                         column="extends", value=base)
    if not base_path.is_file():
        raise InputError("parameter 'extends' names a study file that does not exist",
                         file=path, column="extends", value=base)
    return _merge(read_study_file(base_path, resolve, (*seen, path)), raw)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _yaml_where(exc: yaml.YAMLError) -> str:
    """' (line 3, column 5: expected ...)': a YAML error on one line."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f" ({where}{problem})"


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, line: int):
        self.key, self.line = key, line
        super().__init__(f"duplicate key {key!r} on line {line}")


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML's safe loader (libyaml's parser when PyYAML has it: ten times faster), except that
    a key given twice in one mapping is an error (YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise DuplicateKey(str(key), key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_overrides(overrides: list[str] | dict[str, Any] | None) -> dict[str, Any]:
    """``["a.b=0.1", "c=true"]`` -> ``{"a.b": 0.1, "c": True}`` (YAML scalars)."""
    if overrides is None:
        return {}
    if isinstance(overrides, dict):
        return dict(overrides)
    out: dict[str, Any] = {}
    for item in overrides:
        key, sep, text = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError("--set needs key=value (dotted keys, e.g. matching.caliper=0.1)",
                             value=item)
        try:
            out[key] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise InputError(f"--set value is not valid YAML{_yaml_where(exc)}", column=key,
                             value=text) from None
    return out


def set_dotted(raw: dict, key: str, value: Any, *, schema, file=None) -> None:
    """Set ``raw["a"]["b"] = value`` for ``key = "a.b"``; a key that ``schema`` (the dataclass
    of the whole file) does not have is an error."""
    parts = key.split(".")
    node: Any = raw
    cls: Any = schema
    free = False  # the part names an entry of a mapping section (outcomes.<name>)
    for depth, part in enumerate(parts):
        hints = _hints(cls) if cls is not None and not free else None
        if hints is not None and part not in hints:
            where = ".".join(parts[: depth + 1])
            raise InputError(f"--set {key}: unknown parameter '{where}' (known: "
                             f"{', '.join(sorted(hints))})", file=file, column=where)
        last = depth == len(parts) - 1
        if last:
            node[part] = value
            return
        child = node.get(part)
        if child is None:
            child = {}
            node[part] = child
        if not isinstance(child, dict):
            raise InputError(f"--set {key}: '{part}' is not a section", file=file, column=part)
        node = child
        if free:  # entering the entry: its fields are those of the section's dataclass
            free = False
            continue
        tp = hints[part] if hints is not None else None
        cls = _dataclass_in(tp) if tp is not None else None
        if tp is not None and typing.get_origin(tp) is dict and cls is not None:
            free = True  # e.g. outcomes: dict[str, Outcome] -> the next part is a name
            if depth + 1 < len(parts) - 1 and parts[depth + 1] not in child:
                raise InputError(f"--set {key}: no entry '{parts[depth + 1]}' under '{part}' "
                                 f"(have: {', '.join(sorted(child)) or 'none'})", file=file,
                                 column=".".join(parts[: depth + 2]))


def _hints(cls) -> dict[str, Any] | None:
    if cls is None or not dataclasses.is_dataclass(cls):
        return None
    return typing.get_type_hints(cls)


def _dataclass_in(tp) -> Any:
    """The dataclass inside ``tp`` (``X``, ``X | None``, ``dict[str, X]``), else None."""
    if dataclasses.is_dataclass(tp):
        return tp
    for arg in typing.get_args(tp):
        if dataclasses.is_dataclass(arg):
            return arg
    return None


def build(cls, mapping: dict, where: str, file) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        key = where + unknown[0]
        raise InputError(f"unknown parameter '{key}' (known in this section: "
                         f"{', '.join(sorted(fields))})", file=file, column=key)
    kwargs = {}
    for name, f in fields.items():
        key = where + name
        if name not in mapping:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise InputError(f"missing required parameter '{key}'", file=file, column=key)
            continue
        kwargs[name] = _convert(hints[name], mapping[name], key, file)
    return cls(**kwargs)


_TYPE_WORDS = {str: "text", int: "an integer", float: "a number", bool: "true/false"}


def _describe(tp) -> str:
    if tp in _TYPE_WORDS:
        return _TYPE_WORDS[tp]
    origin = typing.get_origin(tp)
    if origin is list:
        return f"a list of {_describe(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _describe(a) for a in typing.get_args(tp))
    if dataclasses.is_dataclass(tp):
        return "a section (mapping)"
    return str(tp)


def _convert(tp, value, key: str, file) -> Any:
    def wrong():
        return InputError(f"parameter '{key}' must be {_describe(tp)}, got {type(value).__name__}",
                          file=file, column=key, value=value)

    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise wrong()
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, key, file)
            except InputError:
                continue
        raise wrong()
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise wrong()
        return build(tp, value, key + ".", file)
    if origin is list:
        if not isinstance(value, list):
            raise wrong()
        (item,) = typing.get_args(tp)
        return [_convert(item, v, f"{key}[{i}]", file) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise wrong()
        _, vt = typing.get_args(tp)
        return {str(k): _convert(vt, v, f"{key}.{k}", file) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise wrong()
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong()
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong()
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise wrong()
        return value
    raise wrong()  # pragma: no cover - a field type this module does not know
