"""Generated documents frozen as a corpus folder (``gi-conform generate``).

``--generated N --seed S`` draws the same documents only under the same Hypothesis
version (6.155 and 6.170 draw others), so a published or shared result over generated
documents cannot be re-run elsewhere. A frozen set is those draws written once, in the
format of ``cases/`` (``index.json``, ``ID.xml`` and the reference's goldens), with the
versions that drew them in the index's ``generator``. ``check --corpus DIR`` reads it as
a corpus; ``check --generated-from DIR`` uses it instead of drawing (its cases keep
their ``gen-SEED-NNNN`` ids and are reported as generated).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gi_conform import __version__
from gi_conform.argv.build import Profile
from gi_conform.oracle.cases import corpus_cases
from gi_conform.oracle.model import CheckCase
from gi_conform.oracle.shrink import GeneratedDocument, case_files, generate_documents

__all__ = [
    "GeneratedSet",
    "GeneratedSetError",
    "generated_description",
    "generated_id",
    "generated_set_cases",
    "generator_versions",
    "read_generated_set",
    "refresh_generated_set",
    "set_files",
    "write_generated_set",
]


class GeneratedSetError(ValueError):
    """A folder is not a generated set, or cannot be written as one; says which and why."""


@dataclass(frozen=True)
class GeneratedSet:
    """A frozen set: where, which draw, and what drew it."""

    folder: Path
    seed: int
    count: int
    generator: Mapping[str, str]
    """``gi-conform`` and ``hypothesis``: the versions that drew the documents."""


def generator_versions() -> dict[str, str]:
    """The versions a draw depends on (Hypothesis only when it is installed)."""
    versions = {"gi-conform": __version__}
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        versions["hypothesis"] = importlib.metadata.version("hypothesis")
    return versions


def generated_id(seed: int, index: int) -> str:
    """``gen-SEED-NNNN``: a generated document's case id."""
    return f"gen-{seed}-{index:04d}"


def generated_description(document: GeneratedDocument, seed: int) -> str:
    what = f"invalid ({document.rule})" if document.rule else "valid"
    return f"generated {what} document, seed {seed}"


def _clear(folder: Path) -> None:
    """Remove an earlier generated set's files (only those its index names)."""
    try:
        read_generated_set(folder)
    except GeneratedSetError as error:
        raise GeneratedSetError(f"not replacing {folder}: {error}") from None
    data = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    for entry in data["cases"]:
        case_id = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(case_id, str) and "/" not in case_id and not case_id.startswith("."):
            for suffix in (".xml", ".err", *(f".{p.value}.args" for p in Profile)):
                (folder / f"{case_id}{suffix}").unlink(missing_ok=True)
    (folder / "index.json").unlink()


def write_generated_set(
    folder: Path, count: int, seed: int, *, replace: bool = False
) -> GeneratedSet:
    """Draw ``count`` documents with ``seed`` and write them to ``folder`` as a corpus.

    ``folder`` must be absent or empty, or (``replace``) hold an earlier generated set,
    whose files are removed first. Raises :class:`GeneratedSetError` or ``OSError``.
    """
    if folder.exists() and not folder.is_dir():
        raise GeneratedSetError(f"{folder}: not a folder")
    if folder.is_dir() and any(folder.iterdir()):
        if not replace:
            raise GeneratedSetError(f"{folder}: not empty (--force replaces a generated set)")
        _clear(folder)
    folder.mkdir(parents=True, exist_ok=True)
    versions = generator_versions()
    entries = []
    for index, document in enumerate(generate_documents(count, seed)):
        case_id = generated_id(seed, index)
        files, entry = case_files(
            case_id, document.xml, description=generated_description(document, seed)
        )
        files[f"{case_id}.xml"] = document.xml  # as drawn: no newline added at the end
        _write(folder, files)
        entries.append(entry)
    generator = {"command": f"gi-conform generate --seed {seed} -n {count}", **versions}
    index_data = {
        "format": "gi-conform-corpus",
        "version": 1,
        "description": f"{len(entries)} generated documents frozen by "
        f"'{generator['command']}' ({', '.join(f'{k} {v}' for k, v in versions.items())}).",
        "generator": {"seed": seed, "count": len(entries), **generator},
        "cases": entries,
    }
    _write(folder, {"index.json": _index_text(index_data)})
    return GeneratedSet(folder, seed, len(entries), versions)


def _write(folder: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        with (folder / name).open("w", encoding="utf-8", newline="") as file:
            file.write(text)


def _index_text(data: Mapping[str, object]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def set_files(folder: Path) -> dict[str, str]:
    """Every file a generated set should hold, its documents as they are on disk and the
    rest (goldens, index entries) as the reference gives them today: what
    :func:`refresh_generated_set` writes. Raises :class:`GeneratedSetError`."""
    read_generated_set(folder)
    data = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    files: dict[str, str] = {}
    entries = []
    for old in data["cases"]:
        case_id = old["id"]
        try:
            xml = (folder / f"{case_id}.xml").read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise GeneratedSetError(f"{folder}: cannot read {case_id}.xml: {error}") from None
        found, entry = case_files(case_id, xml, description=old["description"])
        files.update(found)
        files[f"{case_id}.xml"] = xml
        entries.append(entry)
    files["index.json"] = _index_text({**data, "cases": entries})
    return files


def refresh_generated_set(folder: Path) -> list[str]:
    """Rewrite a set's goldens and index entries from its documents (kept as drawn), after
    the reference changed; returns the names of the files that changed or went away."""
    wanted = set_files(folder)
    old = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    owned = {
        f"{entry['id']}{suffix}"
        for entry in old["cases"]
        for suffix in (".err", *(f".{p.value}.args" for p in Profile))
    }
    rewritten = [
        name
        for name, text in wanted.items()
        if not (folder / name).is_file() or (folder / name).read_bytes() != text.encode("utf-8")
    ]
    gone = [name for name in owned - set(wanted) if (folder / name).is_file()]
    for name in gone:
        (folder / name).unlink()
    _write(folder, {name: wanted[name] for name in rewritten})
    changed = sorted([*rewritten, *gone])
    return changed


def read_generated_set(folder: Path) -> GeneratedSet:
    """The set in ``folder``; raises :class:`GeneratedSetError` when it is none."""
    path = folder / "index.json"
    if not path.is_file():
        raise GeneratedSetError(f"{folder}: no index.json: not a generated set")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise GeneratedSetError(f"cannot read {path}: {error}") from None
    except ValueError as error:
        raise GeneratedSetError(f"{path}: not JSON: {error}") from None
    generator = data.get("generator") if isinstance(data, dict) else None
    if not isinstance(generator, dict) or not isinstance(data.get("cases"), list):
        raise GeneratedSetError(
            f"{path}: not a generated set (no 'generator'; made by gi-conform generate?)"
        )
    seed, count = generator.get("seed"), generator.get("count")
    if not isinstance(seed, int) or not isinstance(count, int):
        raise GeneratedSetError(f"{path}: generator.seed and generator.count must be integers")
    versions = {
        key: value
        for key, value in generator.items()
        if key in ("gi-conform", "hypothesis") and isinstance(value, str)
    }
    return GeneratedSet(folder, seed, count, versions)


def generated_set_cases(
    folder: Path,
    *,
    dialects: Sequence[str] = (),
    patterns: Sequence[str] = (),
    profile: Profile | None = None,
) -> list[CheckCase]:
    """A generated set's documents as generated cases (no link to ``cases/``)."""
    return [
        dataclasses.replace(case, source="generated")
        for case in corpus_cases(folder, dialects=dialects, patterns=patterns, profile=profile)
    ]
