"""The argv formatter's profiles and the XML formatter's round trip."""

from __future__ import annotations

import json

import pytest

from gi_conform import Option, Profile, build_argv, flatten, format_xml, parse, render_args
from gi_conform.argv.build import default_profile, device_ids, emitted_initiators
from gi_conform.argv.options import keyval_escape, shell_quote
from gi_conform.corpus import load_cases
from tests.helpers import document, gpu, seed

ACCEPTED = [case for case in load_cases() if case.accepted]


def test_default_profile_follows_the_dialect() -> None:
    assert default_profile(parse(document(gpu("<acpi nodeset='1'/>")))) is Profile.LIBVIRT
    mixed = parse(document(gpu("<acpi nodeset='1'/>") + seed("hostdev0", 2)))
    assert default_profile(mixed) is Profile.SEED


def test_seed_profile_puts_initiators_after_all_devices() -> None:
    second = gpu("<acpi nodeset='2'/>").replace("0x12", "0x13").replace("0x02", "0x03")
    domain = parse(document(gpu() + second + seed("hostdev0", 1, "a")))
    flags = [o.flag + ("GI" if "initiator" in o.value else "") for o in build_argv(domain)]
    assert flags[-4:] == ["-device", "-device", "-objectGI", "-objectGI"]
    values = [o.value for o in build_argv(domain, Profile.SEED)]
    assert values[-2:] == [
        "acpi-generic-initiator,id=a,pci-dev=hostdev0,node=1",
        "acpi-generic-initiator,id=gi0,pci-dev=hostdev1,node=2",
    ]


def test_libvirt_profile_puts_initiators_right_after_their_device() -> None:
    second = gpu("<acpi nodeset='2'/>").replace("0x12", "0x13").replace("0x02", "0x03")
    domain = parse(document(gpu("<acpi nodeset='1'/>") + second))
    options = build_argv(domain, Profile.LIBVIRT)
    tail = [(o.flag, json.loads(o.value)) for o in options if o.flag != "-numa"][1:]
    assert [(flag, props.get("id")) for flag, props in tail] == [
        ("-device", "hostdev0"),
        ("-object", "gi0"),
        ("-device", "hostdev1"),
        ("-object", "gi1"),
    ]
    assert tail[1][1] == {
        "qom-type": "acpi-generic-initiator",
        "id": "gi0",
        "pci-dev": "hostdev0",
        "node": 1,
    }


def _ids(options: tuple[Option, ...]) -> list[str]:
    ids = []
    for option in options:
        if option.value.startswith("{"):
            ids.append(json.loads(option.value)["id"])
        elif option.flag == "-object":
            ids.append(dict(p.split("=", 1) for p in option.value.split(",")[1:])["id"])
    return ids


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        # the seed profile keeps the alias gi0, so the nodeset's initiator takes gi2
        (Profile.SEED, ["gi0", "gi1", "gi2", "ram-node0"]),
        # libvirt ignores a non-ua- alias: the device is hostdev0, gi0 is free again
        (Profile.LIBVIRT, ["gi0", "gi1", "hostdev0", "ram-node0"]),
    ],
)
def test_generated_ids_never_collide_with_document_names(
    profile: Profile, expected: list[str]
) -> None:
    devices = gpu("<alias name='gi0'/><acpi nodeset='1'/>") + seed("gi0", 2, "gi1")
    ids = _ids(build_argv(parse(document(devices)), profile))
    assert sorted(ids) == expected


def test_libvirt_profile_names_devices_as_libvirt_does() -> None:
    """ua- aliases are kept; other hostdevs (any kind) share one hostdev<N> counter."""

    def at(host: int, slot: int, extra: str) -> str:
        return (
            gpu(extra)
            .replace("bus='0x06'", f"bus='{host:#04x}'")
            .replace("slot='0x02'", f"slot='{slot:#04x}'")
        )

    devices = (
        at(0x41, 2, "<alias name='ua-gpu'/><acpi nodeset='1'/>")
        + at(0x42, 3, "<alias name='hostdev7'/>")
        + at(0x43, 4, "<acpi nodeset='2'/>")
    )
    domain = parse(document(devices))
    assert device_ids(domain, Profile.LIBVIRT) == {
        "ua-gpu": "ua-gpu",
        "hostdev7": "hostdev0",
        "hostdev0": "hostdev1",
    }
    assert device_ids(domain, Profile.SEED) == {a: a for a in ("ua-gpu", "hostdev7", "hostdev0")}
    pairs = [(i.id, i.device) for i in emitted_initiators(domain, Profile.LIBVIRT)]
    assert pairs == [("gi0", "ua-gpu"), ("gi1", "hostdev1")]


def test_memoryless_cells_get_no_backend() -> None:
    numa = [o for o in build_argv(parse(document(gpu()))) if o.flag in ("-numa", "-object")]
    assert [o.value for o in numa[1:]] == [
        "node,nodeid=0,cpus=0-3,memdev=ram-node0",
        "node,nodeid=1",
        "node,nodeid=2",
    ]
    assert json.loads(numa[0].value)["size"] == 2**30


def test_quoting_and_escaping() -> None:
    assert shell_quote("node,nodeid=1") == "node,nodeid=1"
    assert shell_quote('{"a":1}') == "'{\"a\":1}'"
    assert shell_quote("it's") == "'it'\\''s'"
    assert keyval_escape("a,b") == "a,,b"


def test_render_and_flatten() -> None:
    options = build_argv(parse(document(gpu("<acpi nodeset='1-2'/>"))))
    text = render_args(options)
    assert text.count(" \\\n") == len(options) - 1
    assert text.endswith("}'\n")
    assert flatten(options)[:2] == ["-object", options[0].value]
    assert render_args(()) == ""


@pytest.mark.parametrize("case", ACCEPTED, ids=[c.id for c in ACCEPTED])
def test_xml_round_trip_on_the_corpus(case: object) -> None:
    source = case.xml_path.read_bytes()  # type: ignore[attr-defined]
    domain = parse(source)
    canonical = format_xml(domain)
    assert parse(canonical) == domain
    assert format_xml(parse(canonical)) == canonical
    for profile in Profile:
        assert build_argv(parse(canonical), profile) == build_argv(domain, profile)


def test_format_xml_shape() -> None:
    text = format_xml(parse(document(gpu("<alias name='ua-x'/><acpi nodeset='2,1'/>"))))
    assert "<acpi nodeset='1-2'/>" in text
    assert "<alias name='ua-x'/>" in text
    assert "<cell id='1' memory='0' unit='KiB'/>" in text
    assert text.startswith("<domain type='kvm'>\n  <name>t</name>\n")
