#!/usr/bin/env python3
"""File-to-file module circles per crate.

Usage: python3 scripts/module-circles.py [--root DIR] [--no-tests] [--edges] [--mod-edges]

For every crate root (services/src/lib.rs, gateway/src/lib.rs,
projections/src/lib.rs, events/src/lib.rs, src/lib.rs, src/main.rs) it walks
the `mod` tree (mod.rs and foo.rs + foo/ layouts, `#[path]`, inline `mod x {}`),
then records a reference from file A to file B for

  * `use` / `pub use` / `pub(crate) use` trees (nested `{}` groups, `self`, `*`,
    `as`), starting with `crate::`, `$crate::`, `super::`, `self::` or the name
    of a child module of the current module;
  * paths in code (and macro bodies) starting with `crate::`, `$crate::`,
    `super::`, `self::`, or `child::` where `child` is a child module declared
    in the current module.

A path resolves to the file of its longest prefix that is a module (an item
path `crate::a::B` goes to a's file, `crate::B` goes to lib.rs). A path through
a module re-exported under another name (`pub use domain::customer;` in lib.rs,
then `crate::customer::X`) is followed to the real module. Comments, doc
comments and string/char literals are ignored. `mod x;` declarations are not
references unless --mod-edges is given.

Prints, per crate, every strongly connected component with more than one file,
every mutual pair (A -> B and B -> A) with file:line evidence and the names
used, and the edges inside each component. Edges only from `#[cfg(test)]` code
are marked [test]; --no-tests drops them.
"""

import argparse
import os
import re
import sys
from collections import defaultdict

CRATES = [
    ("authd-services", "services/src/lib.rs"),
    ("authd-gateway", "gateway/src/lib.rs"),
    ("authd-projections", "projections/src/lib.rs"),
    ("authd-feed", "feed/src/lib.rs"),
    ("authd-events", "events/src/lib.rs"),
    ("authd (lib)", "src/lib.rs"),
    ("authd (bin)", "src/main.rs"),
]

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


# ---------------------------------------------------------------- lexing ----

def strip(src):
    """Comments and string/char literal contents become spaces (newlines kept)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        nxt = src[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c == "/" and nxt == "*":
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth += 1
                    j += 2
                elif src.startswith("*/", j):
                    depth -= 1
                    j += 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c in "rb" and re.match(r'(?:br|r|b)#*"', src[i:i + 40]) and (
            i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")
        ):
            m = re.match(r'(br|r|b)(#*)"', src[i:])
            raw = m.group(1) in ("r", "br")
            hashes = m.group(2)
            j = i + m.end()  # first char of the contents
            if raw:
                close = src.find('"' + hashes, j)
                close = n if close < 0 else close
            else:
                close = j
                while close < n and src[close] != '"':
                    close += 2 if src[close] == "\\" else 1
            out.append(src[i:j] + re.sub(r"[^\n]", " ", src[j:close]) + '"' + hashes)
            i = close + 1 + len(hashes)
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('"' + re.sub(r"[^\n]", " ", src[i + 1:j]) + '"')
            i = j + 1
        elif c == "'":
            m = re.match(r"'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'\n])'", src[i:])
            if m:
                out.append("' '" + " " * (m.end() - 3))
                i += m.end()
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def matching_brace(text, open_pos):
    depth = 0
    for j in range(open_pos, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(text) - 1


def test_ranges(text):
    """(start, end) spans of items under #[cfg(test)] (or cfg(all(test, ..)))."""
    spans = []
    for m in re.finditer(r"#\s*\[\s*cfg\s*\(\s*(?:all\s*\([^]]*\btest\b[^]]*|test)\s*\)\s*\]", text):
        j = m.end()
        # the item ends at the first ';' at depth 0 or at the brace that closes
        while j < len(text) and text[j] not in "{;":
            j += 1
        if j < len(text) and text[j] == "{":
            j = matching_brace(text, j)
        spans.append((m.start(), j))
    return spans


def in_spans(pos, spans):
    return any(a <= pos <= b for a, b in spans)


# ------------------------------------------------------------ use trees ----

TOKEN = re.compile(r"\s*(::|\{|\}|,|\*|\$?" + IDENT + r")")


def parse_use_tree(s):
    """`crate::{a::{self, B}, c as d}` -> [['crate','a'], ['crate','a','B'], ['crate','c']]"""
    toks = []
    pos = 0
    while pos < len(s):
        m = TOKEN.match(s, pos)
        if not m:
            if s[pos:].strip() == "":
                break
            pos += 1
            continue
        toks.append(m.group(1))
        pos = m.end()
    out = []

    def tree(i, prefix):
        path = list(prefix)
        if i < len(toks) and toks[i] == "::":  # leading `::` = extern crate
            path.append("::")
            i += 1
        while i < len(toks):
            t = toks[i]
            if t == "{":
                i += 1
                while i < len(toks) and toks[i] != "}":
                    i = tree(i, path)
                    if i < len(toks) and toks[i] == ",":
                        i += 1
                return i + 1
            if t == "*":
                out.append(path + ["*"])
                return i + 1
            if t == "self" and path and path[-1] != "::":
                out.append(list(path))
                i += 1
            else:
                path.append(t)
                i += 1
            if i < len(toks) and toks[i] == "as":
                i += 2
            if i < len(toks) and toks[i] == "::":
                i += 1
                continue
            if path and (not out or out[-1] != path) and not (t == "self" and len(path) > 1):
                out.append(list(path))
            return i
        if path:
            out.append(path)
        return i

    i = 0
    while i < len(toks):
        i = tree(i, [])
        if i < len(toks) and toks[i] == ",":
            i += 1
    return out


# -------------------------------------------------------------- modules ----

class Crate:
    def __init__(self, name, root_file, base):
        self.name = name
        self.base = base
        self.root = root_file
        self.mod_file = {(): root_file}  # module path -> file
        self.file_mod = {}               # file -> module path of the file
        self.children = defaultdict(set)  # module path -> child names
        self.inline = {}                 # file -> [(start, end, module path)]
        self.texts = {}
        self.aliases = {}                # module path (re-export) -> real module path
        self.test_files = set()
        self._load(root_file, (), is_modrs=True, test=False)

    def _load(self, path, modpath, is_modrs, test):
        full = os.path.join(self.base, path)
        try:
            src = open(full, encoding="utf-8").read()
        except OSError:
            return
        text = strip(src)
        self.texts[path] = (src, text)
        self.file_mod[path] = modpath
        if test:
            self.test_files.add(path)
        spans = test_ranges(text)
        self.inline[path] = []
        self._scan_mods(path, text, 0, len(text), modpath, is_modrs, spans, test)

    def _scan_mods(self, path, text, start, end, modpath, is_modrs, spans, test):
        d = os.path.dirname(path)
        stem = os.path.splitext(os.path.basename(path))[0]
        pat = re.compile(
            r"((?:#\s*\[[^\]]*\]\s*)*)(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*([;{])"
        )
        pos = start
        while True:
            m = pat.search(text, pos, end)
            if not m:
                break
            if m.start() > 0 and (text[m.start() - 1].isalnum() or text[m.start() - 1] == "_"):
                pos = m.end()
                continue
            attrs, name, kind = m.group(1), m.group(2), m.group(3)
            child = modpath + (name,)
            self.children[modpath].add(name)
            is_test = test or in_spans(m.start() + len(attrs), spans) or bool(
                re.search(r"cfg\s*\(\s*test", attrs))
            if kind == "{":
                close = matching_brace(text, m.end() - 1)
                self.mod_file[child] = path
                self.inline[path].append((m.end() - 1, close, child))
                # inline module: children live in <dir of this module>/<name>/
                self._scan_mods(path, text, m.end(), close, child, is_modrs, spans, is_test)
                pos = close + 1
                continue
            # file module
            src_attr = self.texts[path][0][m.start():m.start() + len(attrs)]
            pm = re.search(r'path\s*=\s*"([^"]+)"', src_attr)
            inner = list(modpath[len(self.file_mod[path]):])  # inline nesting
            basedir = d if is_modrs else os.path.join(d, stem)
            basedir = os.path.join(basedir, *inner) if inner else basedir
            if pm:
                cand = [os.path.normpath(os.path.join(d if is_modrs else d, pm.group(1)))]
            else:
                cand = [os.path.join(basedir, name + ".rs"), os.path.join(basedir, name, "mod.rs")]
            for c in cand:
                if os.path.exists(os.path.join(self.base, c)):
                    self.mod_file[child] = c
                    self._load(c, child, is_modrs=os.path.basename(c) == "mod.rs", test=is_test)
                    break
            else:
                print(f"warning: {self.name}: no file for mod {'::'.join(child)} (tried {cand})",
                      file=sys.stderr)
            pos = m.end()

    def module_at(self, path, pos):
        best = self.file_mod[path]
        best_len = -1
        for a, b, mp in self.inline[path]:
            if a <= pos <= b and len(mp) > best_len:
                best, best_len = mp, len(mp)
        return best

    def resolve(self, segs, here):
        """Absolute module path of the longest module prefix, or None (extern)."""
        if not segs:
            return None
        head = segs[0]
        if head in ("crate", "$crate"):
            abs_ = list(segs[1:])
        elif head == "super":
            base = list(here)
            i = 0
            while i < len(segs) and segs[i] == "super":
                if not base:
                    return None
                base.pop()
                i += 1
            abs_ = base + list(segs[i:])
        elif head == "self":
            abs_ = list(here) + list(segs[1:])
        elif head == "::":
            return None
        elif head in self.children.get(tuple(here), ()):
            abs_ = list(here) + list(segs)
        else:
            return None
        abs_ = [s for s in abs_ if s != "*"]
        # follow module aliases (pub use a::b; then x::b::Item)
        for _ in range(5):
            changed = False
            for k in range(len(abs_), 0, -1):
                pre = tuple(abs_[:k])
                if pre in self.aliases and pre not in self.mod_file:
                    abs_ = list(self.aliases[pre]) + abs_[k:]
                    changed = True
                    break
            if not changed:
                break
        k = len(abs_)
        while k > 0 and tuple(abs_[:k]) not in self.mod_file:
            k -= 1
        return tuple(abs_[:k]), abs_[k:]


USE_RE = re.compile(r"(?<![\w$])((?:pub(?:\s*\([^)]*\))?\s+)?)use\s+((?:::|\$|\{|[A-Za-z_])[^;]*);")
CODE_RE = re.compile(r"(?<![\w$:])(\$crate|crate|super|self)((?:\s*::\s*(?:" + IDENT + r"|\{))+)")
CHILD_RE = re.compile(r"(?<![\w$:.])(" + IDENT + r")\s*::\s*(" + IDENT + ")")


def collect(crate, no_tests):
    edges = defaultdict(list)  # (a, b) -> [(line, kind, names, test)]
    # first pass: module aliases from use trees that name a module exactly
    for path, (src, text) in crate.texts.items():
        for m in USE_RE.finditer(text):
            here = crate.module_at(path, m.start())
            body = m.group(2)
            for segs, alias in use_paths_with_alias(body):
                r = crate.resolve(segs, tuple(here))
                if not r:
                    continue
                mod, rest = r
                if not rest and mod and len(segs) and segs[-1] not in ("self", "*"):
                    name = alias or segs[-1]
                    key = tuple(here) + (name,)
                    if key not in crate.mod_file:
                        crate.aliases[key] = mod
    for path, (src, text) in crate.texts.items():
        spans = test_ranges(text)
        use_spans = []
        for m in USE_RE.finditer(text):
            use_spans.append((m.start(), m.end()))
            here = tuple(crate.module_at(path, m.start()))
            is_test = path in crate.test_files or in_spans(m.start(), spans)
            kind = "pub use" if m.group(1).strip().startswith("pub") and "(crate)" not in m.group(1) and "(super)" not in m.group(1) else ("pub(crate) use" if m.group(1).strip() else "use")
            for segs in parse_use_tree(m.group(2)):
                r = crate.resolve(segs, here)
                if not r:
                    continue
                add(crate, edges, path, r, line_of(text, m.start()), kind, is_test,
                    star="*" if segs and segs[-1] == "*" else None)
        for m in CODE_RE.finditer(text):
            if in_spans(m.start(), use_spans):
                continue
            here = tuple(crate.module_at(path, m.start()))
            segs = [m.group(1)] + [s for s in re.split(r"\s*::\s*", m.group(2).strip()) if s and s != "{"]
            r = crate.resolve(segs, here)
            if not r:
                continue
            is_test = path in crate.test_files or in_spans(m.start(), spans)
            add(crate, edges, path, r, line_of(text, m.start()), "path", is_test)
        for m in CHILD_RE.finditer(text):
            if in_spans(m.start(), use_spans):
                continue
            here = tuple(crate.module_at(path, m.start()))
            if m.group(1) in ("crate", "super", "self", "Self"):
                continue
            if m.group(1) not in crate.children.get(here, ()):
                continue
            r = crate.resolve([m.group(1), m.group(2)], here)
            if not r:
                continue
            is_test = path in crate.test_files or in_spans(m.start(), spans)
            add(crate, edges, path, r, line_of(text, m.start()), "child path", is_test)
    if no_tests:
        for k in list(edges):
            edges[k] = [e for e in edges[k] if not e[3]]
            if not edges[k]:
                del edges[k]
    return edges


def use_paths_with_alias(body):
    # aliases only matter for `use a::b as c;` at the top level of a simple tree
    m = re.match(r"\s*([\w$:\s]+?)\s+as\s+(" + IDENT + r")\s*$", body)
    if m:
        return [([s for s in re.split(r"\s*::\s*", m.group(1).strip()) if s], m.group(2))]
    return [(p, None) for p in parse_use_tree(body)]


def add(crate, edges, path, r, line, kind, is_test, star=None):
    mod, rest = r
    target = crate.mod_file.get(mod)
    if target is None or target == path:
        return
    names = "::".join(rest) if rest else (star or "::".join(mod) or "crate")
    edges[(path, target)].append((line, kind, names, is_test))


# ------------------------------------------------------------------ SCCs ----

def sccs(nodes, adj):
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(adj.get(v, ())):
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
            out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def fmt_ev(evs, limit=6):
    seen, parts = set(), []
    for line, kind, names, is_test in sorted(evs):
        key = (line, names)
        if key in seen:
            continue
        seen.add(key)
        parts.append(f"L{line} {kind} {names}{' [test]' if is_test else ''}")
    more = f" (+{len(parts) - limit} more)" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--no-tests", action="store_true", help="ignore edges from #[cfg(test)] code")
    ap.add_argument("--edges", action="store_true", help="print every edge of every crate")
    ap.add_argument("--mod-edges", action="store_true", help="count `mod x;` as parent -> child")
    args = ap.parse_args()
    total = 0
    for name, root in CRATES:
        if not os.path.exists(os.path.join(args.root, root)):
            continue
        crate = Crate(name, root, args.root)
        edges = collect(crate, args.no_tests)
        if args.mod_edges:
            for mp, f in crate.mod_file.items():
                if mp and crate.mod_file.get(mp[:-1]) not in (None, f):
                    edges[(crate.mod_file[mp[:-1]], f)].append((0, "mod", mp[-1], False))
        adj = defaultdict(set)
        for a, b in edges:
            adj[a].add(b)
        comps = [c for c in sccs(crate.texts.keys(), adj) if len(c) > 1]
        print(f"## {name} ({root}): {len(crate.texts)} files, {len(edges)} file-to-file edges, "
              f"{len(comps)} circle(s)")
        if args.edges:
            for (a, b), evs in sorted(edges.items()):
                print(f"  {a} -> {b}: {fmt_ev(evs)}")
        for i, comp in enumerate(comps, 1):
            total += 1
            print(f"\n### circle {i}: {len(comp)} files")
            for f in comp:
                print(f"  - {f}")
            inside = set(comp)
            pairs = sorted({tuple(sorted(k)) for k in edges if k[0] in inside and k[1] in inside
                            and (k[1], k[0]) in edges})
            if pairs:
                print("  mutual pairs:")
                for a, b in pairs:
                    print(f"    {a} <-> {b}")
            print("  edges inside:")
            for (a, b), evs in sorted(edges.items()):
                if a in inside and b in inside:
                    print(f"    {a} -> {b}: {fmt_ev(evs)}")
        print()
    print(f"TOTAL circles: {total}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
