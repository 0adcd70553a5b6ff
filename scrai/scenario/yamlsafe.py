"""Reading untrusted YAML safely, keeping the node graph for line numbers.

Only PyYAML's ``SafeLoader`` constructors are used (no Python objects). Before
anything is constructed, the composed node graph is measured: the size the
document would have once every alias is expanded (memoised per node, so a
billion-laughs file is refused in microseconds), recursive aliases, nesting
depth and duplicate keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from scrai.scenario.errors import Problem, ScenarioError

MAX_BYTES = 2 * 1024 * 1024
# Far above any hand-written scenario (templates describe big casts in a few
# lines) yet small enough that validation stays well under a second.
MAX_NODES = 1_000_000
MAX_DEPTH = 64


class _Loader(yaml.SafeLoader):
    """SafeLoader, but dates stay strings: the format has no dates, and PyYAML
    raises a bare ValueError on an impossible one such as 2001-02-30."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        yield from node.value
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value


def _duplicate_keys(node: yaml.MappingNode, source: str) -> list[Problem]:
    # safe_load keeps the last of two equal keys silently; a director would not.
    seen: dict[tuple[str, str], int] = {}
    problems = []
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        ident = (key.tag, key.value)
        if ident in seen:
            problems.append(
                Problem(
                    source,
                    "",
                    line_of(key),
                    f"duplicate key {key.value!r} (first at line {seen[ident]})",
                )
            )
        else:
            seen[ident] = line_of(key)
    return problems


def measure(root: yaml.Node, source: str) -> list[Problem]:
    """Refuse alias bombs, recursive aliases and deep nesting; report duplicate keys.

    Iterative post-order walk: each distinct node is sized once, so the cost is
    linear in the text even when the expansion would be astronomically large.
    """
    sizes: dict[int, int] = {}
    on_path = {id(root)}
    stack: list[tuple[yaml.Node, Iterator[yaml.Node]]] = [(root, _children(root))]
    totals = [1]
    problems: list[Problem] = []
    if isinstance(root, yaml.MappingNode):
        problems += _duplicate_keys(root, source)

    def too_big(node: yaml.Node) -> ScenarioError:
        return ScenarioError.single(
            source,
            f"document expands to more than {MAX_NODES:,} nodes through aliases (alias bomb?)",
            line=line_of(node),
        )

    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            on_path.discard(id(node))
            total = totals.pop()
            sizes[id(node)] = total
            if totals:
                totals[-1] += total
                if totals[-1] > MAX_NODES:
                    raise too_big(stack[-1][0])
            continue
        cid = id(child)
        if cid in on_path:
            raise ScenarioError.single(
                source, "recursive alias: a node contains itself", line=line_of(node)
            )
        if cid in sizes:
            totals[-1] += sizes[cid]
            if totals[-1] > MAX_NODES:
                raise too_big(node)
            continue
        if len(stack) >= MAX_DEPTH:
            raise ScenarioError.single(
                source, f"nested more than {MAX_DEPTH} levels deep", line=line_of(child)
            )
        if isinstance(child, yaml.MappingNode):
            problems += _duplicate_keys(child, source)
        on_path.add(cid)
        stack.append((child, _children(child)))
        totals.append(1)
    return problems


def _yaml_problem(source: str, exc: yaml.YAMLError) -> Problem:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or "invalid YAML"
        if exc.context:
            what = f"{what} ({exc.context})"
        return Problem(source, "", mark.line + 1 if mark else None, f"invalid YAML: {what}")
    return Problem(source, "", None, "invalid YAML: " + " ".join(str(exc).split()))


def load_yaml(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """Parse one YAML document into (node graph, plain data) or raise ScenarioError."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise ScenarioError.single(
            source, f"file too large: {size:,} bytes, the limit is {MAX_BYTES:,} (2 MiB)"
        )
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        what = f"unacceptable character #x{exc.character:04x}: {exc.reason}"
        raise ScenarioError.single(source, f"invalid YAML: {what}", line=line) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        problems = measure(node, source)
        if problems:
            raise ScenarioError(problems)
        return node, loader.construct_document(node)
    except ScenarioError:
        raise
    except yaml.YAMLError as exc:
        raise ScenarioError([_yaml_problem(source, exc)]) from None
    except RecursionError:
        raise ScenarioError.single(source, "nested too deeply to read") from None
    except (ValueError, TypeError, OverflowError) as exc:
        # Resolvers of YAML 1.1 scalars (sexagesimal numbers, ...) can still fail.
        raise ScenarioError.single(
            source, "invalid YAML value: " + " ".join(str(exc).split())
        ) from None
    finally:
        loader.dispose()


def locate(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest node of ``root`` that the field path ``loc`` reaches."""
    if root is None:
        return None
    node, line = root, line_of(root)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    node, line = value, line_of(key)
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return line
            node = node.value[part]
            line = line_of(node)
        else:
            return line
    return line
