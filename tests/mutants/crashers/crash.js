// A Node implementation that throws on every document: an uncaught exception
// (exit 1, the stack on stderr). With CRASH_SAYS_ERROR=1 it first logs an `error:`
// line, as a logger would before the exception escapes: still a crash, not a rejection.
"use strict";
const fs = require("fs");

function convert(path) {
  const xml = fs.readFileSync(path, "utf8");
  if (process.env.CRASH_SAYS_ERROR === "1") {
    console.error(`error: cannot convert ${path}`);
  }
  throw new TypeError(`cannot read properties of a ${xml.length}-character document`);
}

process.stdout.write(convert(process.argv[2]));
