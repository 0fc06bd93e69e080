#!/usr/bin/env python3
"""The runtime's module imports: circles, and imports that run back up a layer.

Reads every `.rs` file under `runtime/src` (unit-test modules left out), finds the paths
it names (`use crate::a::B`, `crate::a::f(..)`, `super::x`, `self::y`, `mod z;`),
resolves each to the file that defines it (through `pub use` re-exports, so that
`crate::HttpError` is `error.rs`, not `lib.rs`), and prints:

* the import circles (strongly connected files), largest first, with the edges that
  tie each;
* every import from a file to a file of a higher layer, by the layer table in
  `docs/architecture.md` (the lines `| N | module, module |` of its "Layers" table);
* the totals, in one line: `files N, imports N, largest circle N, imports back up N`.

Usage: `scripts/imports.py [--check MAX_CIRCLE]`. With `--check`, exits 1 when a circle is
larger than MAX_CIRCLE files or an import runs back up, so that CI keeps the layers.
"""

import os
import re
import sys
from collections import defaultdict

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SRC = os.path.join(ROOT, "runtime", "src")
ARCH = os.path.join(ROOT, "docs", "architecture.md")


def strip(text):
    """Drops comments, string and char literals, and `#[cfg(test)]` items."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 8]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            i = n if j < 0 else j + len(end)
            out.append('""')
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]) or (c == "'" and re.match(r"'\\u\{[0-9a-fA-F]+\}'", text[i:i + 12])):
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:])
            i += len(m.group(0))
            out.append("' '")
        else:
            out.append(c)
            i += 1
    code = "".join(out)
    # `#[cfg(test)]` items: skip the attribute and the item, to its `;` or matching `}`.
    while True:
        m = re.search(r"#\[cfg\(test\)\]", code)
        if not m:
            return code
        j = m.end()
        while j < len(code) and code[j] not in "{;":
            j += 1
        if j < len(code) and code[j] == "{":
            depth = 0
            while j < len(code):
                if code[j] == "{":
                    depth += 1
                elif code[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
        code = code[:m.start()] + code[j + 1:]


def module_of(rel):
    """`serve/conn.rs` -> ('serve', 'conn'); `serve/mod.rs` and `lib.rs` -> the folder's."""
    parts = rel[:-3].split("/")
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return tuple(parts)


def split_use_tree(tree):
    """`a::{b, c::{d, e as f}}` -> [['a','b'], ['a','c','d'], ['a','c','e']]."""
    tree = tree.strip()
    depth, start, items = 0, 0, []
    # Split at top-level commas.
    for k, ch in enumerate(tree):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(tree[start:k])
            start = k + 1
    items.append(tree[start:])
    paths = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        brace = item.find("{")
        if brace >= 0:
            prefix = [p for p in item[:brace].split("::") if p.strip()]
            inner = item[brace + 1:item.rfind("}")]
            for sub in split_use_tree(inner):
                paths.append([p.strip() for p in prefix] + sub)
        else:
            item = re.sub(r"\s+as\s+\w+$", "", item)
            paths.append([p.strip() for p in item.split("::") if p.strip()])
    return paths


class Crate:
    def __init__(self):
        self.files = {}  # module tuple -> relative path
        self.code = {}  # module tuple -> stripped code
        for base, _, names in os.walk(SRC):
            for name in names:
                if name.endswith(".rs"):
                    rel = os.path.relpath(os.path.join(base, name), SRC).replace(os.sep, "/")
                    with open(os.path.join(base, name), encoding="utf-8") as f:
                        code = strip(f.read())
                    mod = module_of(rel)
                    # A folder module in `name.rs` next to `name/` (no mod.rs) is the same.
                    self.files[mod] = rel
                    self.code[mod] = code
        self.reexports = defaultdict(dict)  # module -> {name: absolute path list}
        for mod, code in self.code.items():
            for m in re.finditer(r"\bpub(?:\s*\([^)]*\))?\s+use\s+([^;]+);", code):
                for path in split_use_tree(m.group(1)):
                    absolute = self.absolute(mod, path)
                    # Inline modules (`pub mod prelude { pub use crate::X; }`) re-export
                    # what the file itself holds: the first, outer, one counts.
                    if absolute and path[-1] not in ("self", "*") and absolute != [*mod, path[-1]]:
                        self.reexports[mod].setdefault(path[-1], absolute)

    def absolute(self, mod, path):
        """A path as written in `mod`, made absolute from the crate root, or None."""
        if not path:
            return None
        head = path[0]
        if head == "crate":
            return list(path[1:])
        if head == "self":
            return list(mod) + list(path[1:])
        if head == "super":
            base = list(mod)
            rest = list(path)
            while rest and rest[0] == "super":
                base = base[:-1]
                rest = rest[1:]
            return base + rest
        # A path relative to the module: its own child module.
        if tuple(list(mod) + [head]) in self.files:
            return list(mod) + list(path)
        return None

    def resolve(self, path, seen=None):
        """The module (file) that defines what `path` names."""
        seen = seen or set()
        best = ()
        for k in range(1, len(path) + 1):
            if tuple(path[:k]) in self.files:
                best = tuple(path[:k])
            else:
                break
        rest = path[len(best):]
        if rest and rest[0] in self.reexports.get(best, {}) and (best, rest[0]) not in seen:
            seen.add((best, rest[0]))
            return self.resolve(self.reexports[best][rest[0]] + rest[1:], seen)
        return best

    def edges(self):
        edges = defaultdict(set)  # file module -> {file module: {names}}
        names = defaultdict(set)
        for mod, code in self.code.items():
            targets = []
            for m in re.finditer(r"(?<![\w$])(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(\w+)\s*;", code):
                targets.append(([*mod, m.group(1)], m.group(1)))
            for m in re.finditer(r"\buse\s+([^;]+);", code):
                for path in split_use_tree(m.group(1)):
                    absolute = self.absolute(mod, path)
                    if absolute is not None:
                        targets.append((absolute, path[-1]))
            for m in re.finditer(r"(?<![\w$:])((?:crate|super|self)(?:\s*::\s*\w+)+)", code):
                path = [p.strip() for p in m.group(1).split("::")]
                absolute = self.absolute(mod, path)
                if absolute is not None:
                    targets.append((absolute, path[-1]))
            for absolute, name in targets:
                target = self.resolve(absolute)
                if target != mod and target in self.files:
                    edges[mod].add(target)
                    names[(mod, target)].add(name)
        return edges, names


def circles(nodes, edges):
    """Tarjan's strongly connected components with more than one node."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
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
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return sorted(out, key=len, reverse=True)


def layers():
    """Module -> layer number, from the table in docs/architecture.md."""
    table = {}
    if not os.path.exists(ARCH):
        return table
    with open(ARCH, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\|\s*(\d+)\s*\|[^|]*\|\s*([^|]+)\|", line)
            if m:
                for name in m.group(2).split(","):
                    name = name.strip().strip("`")
                    if name:
                        table[tuple(name.split("::"))] = int(m.group(1))
    return table


def layer_of(mod, table):
    """The layer of a module: its own entry, else its nearest parent's."""
    for k in range(len(mod), 0, -1):
        if mod[:k] in table:
            return table[mod[:k]]
    return None


def main():
    check = None
    if "--check" in sys.argv:
        check = int(sys.argv[sys.argv.index("--check") + 1])
    crate = Crate()
    edges, names = crate.edges()
    name = lambda m: crate.files[m]
    comps = circles(crate.files.keys(), edges)
    for comp in comps:
        print(f"circle of {len(comp)} files: {', '.join(name(m) for m in comp)}")
        inside = set(comp)
        for a in comp:
            for b in sorted(edges.get(a, ())):
                if b in inside:
                    print(f"    {name(a)} -> {name(b)}: {', '.join(sorted(names[(a, b)]))}")
    table = layers()
    up = []
    unplaced = sorted(m for m in crate.files if m and layer_of(m, table) is None)
    for a in sorted(edges):
        for b in sorted(edges[a]):
            la, lb = layer_of(a, table), layer_of(b, table)
            # The crate root re-exports everything: it is above every layer.
            if a == () or b == () or la is None or lb is None:
                continue
            if lb > la:
                up.append((a, b, la, lb))
    for a, b, la, lb in up:
        print(f"back up: {name(a)} (layer {la}) -> {name(b)} (layer {lb}): {', '.join(sorted(names[(a, b)]))}")
    for m in unplaced:
        print(f"not in a layer: {name(m)}" + ("" if table else " (no docs/architecture.md)"))
    largest = len(comps[0]) if comps else 1
    total = sum(len(v) for v in edges.values())
    print(f"files {len(crate.files)}, imports {total}, largest circle {largest}, imports back up {len(up)}")
    if check is not None and (largest > check or up or (table and unplaced)):
        sys.exit(1)


if __name__ == "__main__":
    main()
