"""Safe reading of YAML and JSON input: no object construction, bounded size, nesting and alias expansion,
duplicate keys caught, and a line number for every key path so errors can point into the file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from fleetopt.errors import InputError, Problem

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 32
MAX_ALIAS_VALUES = 10_000  # values an alias (*name) may repeat in total: stops "billion laughs" files
MERGE_TAG = "tag:yaml.org,2002:merge"
PLAIN_TAGS = ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map")  # a list or mapping tagged otherwise is refused

KeyPath = tuple[str | int, ...]


def dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def dotted_short(path: KeyPath, keep: int = 6) -> str:
    """A key path for a message about runaway nesting: the first few parts are enough to find it."""
    return dotted(path) if len(path) <= keep else dotted(path[:keep]) + "..."


class _Reader:
    """Builds plain Python data from a composed YAML node tree, recording each key's line."""

    def __init__(self, file: str):
        self.file = file
        self.lines: dict[KeyPath, int] = {}
        self.problems: list[Problem] = []
        self._scalars = yaml.SafeLoader("")
        self._open: set[int] = set()  # nodes being built: meeting one again is an alias that contains itself
        self._seen: set[int] = set()
        self._built = 0

    def _fail(self, node: yaml.Node, path: KeyPath, message: str) -> InputError:
        return InputError([Problem(self.file, dotted_short(path), message, node.start_mark.line + 1)])

    def build(self, node: yaml.Node, path: KeyPath = ()) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in self._open:
            raise self._fail(node, path, "an alias (*name) refers to the block that contains it")
        if len(path) > MAX_DEPTH:
            raise self._fail(node, path, f"nesting deeper than {MAX_DEPTH} levels")
        self._built += 1
        self._seen.add(id(node))
        if self._built - len(self._seen) > MAX_ALIAS_VALUES:
            raise self._fail(node, path, f"aliases (*name) repeat more than {MAX_ALIAS_VALUES} values; "
                                         "write the values out")
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if node.tag not in PLAIN_TAGS:  # e.g. !!python/object/apply: tagged lists are never plain data
            raise self._fail(node, path, f"the tag {node.tag} is not allowed; write a plain value")
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
            return self._mapping(node, path)
        finally:
            self._open.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        try:
            return self._scalars.construct_object(node)
        except yaml.YAMLError:  # a tag such as !!python/object: only plain data is read
            raise self._fail(node, path, f"the tag {node.tag} is not allowed; write a plain value") from None

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(Problem(self.file, dotted(path), "keys must be plain names", line))
                continue
            if key_node.tag == MERGE_TAG:
                self.problems.append(Problem(self.file, dotted(path), "YAML merge keys (<<) are not supported; "
                                             "write the keys out", line))
                continue
            key = str(self._scalar(key_node, path))
            if key in out:
                self.problems.append(Problem(self.file, dotted(path + (key,)),
                                             f"duplicate key '{key}' (each name may appear once)", line))
                continue
            self.lines[path + (key,)] = line
            out[key] = self.build(value_node, path + (key,))
        return out


def read_document(path: Path) -> tuple[Any, Mapping[KeyPath, int]]:
    """Parse a YAML or JSON file into plain data and a {key path: line} map; InputError on any problem."""
    file = str(path)
    try:
        size = path.stat().st_size
    except OSError as err:
        raise InputError([Problem(file, "", f"cannot read the file ({err.strerror or err})")]) from None
    if size > MAX_BYTES:
        raise InputError([Problem(file, "", f"file is {size} bytes; the limit is {MAX_BYTES}")])
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError([Problem(file, "", f"cannot read the file ({err.strerror or err})")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        near = _yaml_key_near(raw.decode("utf-8", "replace"), line - 1, 0)
        raise InputError([Problem(file, dotted(near), f"byte 0x{raw[err.start]:02x} is not UTF-8 text; "
                                  "save the file as UTF-8", line)]) from None
    if path.suffix.lower() == ".json":
        return _read_json(text, file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise InputError([Problem(file, "", f"nesting deeper than {MAX_DEPTH} levels")]) from None
    except yaml.MarkedYAMLError as err:
        raise InputError([_yaml_syntax_problem(err, text, file)]) from None
    except yaml.YAMLError as err:
        raise InputError([Problem(file, "", f"not valid YAML: {_one_line(str(err))}")]) from None
    if node is None:
        raise InputError([Problem(file, "", "the file is empty; expected a mapping starting with 'fleetopt: 1'")])
    reader = _Reader(file)
    data = reader.build(node)
    if reader.problems:
        raise InputError(reader.problems)
    return data, reader.lines


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


_UNCLOSED = ("flow mapping", "flow sequence", "quoted scalar")


def _yaml_syntax_problem(err: yaml.MarkedYAMLError, text: str, file: str) -> Problem:
    """One line for a YAML syntax error, naming the key it is in and a hint for the common causes."""
    context, problem = err.context or "", err.problem or _one_line(str(err))
    mark = err.context_mark if err.context_mark and any(u in context for u in _UNCLOSED) else err.problem_mark
    line, column = (mark.line, mark.column) if mark else (0, 0)
    near = _yaml_key_near(text, line, column)
    what = problem
    if "\\t" in problem or "\t" in problem:
        what += "; indent with spaces, not tabs"
    elif "another document" in problem:
        what, near = "the file holds more than one YAML document (a '---' line); keep one", ()
    elif mark is err.context_mark:
        opener = next(o for u, o in zip(_UNCLOSED, ("'{'", "'['", "a quote")) if u in context)
        what = f"{opener} is not closed ({problem})"
    return Problem(file, dotted(near), f"not valid YAML: {_one_line(what)}", line + 1)


_KEY_LINE = re.compile(r"^( *)(?:- +)?([^\s#'\"{\[\]},&*!|>%@`-][^:#]*?) *:(?: +|$)(.*)$")


def _yaml_key_near(text: str, line: int, column: int) -> KeyPath:
    """The key path a broken YAML file was in at (line, column), read from indentation: a best guess for a
    file the parser could not read. Block keys still open count; so does a key on the error line itself when
    the error is in its value."""
    stack: list[tuple[int, str]] = []
    lines = text.splitlines()
    for number, row in enumerate(lines[:line + 1]):
        found = _KEY_LINE.match(row)
        if not found:
            continue
        indent, key, rest = len(found.group(1)), found.group(2), found.group(3)
        if number == line and found.end(2) >= column:
            break
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if number == line or not rest.strip() or rest.lstrip().startswith("#"):
            stack.append((indent, key))
    return tuple(key for _, key in stack)


_JSON_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[{}\[\],:\n]')


def _json_scan(text: str) -> tuple[dict[KeyPath, int], list[tuple[KeyPath, int]], KeyPath, KeyPath | None]:
    """Lines of each key path in JSON text, duplicate keys (path, line), the path open at the text's end
    (where a parse error was found when the text is cut there) and the first path nested too deep."""
    lines: dict[KeyPath, int] = {(): 1}
    duplicates: list[tuple[KeyPath, int]] = []
    frames: list[list] = []  # [is_object, key or index, keys seen]
    line, pending, too_deep = 1, None, None

    def here() -> KeyPath:
        return tuple(f[1] for f in frames if f[1] is not None)

    for token in _JSON_TOKEN.finditer(text):
        t = token.group()
        if t == "\n":
            line += 1
        elif t.startswith('"'):
            pending = t
        elif t == ":" and pending is not None and frames and frames[-1][0]:
            try:
                key = json.loads(pending)
            except ValueError:
                key = pending.strip('"')
            frames[-1][1] = key
            if key in frames[-1][2]:
                duplicates.append((here(), line))
            frames[-1][2].add(key)
            lines.setdefault(here(), line)
        elif t in "{[":
            lines.setdefault(here(), line)
            frames.append([t == "{", None if t == "{" else 0, set()])
            if too_deep is None and len(frames) > MAX_DEPTH:
                too_deep = here()
        elif t in "}]":
            if frames:
                frames.pop()
        elif t == "," and frames:
            if frames[-1][0]:
                frames[-1][1] = None
            else:
                frames[-1][1] += 1
        if not t.startswith('"'):
            pending = None
    return lines, duplicates, here(), too_deep


def _read_json(text: str, file: str) -> tuple[Any, Mapping[KeyPath, int]]:
    duplicate_names: list[str] = []

    def note_duplicates(pairs):
        out = {}
        for k, v in pairs:
            if k in out:
                duplicate_names.append(k)
            out[k] = v
        return out

    try:
        data = json.loads(text, object_pairs_hook=note_duplicates, parse_constant=lambda c: float(c))
    except json.JSONDecodeError as err:
        _, _, near, _ = _json_scan(text[:err.pos])
        message = err.msg
        if text[err.pos:err.pos + 2] in ("//", "/*"):
            message += "; JSON has no comments"
        elif text[:err.pos].rstrip().endswith(",") and text[err.pos:err.pos + 1] in ("}", "]"):
            message += "; JSON allows no comma after the last item"
        raise InputError([Problem(file, dotted(near), f"not valid JSON: {message}", err.lineno)]) from None
    except RecursionError:
        lines, _, _, deep = _json_scan(text)
        deep = deep or ()
        raise InputError([Problem(file, dotted_short(deep), f"nesting deeper than {MAX_DEPTH} levels",
                                  lines.get(deep[:1]))]) from None
    if duplicate_names:
        found = [Problem(file, dotted(p), f"duplicate key '{p[-1]}' (each name may appear once)", n)
                 for p, n in _json_scan(text)[1]]
        raise InputError(found or [Problem(file, k, f"duplicate key '{k}' (each name may appear once)")
                                   for k in duplicate_names])
    lines = _ScannedLines(text)
    deep = _deepest(data)
    if len(deep) > MAX_DEPTH:
        raise InputError([Problem(file, dotted_short(deep), f"nesting deeper than {MAX_DEPTH} levels",
                                  lines.get(deep[:MAX_DEPTH]))])
    return data, lines


class _ScannedLines(Mapping):
    """The line of each key path of a JSON text, scanned on first use: the lines only name where a problem is, and
    a large plan's scan costs ~10x its parse (x10's 1.1 MB plan: 0.11 s against 0.006 s)."""

    def __init__(self, text: str):
        self._text: str | None = text
        self._lines: dict[KeyPath, int] | None = None

    def _scanned(self) -> dict[KeyPath, int]:
        if self._lines is None:
            self._lines, self._text = _json_scan(self._text)[0], None
        return self._lines

    def __getitem__(self, path: KeyPath) -> int:
        return self._scanned()[path]

    def __iter__(self) -> Iterator[KeyPath]:
        return iter(self._scanned())

    def __len__(self) -> int:
        return len(self._scanned())

    def __bool__(self) -> bool:
        return True     # the document's root always has its line: `lines or {}` keeps these without a scan


def _deepest(value: Any, path: KeyPath = ()) -> KeyPath:
    """The path of a value nested deepest (stops looking a level past the limit)."""
    if len(path) > MAX_DEPTH:
        return path
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    best = path
    for key, child in children:
        found = _deepest(child, path + (key,))
        if len(found) > len(best):
            best = found
            if len(best) > MAX_DEPTH:
                break
    return best
