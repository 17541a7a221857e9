"""The README's configuration table, generated from the settings classes so it cannot drift.

``python -m pos.ops.configdoc`` prints the table, ``--write`` puts it into ``README.md``
between the markers, ``--check`` exits 1 when the README is behind the code (the unit
tests run the same check). The settings classes are the single source: a new setting
appears in the README once its ``Field`` has a description.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from pos.config import PROJECT_ROOT, SETTINGS_CLASSES

START = "<!-- config:start -->"
END = "<!-- config:end -->"
README = PROJECT_ROOT / "README.md"


@dataclass(frozen=True)
class SettingDoc:
    part: str
    env: str
    default: str
    meaning: str


def env_name(cls: type[BaseSettings], field_name: str, field: FieldInfo) -> str:
    """The environment variable pydantic-settings reads for this field."""
    if isinstance(field.validation_alias, str):
        return field.validation_alias.upper()
    prefix = str(cls.model_config.get("env_prefix") or "")
    return (prefix + field_name).upper()


def render_default(value: object) -> str:
    """A default as a user would write it in `.env`.

    Paths inside the checkout are shown relative to it: the absolute path differs on every
    machine, and the table must be the same wherever it is generated.
    """
    if value is PydanticUndefined:
        return "(required)"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    # Complex settings are read from the environment as JSON, so they are shown as JSON.
    text = json.dumps(value) if isinstance(value, dict | list) else str(value)
    if isinstance(value, Path) and value.is_relative_to(PROJECT_ROOT):
        text = value.relative_to(PROJECT_ROOT).as_posix()
    return f"`{text}`" if text else '`""`'


def settings_docs(classes: Iterable[type[BaseSettings]] = SETTINGS_CLASSES) -> list[SettingDoc]:
    docs = []
    for cls in classes:
        # ThirdPartySettings -> "third party": the table's own lower-case style.
        part = re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__.removesuffix("Settings")).lower()
        for name, field in cls.model_fields.items():
            docs.append(
                SettingDoc(
                    part=part,
                    env=env_name(cls, name, field),
                    default=render_default(
                        field.get_default(call_default_factory=True, validated_data={})
                    ),
                    meaning=field.description or "",
                )
            )
    return docs


def render_table(docs: Sequence[SettingDoc]) -> str:
    lines = ["| part | variable | default | meaning |", "|---|---|---|---|"]
    previous = None
    for doc in docs:
        # The part only on its first row: the table reads as groups without extra headings.
        part = doc.part if doc.part != previous else ""
        previous = doc.part
        cells = (part, f"`{doc.env}`", doc.default, doc.meaning)
        # A pipe, even inside a code span, would end the cell early.
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def splice(readme: str, table: str) -> str:
    """``readme`` with the text between the markers replaced by ``table``."""
    head, start, rest = readme.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"README has no {START} ... {END} section")
    return f"{head}{START}\n{table}\n{END}{tail}"


def generated_readme(readme: str) -> str:
    return splice(readme, render_table(settings_docs()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pos.ops.configdoc", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="update README.md in place")
    mode.add_argument("--check", action="store_true", help="exit 1 if README.md has drifted")
    args = parser.parse_args(argv)
    if not (args.write or args.check):
        print(render_table(settings_docs()))
        return 0
    current = README.read_text(encoding="utf-8")
    wanted = generated_readme(current)
    if args.check:
        if wanted != current:
            print("README.md configuration table is stale: run python -m pos.ops.configdoc --write")
            return 1
        return 0
    if wanted != current:
        README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
