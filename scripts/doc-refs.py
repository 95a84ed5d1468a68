#!/usr/bin/env python3
"""Docs that match the code: every `path.rs::name` a document in docs/ or
README.md names must be a file of the tree that defines `name` (a
function, type, constant, test or module item). A moved or renamed item
fails the test command until the docs follow it.

Usage: python3 scripts/doc-refs.py   (exit 1 naming each stale reference)
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The handoff is a diary of past sessions: it names things as they were.
DOCS = sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "handoff.md") + [ROOT / "README.md"]
REF = re.compile(r"`?([A-Za-z0-9_./-]+\.rs)::([A-Za-z_][A-Za-z0-9_]*)")
FILES = [p for p in ROOT.rglob("*.rs") if "target" not in p.parts and "node_modules" not in p.parts]


# The short forms docs/traceability.md defines.
PREFIXES = {"core/": "crates/kinko-core/src/", "e2e/": "tests/cli/"}


def candidates(path: str):
    """Files whose path ends with `path` (docs may shorten the front)."""
    for short, long in PREFIXES.items():
        if path.startswith(short):
            path = long + path[len(short):]
    return [f for f in FILES if str(f.relative_to(ROOT)).endswith(path) and
            (str(f.relative_to(ROOT)) == path or str(f.relative_to(ROOT)).endswith("/" + path))]


def defines(text: str, name: str) -> bool:
    return re.search(
        r"\b(fn|struct|enum|const|static|type|trait|mod)\s+%s\b" % name, text
    ) is not None


def main() -> int:
    stale = []
    for doc in DOCS:
        for n, line in enumerate(doc.read_text().splitlines(), 1):
            for m in REF.finditer(line):
                path, name = m.group(1), m.group(2)
                files = candidates(path)
                where = f"{doc.relative_to(ROOT)}:{n}"
                if not files:
                    stale.append(f"{where}: {path} is no file of the tree")
                elif not any(defines(f.read_text(), name) for f in files):
                    stale.append(f"{where}: {path} does not define {name}")
    for s in stale:
        print(s)
    if stale:
        print(f"doc-refs: {len(stale)} stale reference(s)")
        return 1
    print("doc-refs: every path::name in the docs is in the code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
