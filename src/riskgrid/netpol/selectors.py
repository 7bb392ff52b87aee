"""Label selectors: Kubernetes ``LabelSelector`` objects and Calico selector expressions.

Both compile to a predicate over a label mapping. Kubernetes selectors follow the API
reference (``matchLabels`` AND ``matchExpressions``; ``NotIn``/``DoesNotExist`` match when the
key is absent; the empty selector matches everything). Calico expressions follow the grammar
in the Calico ``selector`` field documentation: ``==``, ``!=`` (true when the label is absent),
``in {…}``, ``not in {…}``, ``has()``, ``!``, ``&&``, ``||``, parentheses, ``all()`` and
``global()``; ``contains``/``starts with``/``ends with`` are accepted as well.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Labels = Mapping[str, str]
Predicate = Callable[[Labels], bool]


# One predicate per matchExpressions operator (closures over the key and values).
def _value_in(key: str, values: frozenset[str]) -> Predicate:
    return lambda labels: labels.get(key) in values


def _value_not_in(key: str, values: frozenset[str]) -> Predicate:
    return lambda labels: labels.get(key) not in values


def _exists(key: str) -> Predicate:
    return lambda labels: key in labels


def _does_not_exist(key: str) -> Predicate:
    return lambda labels: key not in labels


class SelectorError(ValueError):
    """A selector that does not parse; the message says where and why."""


@dataclass(frozen=True)
class Selector:
    """A compiled selector: ``matches(labels)``; ``text`` is for explanations.

    ``is_global`` marks Calico's ``global()``, which matches only non-namespaced entities
    (GlobalNetworkSets, host endpoints) — never a pod.
    """

    text: str
    predicate: Predicate
    is_global: bool = False

    def matches(self, labels: Labels) -> bool:
        return self.predicate(labels)


def _always(_: Labels) -> bool:
    return True


ALL = Selector("all()", _always)


# ---------------------------------------------------------------- Kubernetes LabelSelector


def k8s_selector(obj: Any, where: str) -> Selector:
    """Compile a Kubernetes ``LabelSelector`` mapping (``{}`` matches everything)."""
    if obj is None:
        return ALL
    if not isinstance(obj, Mapping):
        raise SelectorError(f"{where}: must be a mapping with matchLabels/matchExpressions")
    unknown = set(obj) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise SelectorError(f"{where}: unknown field(s) {sorted(unknown)}")
    match_labels = obj.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        raise SelectorError(f"{where}.matchLabels: must be a mapping")
    wanted = {str(k): str(v) for k, v in match_labels.items()}
    exprs: list[Predicate] = []
    parts = [f"{k}={v}" for k, v in sorted(wanted.items())]
    for i, expr in enumerate(obj.get("matchExpressions") or []):
        loc = f"{where}.matchExpressions[{i}]"
        if not isinstance(expr, Mapping) or "key" not in expr or "operator" not in expr:
            raise SelectorError(f"{loc}: needs key and operator")
        key, op = str(expr["key"]), expr["operator"]
        values = [str(v) for v in (expr.get("values") or [])]
        if op in ("In", "NotIn") and not values:
            raise SelectorError(f"{loc}.values: must be non-empty for operator {op}")
        if op in ("Exists", "DoesNotExist") and values:
            raise SelectorError(f"{loc}.values: must be empty for operator {op}")
        vs = frozenset(values)
        if op == "In":
            exprs.append(_value_in(key, vs))
            parts.append(f"{key} in ({','.join(sorted(vs))})")
        elif op == "NotIn":
            exprs.append(_value_not_in(key, vs))
            parts.append(f"{key} notin ({','.join(sorted(vs))})")
        elif op == "Exists":
            exprs.append(_exists(key))
            parts.append(key)
        elif op == "DoesNotExist":
            exprs.append(_does_not_exist(key))
            parts.append(f"!{key}")
        else:
            raise SelectorError(f"{loc}.operator: unknown operator {op!r}")

    def pred(labels: Labels) -> bool:
        return all(labels.get(k) == v for k, v in wanted.items()) and all(e(labels) for e in exprs)

    return Selector(",".join(parts) if parts else "{}", pred)


# ---------------------------------------------------------------- Calico selector expressions

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"[^"]*"|'[^']*')
      | (?P<op>==|!=|&&|\|\||!|\(|\)|\{|\}|,)
      | (?P<word>[A-Za-z0-9_./\-]+)
    )""",
    re.VERBOSE,
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SelectorError(f"unexpected character at position {pos}: {text[pos:]!r}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "str":
            value = value[1:-1]
        tokens.append((kind, value))
        pos = m.end()
    return tokens


class _Parser:
    """Recursive descent over: or := and ('||' and)*; and := unary ('&&' unary)*."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.saw_global = False

    def peek(self, ahead: int = 0) -> tuple[str, str] | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise SelectorError("unexpected end of selector")
        self.i += 1
        return tok

    def expect(self, kind: str, value: str | None = None) -> str:
        tok = self.take()
        if tok[0] != kind or (value is not None and tok[1] != value):
            want = value or kind
            raise SelectorError(f"expected {want!r}, got {tok[1]!r}")
        return tok[1]

    def parse(self) -> Predicate:
        if not self.tokens:
            return _always
        pred = self.or_expr()
        if self.peek() is not None:
            raise SelectorError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return pred

    def or_expr(self) -> Predicate:
        terms = [self.and_expr()]
        while self.peek() == ("op", "||"):
            self.take()
            terms.append(self.and_expr())
        if len(terms) == 1:
            return terms[0]
        return lambda labels: any(t(labels) for t in terms)

    def and_expr(self) -> Predicate:
        terms = [self.unary()]
        while self.peek() == ("op", "&&"):
            self.take()
            terms.append(self.unary())
        if len(terms) == 1:
            return terms[0]
        return lambda labels: all(t(labels) for t in terms)

    def unary(self) -> Predicate:
        if self.peek() == ("op", "!"):
            self.take()
            inner = self.unary()
            return lambda labels: not inner(labels)
        if self.peek() == ("op", "("):
            self.take()
            inner = self.or_expr()
            self.expect("op", ")")
            return inner
        return self.atom()

    def string_set(self) -> frozenset[str]:
        self.expect("op", "{")
        values: set[str] = set()
        if self.peek() == ("op", "}"):
            self.take()
            return frozenset()
        while True:
            values.add(self.expect("str"))
            tok = self.take()
            if tok == ("op", "}"):
                return frozenset(values)
            if tok != ("op", ","):
                raise SelectorError(f"expected ',' or '}}', got {tok[1]!r}")

    def atom(self) -> Predicate:
        kind, word = self.take()
        if kind != "word":
            raise SelectorError(f"expected a label or function, got {word!r}")
        if word in ("all", "global", "has") and self.peek() == ("op", "("):
            self.take()
            if word == "has":
                key = self.expect("word")
                self.expect("op", ")")
                return lambda labels: key in labels
            self.expect("op", ")")
            if word == "global":
                self.saw_global = True
            return _always
        key = word
        tok = self.take()
        if tok == ("op", "=="):
            value = self.expect("str")
            return lambda labels: labels.get(key) == value
        if tok == ("op", "!="):
            value = self.expect("str")
            return lambda labels: labels.get(key) != value
        if tok == ("word", "in"):
            vs = self.string_set()
            return lambda labels: labels.get(key) in vs
        if tok == ("word", "not"):
            self.expect("word", "in")
            vs = self.string_set()
            return lambda labels: labels.get(key) not in vs
        if tok == ("word", "contains"):
            value = self.expect("str")
            return lambda labels: key in labels and value in labels[key]
        if tok in (("word", "starts"), ("word", "ends")):
            self.expect("word", "with")
            value = self.expect("str")
            if tok[1] == "starts":
                return lambda labels: key in labels and labels[key].startswith(value)
            return lambda labels: key in labels and labels[key].endswith(value)
        raise SelectorError(f"unexpected {tok[1]!r} after label {key!r}")


def calico_selector(text: Any, where: str) -> Selector:
    """Compile a Calico selector expression; ``""``/absent means ``all()``."""
    if text is None:
        return ALL
    if not isinstance(text, str):
        raise SelectorError(f"{where}: must be a selector expression string")
    parser = _Parser(text)
    try:
        pred = parser.parse()
    except SelectorError as exc:
        raise SelectorError(f"{where}: selector {text!r}: {exc}") from None
    is_global = parser.saw_global
    if is_global and text.strip() != "global()":
        raise SelectorError(f"{where}: global() may only be used on its own (got {text!r})")
    return Selector(text.strip() or "all()", pred, is_global)
