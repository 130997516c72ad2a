"""The chain as the queue sees it: ITransformer implementations, links recorded."""

from twisted.internet.task import Clock
from twisted.python.threadpool import ThreadPool
from zope.interface.verify import verifyObject

from smtpeter.features._transformer import PassThrough, ThreadedChain
from smtpeter.features.interfaces import ITransformer
from smtpeter.store import MemoryStore, openDatabase
from smtpeter.store._domains import DomainKeys, DomainStore

from ..conftest import fixture
from .conftest import QID, makeChain, message


class SyncReactor:
    """deferToThreadPool's reactor, calling back at once (the pool runs inline)."""

    def callFromThread(self, f, *args, **kwargs):
        f(*args, **kwargs)


class InlinePool(ThreadPool):
    def callInThreadWithCallback(self, onResult, func, *args, **kw):
        try:
            result = func(*args, **kw)
        except BaseException as e:  # pragma: no cover - reported through onResult
            onResult(False, e)
        else:
            onResult(True, result)


def resultOf(d):
    results = []
    d.addBoth(results.append)
    [result] = results
    return result


def test_interfaces(tmp_path):
    verifyObject(ITransformer, PassThrough())
    verifyObject(ITransformer, ThreadedChain(makeChain(tmp_path), SyncReactor(), InlinePool()))


def test_threaded_chain_records_links_and_renders(tmp_path):
    store = MemoryStore(Clock())
    chain = ThreadedChain(makeChain(tmp_path), SyncReactor(), InlinePool(), store)
    content = fixture("gmail")
    prepared = resultOf(chain.prepare(message(content, ("trackclicks",)), content))
    assert store.sentLinks[QID] == prepared.links and len(prepared.links) == 2
    assert prepared.links[1] == "https://maps.example.org/?q=52.37,4.89"
    copy = resultOf(chain.render(prepared, 1))
    assert copy.recipient == "second@example.org" and b"/c/" in copy.content


def test_pass_through_is_untouched(tmp_path):
    content = fixture("newsletter")
    transformer = PassThrough()
    prepared = resultOf(transformer.prepare(message(content, ("trackclicks",)), content))
    assert prepared.shared
    assert resultOf(transformer.render(prepared, None)).content == content


def test_domain_keys_parent_lookup_and_reload(tmp_path):
    store = DomainStore(openDatabase(tmp_path / "db.sqlite"))
    now = [0.0]
    keys = DomainKeys(store, ttl=10, clock=lambda: now[0])
    assert keys.keyFor("example.com") is None
    store.add("example.com")
    assert keys.keyFor("example.com") is None  # not re-read yet
    now[0] = 11
    assert keys.keyFor("mail.example.com").domain == "example.com"
    assert keys.keyFor("EXAMPLE.com.").domain == "example.com"
    assert keys.keyFor("com") is None and keys.keyFor("notexample.com") is None


def test_links_that_cannot_be_recorded_fail_the_attempt(tmp_path):
    from twisted.internet.defer import fail

    class Full(MemoryStore):
        def recordLinks(self, qid, links):
            return fail(OSError("database or disk is full"))

    chain = ThreadedChain(makeChain(tmp_path), SyncReactor(), InlinePool(), Full(Clock()))
    content = fixture("gmail")
    failure = resultOf(chain.prepare(message(content, ("trackclicks",)), content))
    assert failure.check(OSError)  # retried later, never sent with links nobody can resolve
