"""The golden corpus (``cases/``): loading the index and naming each case's files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gi_conform.argv.build import Profile
from gi_conform.resources import cases_dir

__all__ = ["Case", "load_cases"]


@dataclass(frozen=True)
class Case:
    """One golden case: its metadata and where its files are."""

    id: str
    description: str
    dialect: str
    features: tuple[str, ...]
    expect: str
    rules: tuple[str, ...]
    folder: Path

    @property
    def accepted(self) -> bool:
        return self.expect == "accept"

    @property
    def xml_path(self) -> Path:
        return self.folder / f"{self.id}.xml"

    def args_path(self, profile: Profile) -> Path:
        return self.folder / f"{self.id}.{profile.value}.args"

    @property
    def err_path(self) -> Path:
        return self.folder / f"{self.id}.err"

    def expected_files(self) -> tuple[Path, ...]:
        """Every file this case owns; anything else in the folder is an unused file."""
        if self.accepted:
            return (self.xml_path, *(self.args_path(profile) for profile in Profile))
        return (self.xml_path, self.err_path)


def load_cases(folder: Path | None = None) -> tuple[Case, ...]:
    """The cases of ``folder`` (default: the bundled corpus) in index order."""
    return _load(folder or cases_dir())


@cache
def _load(folder: Path) -> tuple[Case, ...]:
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    return tuple(
        Case(
            id=entry["id"],
            description=entry["description"],
            dialect=entry["dialect"],
            features=tuple(entry["features"]),
            expect=entry["expect"],
            rules=tuple(entry["rules"]),
            folder=folder,
        )
        for entry in index["cases"]
    )
