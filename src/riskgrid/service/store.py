"""Where finished jobs' result files live: a local directory or any fsspec URL (s3://…)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import fsspec

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ResultStore:
    def __init__(self, location: str) -> None:
        self.fs, root = fsspec.core.url_to_fs(location)
        self.root = root.rstrip("/")
        if self.fs.protocol in ("file", ("file", "local")) or "file" in self.fs.protocol:
            Path(self.root).mkdir(parents=True, exist_ok=True)

    def _path(self, tenant: str, job_id: str, name: str) -> str:
        if not _SAFE_NAME.match(name):
            raise ValueError(f"unsafe result file name {name!r}")
        return f"{self.root}/{tenant}/{job_id}/{name}"

    def put_dir(self, tenant: str, job_id: str, local_dir: Path) -> list[str]:
        """Upload every plain file of ``local_dir`` (not recursive); returns the names stored."""
        names: list[str] = []
        for f in sorted(local_dir.iterdir()):
            if f.is_file() and _SAFE_NAME.match(f.name):
                target = self._path(tenant, job_id, f.name)
                self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
                # write under a temporary name then move, so a reader never sees half a file
                tmp = target + ".part"
                self.fs.put_file(str(f), tmp)
                self.fs.mv(tmp, target)
                names.append(f.name)
        return names

    def read(self, tenant: str, job_id: str, name: str) -> bytes:
        with self.fs.open(self._path(tenant, job_id, name), "rb") as fh:
            return fh.read()

    def stream(self, tenant: str, job_id: str, name: str, chunk: int = 1 << 20) -> Iterator[bytes]:
        with self.fs.open(self._path(tenant, job_id, name), "rb") as fh:
            while block := fh.read(chunk):
                yield block
