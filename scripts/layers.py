#!/usr/bin/env python3
"""The layer check (issue 13): read the `use` lines and module paths of
kinko-core, the `kinko` command and the app shell, and the imports of the
page, then fail when

  * a module of kinko-core outside the actions layer (`actions/`) and the
    session machinery (`session.rs`, the crate root) names `session`, or
  * any of the four grows an import circle (two or more files that reach
    each other through their imports), or
  * a module of kinko-core outside `crypto/` names a crate of
    cryptographic primitives (sha2, aes_gcm, hpke, p256 …).

A file is a node; an edge is any path it names that resolves to another
file's module (`use crate::a::b`, `crate::a::f()`, `super::x`, a child
module's name, `import … from './x'`). Items a module declares inline
(`mod tests { … }`) belong to its file.

Usage: python3 scripts/layers.py [--graph]   (exit 1 on a finding)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RUST_TREES = {
    "kinko-core": ROOT / "crates/kinko-core/src",
    "kinko (CLI)": ROOT / "crates/kinko-cli/src",
    "app shell": ROOT / "src-tauri/src",
    "kinko-server": ROOT / "crates/kinko-server/src",
    "kinko-remote": ROOT / "crates/kinko-remote/src",
}
PAGE = ROOT / "ui/src"

# Modules of kinko-core that may name `session`.
SESSION_MACHINERY = {"session", "actions", ""}

# Crates of cryptographic primitives: only kinko-core's `crypto` names them.
PRIMITIVE_CRATES = ("aes_gcm", "camellia", "argon2", "pbkdf2", "hkdf", "hmac", "sha2", "hpke", "p256", "getrandom")


def module_of(src: Path, file: Path) -> tuple[str, ...]:
    rel = file.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts == ["main"] and (src / "lib.rs").exists():
        # A binary beside a library is its own crate, which names the
        # library by its crate name (no `crate::` path reaches it).
        return ("<main>",)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


def strip_comments_and_strings(text: str) -> str:
    """Drop comments and the contents of string literals, so a path
    mentioned in a doc comment or a message is not an import."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "r" and re.match(r'r#*"', text[i:]) and not re.match(r"\w", text[i - 1 : i] or " "):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            out.append('""')
            i = n if end < 0 else end + 1 + len(hashes)
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""')
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:]):
            # A char literal ('{' would otherwise upset the brace count);
            # a lifetime ('a) has no closing quote and stays.
            i += len(re.match(r"'(\\.|[^\\'])'", text[i:]).group(0))
            out.append("' '")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand_use_tree(tree: str) -> list[str]:
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"]."""
    tree = re.sub(r"\s+", "", tree)
    depth, start = 0, None
    for i, c in enumerate(tree):
        if c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                prefix = tree[:start]
                inner = tree[start + 1 : i]
                parts, d, last = [], 0, 0
                for k, ch in enumerate(inner):
                    if ch == "{":
                        d += 1
                    elif ch == "}":
                        d -= 1
                    elif ch == "," and d == 0:
                        parts.append(inner[last:k])
                        last = k + 1
                parts.append(inner[last:])
                out = []
                for p in parts:
                    if not p:
                        continue
                    out += [prefix + q for q in expand_use_tree(p)]
                return out
    return [tree]


def inline_module_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in re.finditer(r"\bmod\s+\w+\s*\{", text):
        depth, i = 0, m.end() - 1
        while i < len(text):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        spans.append((m.start(), i))
    return spans


def rust_graph(src: Path) -> dict[tuple[str, ...], set[tuple[str, ...]]]:
    files = sorted(src.rglob("*.rs"))
    mods = {module_of(src, f): f for f in files}
    graph: dict[tuple[str, ...], set[tuple[str, ...]]] = {m: set() for m in mods}

    def resolve(path: list[str], here: tuple[str, ...], inline: bool):
        segs = list(path)
        if not segs:
            return None
        base: list[str]
        if segs[0] == "crate":
            base, segs = [], segs[1:]
        elif segs[0] in ("self", "super"):
            base = list(here)
            # Inside an inline module, the first `super` is the file itself.
            skip_first_super = inline
            while segs and segs[0] in ("self", "super"):
                if segs[0] == "super":
                    if skip_first_super:
                        skip_first_super = False
                    elif base:
                        base.pop()
                segs = segs[1:]
        elif tuple(here) + (segs[0],) in mods:
            base = list(here)
        elif not here and (segs[0],) in mods:
            base = []
        else:
            return None
        best = None
        for k in range(len(segs) + 1):
            cand = tuple(base + segs[:k])
            if cand in mods:
                best = cand
        return best

    for mod, file in mods.items():
        text = strip_comments_and_strings(file.read_text())
        spans = inline_module_spans(text)

        def in_inline(pos: int) -> bool:
            return any(a <= pos <= b for a, b in spans)

        uses = []
        for m in re.finditer(r"\buse\s+([^;]+);", text):
            for p in expand_use_tree(m.group(1)):
                p = re.sub(r"\bas\s*\w+$", "", p.replace("::*", ""))
                uses.append((p, m.start()))
        for m in re.finditer(r"(?<![\w:])((?:crate|super|self)(?:::\w+)+)", text):
            uses.append((m.group(1), m.start()))
        # A child module's name used as a path (`tree::append`).
        for m in re.finditer(r"(?<![\w:])(\w+)::\w+", text):
            if mod + (m.group(1),) in mods:
                uses.append((m.group(0), m.start()))
        for p, pos in uses:
            target = resolve(p.split("::"), mod, in_inline(pos))
            if target is not None and target != mod:
                graph[mod].add(target)
    return graph


def page_graph(src: Path):
    files = sorted(f for f in src.rglob("*.ts") if not f.name.endswith(".test.ts"))
    graph = {}
    for f in files:
        node = (str(f.relative_to(src).with_suffix("")),)
        graph.setdefault(node, set())
        text = f.read_text()
        for m in re.finditer(r"""(?:import|export)[^'"]*?from\s*['"](\.[^'"]+)['"]""", text):
            target = (f.parent / m.group(1)).resolve()
            rel = target.relative_to(src.resolve())
            graph[node].add((str(rel.with_suffix("") if rel.suffix in (".ts", ".js") else rel),))
    for node in graph:
        graph[node] = {t for t in graph[node] if t in graph and t != node}
    return graph


def circles(graph):
    """Tarjan's strongly connected components of two or more nodes."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def name(m):
    return "::".join(m) if m else "(root)"


def main() -> int:
    show = "--graph" in sys.argv
    problems = []
    graphs = {k: rust_graph(v) for k, v in RUST_TREES.items()}
    graphs["page"] = page_graph(PAGE)
    for label, g in graphs.items():
        if show:
            for m in sorted(g):
                print(f"{label}: {name(m)} -> {', '.join(name(t) for t in sorted(g[m]))}")
        for comp in circles(g):
            problems.append(f"{label}: import circle: {' ⇄ '.join(name(m) for m in comp)}")
    for m, targets in sorted(graphs["kinko-core"].items()):
        if ("session",) in targets and (m[0] if m else "") not in SESSION_MACHINERY:
            problems.append(
                f"kinko-core: {name(m)} names `session`; only actions/ and session.rs may (rules know nothing of sessions)"
            )
    core = RUST_TREES["kinko-core"]
    pattern = re.compile(r"(?<![\w:])(%s)::" % "|".join(PRIMITIVE_CRATES))
    for file in sorted(core.rglob("*.rs")):
        if file.relative_to(core).parts[0] == "crypto":
            continue
        for m in pattern.finditer(strip_comments_and_strings(file.read_text())):
            problems.append(
                f"kinko-core: {file.relative_to(core)} names the primitive crate `{m.group(1)}`; only crypto may"
            )
            break
    # Core errors name fields, not the command's flags (the command adds
    # its flag: `kinko::args::flag_for`). about.rs describes commands.
    flag = re.compile(r'"[^"\n]*(?<![\w-])--[a-z][a-z-]*[^"\n]*"')
    for file in sorted(core.rglob("*.rs")):
        if file.name == "about.rs":
            continue
        text = file.read_text()
        spans = inline_module_spans(text)
        for m in flag.finditer(text):
            if any(a <= m.start() <= b for a, b in spans) or text[: m.start()].rstrip().endswith("//"):
                continue
            line = text.count("\n", 0, m.start()) + 1
            problems.append(
                f"kinko-core: {file.relative_to(core)}:{line} names a command-line flag in {m.group(0)}; name the field (Error::field)"
            )
    for p in problems:
        print(p)
    if problems:
        print(f"layers: {len(problems)} finding(s)")
        return 1
    print("layers: no import circle; only the actions layer names the session")
    return 0


if __name__ == "__main__":
    sys.exit(main())
