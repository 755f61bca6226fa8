"""Command-line flags made from declarations written elsewhere, so help texts and bounds exist once:

- `search_options`: one flag per field of core/options.py's SearchOptions (`-k`, `--folder`, `--after`,
  `--hybrid/--no-hybrid`, `--mmr`, ...), handed to the command as one validated `options` object — the
  same object the API builds from query parameters;
- `setting_option`: a flag for a field of the settings, with the settings' own description and the
  environment variable that sets it.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar, get_args, get_origin

import annotated_types
import typer
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from core.errors import InputError
from core.options import SWITCHES, SearchOptions
from core.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
SHORT_FLAGS = {"k": ("-k",)}  # `-k 20`, as people type it


def _without_none(annotation: Any) -> tuple[Any, bool]:
    """(the type inside `X | None`, whether None was allowed)."""
    if get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(inner) == 1 and len(inner) < len(get_args(annotation)):
            return inner[0], True
    return annotation, False


def _bounds(field: FieldInfo) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for meta in field.metadata:
        if isinstance(meta, annotated_types.Ge):
            found["min"] = meta.ge
        elif isinstance(meta, annotated_types.Le) and isinstance(meta.le, int | float) and meta.le < 2**31:
            found["max"] = meta.le  # (2**62 means "no cap" and is not shown)
    return found


def _flag(name: str, field: FieldInfo) -> inspect.Parameter:
    kind, _ = _without_none(field.annotation)
    if get_origin(kind) is Annotated:  # e.g. Day = Annotated[date, validator]
        kind = get_args(kind)[0]
    dashed = "--" + name.replace("_", "-")
    extra: dict[str, Any] = {}
    if kind is date:
        kind, extra = datetime, {"formats": ["%Y-%m-%d"]}
    elif kind in (int, float):
        extra = _bounds(field)
    if name in SWITCHES and kind is bool:
        declarations: tuple[str, ...] = (f"{dashed}/--no-{name.replace('_', '-')}",)
    else:
        declarations = SHORT_FLAGS.get(name, (dashed,))
    option = typer.Option(*declarations, help=field.description, **extra)
    default = None if field.default is None or name in SWITCHES else field.default
    optional: Any = kind | None if default is None else kind
    annotation: Any = Annotated[optional, option]  # type: ignore[valid-type]
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def search_options(command: F) -> F:
    """Give `command` every search option as a flag; it receives them as `options: SearchOptions`."""
    signature = inspect.signature(command, eval_str=True)
    own = [param for name, param in signature.parameters.items() if name != "options"]
    flags = [_flag(name, field) for name, field in SearchOptions.model_fields.items()]
    names = [flag.name for flag in flags]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in names}
        values = {
            name: value.date() if isinstance(value, datetime) else value
            for name, value in given.items()
            if value is not None
        }
        try:
            options = SearchOptions.model_validate(values)
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = "--" + str(problem["loc"][0]).replace("_", "-") if problem["loc"] else "an option"
            raise InputError(f"{where}: {problem['msg']}", f"see xmodal {command.__name__} --help") from None
        return command(**kwargs, options=options)

    ordered = [p for p in own if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    ordered += [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own if p not in ordered] + flags
    wrapper.__signature__ = signature.replace(parameters=ordered)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {}
    del wrapper.__wrapped__  # typer reads the signature above, not the command's own
    return wrapper  # type: ignore[return-value]


def setting_option(name: str, *declarations: str) -> Any:
    """A flag for a settings field: the settings' description, bounds and default, and the variable that sets it.

    (Parentheses, not brackets: typer's rich help would read `[env: X]` as markup and drop it.)
    """
    field = Settings.model_fields[name]
    text = (field.description or name.replace("_", " ").capitalize()).rstrip(".")
    notes = [f"env XMODAL_{name.upper()}"]
    if field.default is not None and field.default_factory is None and not isinstance(field.default, bool):
        notes.insert(0, f"default {field.default}")
    flags = declarations or ("--" + name.replace("_", "-"),)
    return typer.Option(*flags, help=f"{text} ({'; '.join(notes)}).", **_bounds(field))
