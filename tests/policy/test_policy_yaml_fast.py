"""The one-pass YAML path (`inputs.load_fast`) builds exactly what the reference path
(bounded scan + SafeLoader) builds, and hands everything it does not handle — and everything
the bounds refuse — back to that path."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from riskgrid.policy import cases, inputs
from riskgrid.policy.library import load_library

FIXTURES = Path(__file__).parent / "fixtures"


def reference(text: str) -> list[object]:
    return list(yaml.load_all(text, Loader=inputs._LOADER))


def same(a: object, b: object) -> bool:
    """Equality that also holds for NaN (YAML `.nan`) and checks bool/int types."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)  # type: ignore[index]
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    return a == b


SCALARS = """\
ints: [0, -3, +5, 1_000, 0x1F, 0o17, 017, 0b101, 190:20:30, 12e3]
floats: [1.5, -0.5, .inf, -.Inf, .NaN, 6.8523015e+5, 685_230.15, 190:20:30.15, 1e3]
bools: [yes, No, ON, off, true, False, y, n]
nulls: [~, null, Null, '']
empty_null:
strings: ["1", '2', 2026-01-01, 2026-01-01T10:00:00Z, "yes", a:b, "~", -, http://x, 1.2.3]
block: |
  line one
  line two
folded: >-
  a
  b
"key with spaces": value
? plain key
: 7
1: integer key
true: bool key
~: null key
dup: first
dup: second
empty_map: {}
empty_seq: []
"""

DOCS = [
    SCALARS,
    "---\n---\na: 1\n---\n",
    "# only a comment\n",
    "",
    "- a\n- - b\n  - c\n- {x: [1, {y: z}]}\n",
    "a: &x {b: 1}\nc: *x\nd: &s scalar\ne: *s\n",
    "items: &list [1, 2]\nmore: [*list, *list]\n---\nagain: &list {k: v}\nuse: *list\n",
    '{"apiVersion": "v1", "kind": "List", "items": [{"kind": "Pod"}]}\n',
    "a: 'it''s'\nb: \"tab\\there\\u00e9\"\n",
]


@pytest.mark.parametrize("text", DOCS, ids=range(len(DOCS)))
def test_fast_path_builds_what_safeloader_builds(text):
    fast = inputs.load_fast(text)
    assert fast is not None, "expected the one-pass path to handle this stream"
    assert same(fast, reference(text))


def test_fast_path_on_every_policy_case_and_the_pss_fixtures():
    objs = [
        cases.build(c.spec, name=f"c{i}") for i, p in enumerate(load_library()) for c in p.cases
    ]
    text = yaml.safe_dump_all(objs)  # shared sub-objects come out as anchors and aliases
    assert "&id" in text and "*id" in text
    assert same(inputs.load_fast(text), reference(text))
    files = sorted((FIXTURES / "pss").rglob("*.yaml"))
    assert len(files) > 100
    for f in files:
        t = f.read_text(encoding="utf-8")
        fast = inputs.load_fast(t)
        assert fast is not None, f
        assert same(fast, reference(t)), f


HANDED_BACK = {
    "merge key": "base: &b {x: 1}\nd:\n  <<: *b\n  y: 2\n",
    "explicit tag": "a: !!str 12\n",
    "custom tag": "a: !thing 12\n",
    "binary": "a: !!binary aGVsbG8=\n",
    "collection key": "? [a, b]\n: 1\n",
    "flow mapping key": "{[a]: 1}\n",
    "undefined alias": "a: *nope\n",
    "recursive alias": "a: &r [*r]\n",
    "malformed": "a: [1, 2\nb: 3\n",
    "tab indentation": "a:\n\t- 1\n",
    "too deep": "[" * 65 + "]" * 65 + "\n",
}


@pytest.mark.parametrize("name", HANDED_BACK)
def test_what_the_fast_path_hands_back(name):
    """Streams outside the one-pass path's subset (or malformed) get None, and `parse_stream`
    then gives exactly the reference path's documents or errors."""
    text = HANDED_BACK[name]
    assert inputs.load_fast(text) is None
    docs, errors = inputs.parse_stream(text, "f.yaml")
    assert docs or errors


def test_merge_keys_still_merge_through_the_reference_path():
    docs, errors = inputs.parse_stream(HANDED_BACK["merge key"], "f.yaml")
    assert not errors
    assert docs[0].obj["d"] == {"x": 1, "y": 2}


def test_bounds_hold_on_the_fast_path():
    """Depth and expanded-size bounds refuse the same streams as before: the fast path hands
    them back (it never builds past a bound) and the bounded scan refuses them."""
    deep = "a: " + "[" * 65 + "]" * 65 + "\n"
    assert inputs.load_fast(deep) is None
    docs, errors = inputs.parse_stream(deep, "deep.yaml")
    assert docs == [] and errors and "refused" in errors[0].message
    assert "deeper than 64" in errors[0].message

    laughs = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 7):
        laughs.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    bomb = "\n".join(laughs) + "\n"
    assert inputs.load_fast(bomb) is None
    docs, errors = inputs.parse_stream(bomb, "bomb.yaml")
    assert docs == [] and "refused" in errors[0].message
    assert "more than 1,000,000 nodes" in errors[0].message

    # Just inside both bounds: built by the fast path, aliases counted at expanded size.
    ok = "\n".join(laughs[:4]) + "\n"
    fast = inputs.load_fast(ok, max_nodes=11_111 + 1_110 + 111 + 11 + 8)
    assert fast is not None and same(fast, reference(ok))
    assert inputs.load_fast(ok, max_nodes=1_000) is None
    assert inputs.load_fast("[" * 64 + "]" * 64) is not None


def test_parse_errors_are_reported_as_before():
    docs, errors = inputs.parse_stream("kind: Pod\n---\na: [1, 2\nb: 3\n", "bad.yaml")
    assert [d.obj for d in docs] == [{"kind": "Pod"}]
    assert len(errors) == 1 and errors[0].document == 1
    assert errors[0].message.startswith("unparseable YAML: line")
