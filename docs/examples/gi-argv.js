#!/usr/bin/env node
// gi-argv.js: a small, self-contained implementation of libvirt's <acpi nodeset> for
// ACPI Generic Initiators, written for the gi-conform tutorial (docs/tutorial/). It reads
// one domain XML file and prints the GI-relevant QEMU argv as libvirt 11.8+ writes it:
//
//   node gi-argv.js DOMAIN.xml
//
// The contract gi-conform's `cmd:` adapter holds it to:
//   accepted  exit 0, the argv on stdout (here: a JSON array of strings)
//   rejected  exit 1, one line on stderr starting "error:" (rule ids in it count for
//             `gi-conform check --messages`)
//   anything else (a crash, a stack trace, output without QEMU options) is an error of the
//   implementation, not a verdict.
//
// It covers the subset the tutorial checks: NUMA cells (CPUs, memory, memoryless cells),
// PCI host devices with a guest address and <acpi nodeset>. No dependency but Node itself.
"use strict";

const fs = require("fs");

class Rejected extends Error {}

function reject(rule, message) {
  throw new Rejected(`error: ${rule}: ${message}`);
}

// -- a minimal XML reader: elements, attributes and text (enough for domain XML) --------

function parseXml(text) {
  if (/<!DOCTYPE/i.test(text)) reject("XML-FORBIDDEN", "a DTD is not allowed");
  const entities = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
  const decode = (s) =>
    s.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (_, e) =>
      e[0] === "#"
        ? String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10))
        : entities[e],
    );
  const root = { name: "#document", attrs: {}, children: [] };
  const stack = [root];
  const token = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<\/([\w:.-]+)\s*>|<([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)|(<)/g;
  let match;
  while ((match = token.exec(text)) !== null) {
    const [, close, open, attrText, selfClosing, chars, stray] = match;
    const top = stack[stack.length - 1];
    if (stray !== undefined) reject("XML-MALFORMED", `unexpected '<' at offset ${match.index}`);
    if (close !== undefined) {
      if (top.name !== close) reject("XML-MALFORMED", `</${close}> closes <${top.name}>`);
      stack.pop();
    } else if (open !== undefined) {
      const attrs = {};
      for (const [, key, v1, v2] of attrText.matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
        attrs[key] = decode(v1 !== undefined ? v1 : v2);
      }
      const element = { name: open, attrs, children: [], text: "" };
      top.children.push(element);
      if (!selfClosing) stack.push(element);
    } else if (chars !== undefined && stack.length > 1) {
      top.text += decode(chars);
    }
  }
  if (stack.length !== 1 || root.children.length !== 1) {
    reject("XML-MALFORMED", "not one well-formed root element");
  }
  return root.children[0];
}

const child = (element, name) => (element ? element.children.find((c) => c.name === name) : undefined);
const children = (element, name) => (element ? element.children.filter((c) => c.name === name) : []);

// -- values as libvirt reads them ------------------------------------------------------

function bitmap(text, what) {
  // "0-3,8-11,^2": ranges, single numbers and exclusions, as libvirt's virBitmapParse.
  const on = new Set();
  const off = new Set();
  for (const part of text.split(",").map((p) => p.trim())) {
    const m = /^(\^)?(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) reject("GI-NODE-SYNTAX", `${what} '${text}' is not a list of numbers and ranges`);
    const [first, last] = [Number(m[2]), Number(m[3] === undefined ? m[2] : m[3])];
    if (last < first) reject("GI-NODE-SYNTAX", `${what} '${text}' has a reversed range`);
    for (let n = first; n <= last; n++) (m[1] ? off : on).add(n);
  }
  const result = [...on].filter((n) => !off.has(n)).sort((a, b) => a - b);
  if (result.length === 0) reject("GI-NODE-SYNTAX", `${what} '${text}' is empty`);
  return result;
}

const UNITS = { b: 1, bytes: 1, k: 1024, kib: 1024, kb: 1000, m: 2 ** 20, mib: 2 ** 20, mb: 1e6,
  g: 2 ** 30, gib: 2 ** 30, gb: 1e9, t: 2 ** 40, tib: 2 ** 40, tb: 1e12 };

function bytes(value, unit) {
  const scale = UNITS[(unit || "KiB").toLowerCase()];
  if (!/^\d+$/.test(value || "") || scale === undefined) {
    reject("NUMA-MEMORY-SYNTAX", `memory '${value}' '${unit}' is not a size`);
  }
  const raw = Number(value) * scale;
  const kib = Math.ceil(raw / 1024) * 1024; // libvirt stores whole KiB
  return Math.ceil(kib / 2 ** 20) * 2 ** 20; // and aligns each cell to 1 MiB on x86
}

const hex = (value) => parseInt(value, value && value.startsWith("0x") ? 16 : 10);
const pad = (n, width) => n.toString(16).padStart(width, "0");

// -- the conversion --------------------------------------------------------------------

function ranges(sorted) {
  // [0,1,2,3,8,9] -> ["0-3", "8-9"]: QEMU takes one cpus= per range.
  const out = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out;
}

function convert(domain) {
  if (domain.name !== "domain") reject("XML-ROOT", `the root element is <${domain.name}>, not <domain>`);
  const os = child(child(domain, "os"), "type");
  const machine = (os && os.attrs.machine) || "";
  const rootBus = /^pc($|-i440fx)/.test(machine) ? "pci.0" : "pcie.0";

  const cells = children(child(child(domain, "cpu"), "numa"), "cell").map((cell) => ({
    id: Number(cell.attrs.id),
    cpus: cell.attrs.cpus ? bitmap(cell.attrs.cpus, "cpus") : [],
    memory: bytes(cell.attrs.memory, cell.attrs.unit),
  }));
  const cellIds = new Set(cells.map((cell) => cell.id));

  const argv = [];
  for (const cell of cells) {
    if (cell.memory > 0) {
      const backend = { "qom-type": "memory-backend-ram", id: `ram-node${cell.id}`, size: cell.memory };
      argv.push("-object", JSON.stringify(backend));
    }
    const node = [`node`, `nodeid=${cell.id}`, ...ranges(cell.cpus).map((r) => `cpus=${r}`)];
    if (cell.memory > 0) node.push(`memdev=ram-node${cell.id}`);
    argv.push("-numa", node.join(","));
  }

  let gi = 0;
  children(child(domain, "devices"), "hostdev").forEach((hostdev, index) => {
    const source = child(child(hostdev, "source"), "address");
    const acpi = child(hostdev, "acpi");
    const nodes = acpi ? bitmap(acpi.attrs.nodeset || "", "nodeset") : [];
    if (hostdev.attrs.type !== "pci") {
      if (nodes.length) reject("GI-DEVICE-NOT-PCI", `hostdev ${index} is not a PCI device`);
      return;
    }
    for (const node of nodes) {
      if (!cells.length) reject("GI-NO-NUMA", `hostdev ${index}: <acpi nodeset> without NUMA cells`);
      if (!cellIds.has(node)) reject("GI-NODE-UNKNOWN", `hostdev ${index}: node ${node} is not a NUMA cell`);
    }
    const id = `hostdev${index}`;
    const host = `${pad(hex(source.attrs.domain || "0"), 4)}:${pad(hex(source.attrs.bus), 2)}:` +
      `${pad(hex(source.attrs.slot), 2)}.${hex(source.attrs.function || "0")}`;
    const device = { driver: "vfio-pci", host, id };
    const guest = child(hostdev, "address");
    if (guest && guest.attrs.type === "pci") {
      const bus = hex(guest.attrs.bus || "0");
      const [slot, fn] = [hex(guest.attrs.slot || "0"), hex(guest.attrs.function || "0")];
      device.bus = bus === 0 ? rootBus : `pci.${bus}`;
      device.addr = fn ? `0x${slot.toString(16)}.0x${fn.toString(16)}` : `0x${slot.toString(16)}`;
    }
    argv.push("-device", JSON.stringify(device));
    for (const node of nodes) {
      const object = { "qom-type": "acpi-generic-initiator", id: `gi${gi++}`, "pci-dev": id, node };
      argv.push("-object", JSON.stringify(object));
    }
  });
  return argv;
}

function main(path) {
  try {
    const argv = convert(parseXml(fs.readFileSync(path, "utf8")));
    process.stdout.write(JSON.stringify(argv) + "\n");
    return 0;
  } catch (error) {
    if (!(error instanceof Rejected)) throw error; // a bug: let it show as one
    process.stderr.write(error.message + "\n");
    return 1;
  }
}

if (process.argv.length !== 3) {
  process.stderr.write("usage: node gi-argv.js DOMAIN.xml\n");
  process.exit(2);
}
process.exitCode = main(process.argv[2]);
