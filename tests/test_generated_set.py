"""The published runs' frozen set (``reference/implementations/generated-seed0``, written by
``gi-conform generate``): its documents stay as drawn, its goldens and index entries are
the reference's of today, and it is a corpus folder the schema accepts."""

from __future__ import annotations

import json

import jsonschema

from gi_conform.cli.publish import GENERATE, GENERATED
from gi_conform.oracle.frozen import read_generated_set, set_files
from gi_conform.resources import reference_dir
from tests.helpers import ROOT

FOLDER = ROOT / GENERATED


def test_the_set_holds_what_the_reference_says_of_its_documents() -> None:
    wanted = set_files(FOLDER)
    present = {path.name for path in FOLDER.iterdir()}
    assert present == set(wanted), f"unused or missing files: {sorted(present ^ set(wanted))}"
    stale = sorted(
        name for name, text in wanted.items() if (FOLDER / name).read_bytes() != text.encode()
    )
    assert not stale, (
        f"{len(stale)} files of {GENERATED} differ from the reference, e.g. {stale[:5]}: "
        f"review, then gi-conform generate --refresh {GENERATED} (its documents stay)"
    )


def test_the_set_is_the_published_draw() -> None:
    generated = read_generated_set(FOLDER)
    assert GENERATE == ["generate", "--seed", "0", "-n", "200", GENERATED]
    assert (generated.seed, generated.count) == (0, 200)
    assert set(generated.generator) == {"gi-conform", "hypothesis"}
    index = json.loads((FOLDER / "index.json").read_text(encoding="utf-8"))
    schema = json.loads((reference_dir() / "corpus.schema.json").read_text())
    jsonschema.validate(index, schema)
    assert {case["expect"] for case in index["cases"]} == {"accept", "reject"}
