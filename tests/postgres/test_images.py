"""
Hosted images on PostgreSQL (L{DatabaseImageStore}): stored by one node,
served by another, under the names the files of L{ImageStore} have.
"""

from twisted.internet.defer import Deferred

from smtpeter.store import DatabaseImageStore, ImageStore, PostgreSQL, openDatabase, openImages
from smtpeter.testing import result

PNG = bytes.fromhex("89504e470d0a1a0a") + b"not really a picture"


class Threads:
    """A reactor whose thread pool runs at once (what fetch hands it)."""

    class Pool:
        def callInThreadWithCallback(self, onResult, f, *args, **kwargs):
            onResult(True, f(*args, **kwargs))

    def getThreadPool(self):
        return self.Pool()

    def callFromThread(self, f, *args, **kwargs):
        f(*args, **kwargs)


def test_an_image_one_node_stores_another_serves(postgresDatabase, tmp_path):
    database = PostgreSQL(postgresDatabase)
    openDatabase(database).close()
    a, b = openImages(database, tmp_path / "a"), openImages(database, tmp_path / "b")
    assert isinstance(a, DatabaseImageStore)
    name = a.put(PNG, "image/PNG")
    assert name == ImageStore(tmp_path / "files").put(PNG, "image/png")  # the same name
    assert a.put(PNG, "image/png") == name  # stored once
    assert b.exists(name) and b.get(name) == (PNG, "image/png")
    fetched: Deferred = b.fetch(name, Threads())
    assert result(fetched) == (PNG, "image/png")
    assert b.get("0" * 64 + ".png") is None
    assert not b.exists("../etc/passwd") and b.get("../etc/passwd") is None
    assert a.put(b"x", "text/html") is None
    assert not list((tmp_path).glob("a/**/*.png"))  # no files: the database holds them
    a.close()
    b.close()
