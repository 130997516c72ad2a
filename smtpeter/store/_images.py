"""
Hosted images, content-addressed: C{images/ab/abcdef....png} under the data
directory, named by the SHA-256 of their bytes, so a picture sent in a
million messages is stored once. Written to a temporary file, fsynced and
renamed, so a file that exists is whole.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorThreads
from twisted.internet.threads import deferToThreadPool

EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/pjpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/svg+xml": "svg",
    "image/bmp": "bmp",
    "image/x-icon": "ico",
    "image/vnd.microsoft.icon": "ico",
    "image/avif": "avif",
}
CONTENT_TYPES = {ext: ctype for ctype, ext in reversed(EXTENSIONS.items())}
_NAME = re.compile(r"([0-9a-f]{64})\.([a-z]{3,4})")


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, data: bytes, contentType: str) -> str | None:
        """Store C{data}; its name (C{hash.ext}), or C{None} for a type we do not host."""
        extension = EXTENSIONS.get(contentType.lower())
        if extension is None:
            return None
        name = f"{hashlib.sha256(data).hexdigest()}.{extension}"
        path = self.path(name)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{name}.{os.getpid()}.tmp")
            with open(temporary, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, path)
        return name

    def path(self, name: str) -> Path:
        match = _NAME.fullmatch(name)
        if match is None:
            raise ValueError(f"not an image name: {name!r}")
        return self.root / name[:2] / name

    def exists(self, name: str) -> bool:
        try:
            return self.path(name).exists()
        except ValueError:
            return False

    def fetch(self, name: str, reactor: IReactorThreads) -> Deferred[tuple[bytes, str] | None]:
        """L{get}, read in one of C{reactor}'s threads."""
        return deferToThreadPool(reactor, reactor.getThreadPool(), self.get, name)

    def get(self, name: str) -> tuple[bytes, str] | None:
        """The image's bytes and content type, or C{None} if there is no such image."""
        try:
            path = self.path(name)
            return path.read_bytes(), CONTENT_TYPES[name.rsplit(".", 1)[1]]
        except (ValueError, KeyError, FileNotFoundError):
            return None
