"""Image references: ``HOST[:PORT]/PATH[:TAG][@sha256:HEX]`` parsed without guessing.

The gate speaks to registries by host, so a reference must name its registry explicitly
(``docker.io/library/python:3.12``, not ``python:3.12``): an implicit Docker Hub default is a
place where a typo silently fetches a stranger's image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from riskgrid.spec.errors import RiskgridError

_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?|\[[0-9a-fA-F:]+\](?::[0-9]{{1,5}})?)"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
_REF = re.compile(
    rf"^(?P<host>{_HOST})/(?P<path>{_PATH})(?::(?P<tag>[\w][\w.-]{{0,127}}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class ReferenceError_(RiskgridError):
    """A string that is not an image reference riskgrid accepts."""


@dataclass(frozen=True)
class ImageRef:
    host: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repository(self) -> str:
        """``host/path``, the unit trust rules and Rego prefixes speak of."""
        return f"{self.host}/{self.path}"

    def pinned(self, digest: str) -> str:
        """The reference the platform runs: the repository at exactly this digest."""
        return f"{self.repository}@{digest}"

    def __str__(self) -> str:
        out = self.repository
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_ref(text: str) -> ImageRef:
    """Parse ``text`` or raise with the grammar in the message."""
    m = _REF.match(text.strip()) if isinstance(text, str) else None
    if m is None or (
        "." not in m.group("host") and ":" not in m.group("host") and m.group("host") != "localhost"
    ):
        raise ReferenceError_(
            f"image {text!r} is not a reference of the form REGISTRY/REPOSITORY[:TAG][@sha256:HEX] "
            "(the registry host must be explicit)"
        )
    if m.group("tag") is None and m.group("digest") is None:
        raise ReferenceError_(f"image {text!r} names neither a tag nor a digest")
    return ImageRef(m.group("host"), m.group("path"), m.group("tag"), m.group("digest"))
