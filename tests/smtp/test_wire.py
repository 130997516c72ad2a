"""
The DATA reader: the same content whatever way the bytes arrive, compared
with a line-by-line reading of RFC 5321 4.5.2; bodies spilled to disk.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from smtpeter.queue._incoming import IncomingContent, Spilled
from smtpeter.smtp._wire import MAX_TEXT_LINE, DataReader, hasLongLine


def reference(wire: bytes, maxSize: int = 10**9):
    """
    Line by line: (content, problem, what follows the final dot, bare line
    ends), or (None, ...) unfinished.
    """
    out, problem, size, bare = [], None, 0, 0
    position = 0
    while True:
        end = wire.find(b"\r\n", position)
        if end < 0:
            return None, problem, b"", bare
        line = wire[position:end]
        position = end + 2
        if line == b".":
            return b"".join(out), problem, wire[position:], bare
        if line.startswith(b"."):
            line = line[1:]
        bare += line.count(b"\r") + line.count(b"\n")
        for piece in re.split(rb"\r|\n", line):
            if len(piece) > MAX_TEXT_LINE:
                problem = problem or "line"
            size += len(piece) + 2
            if size > maxSize:
                problem = problem or "size"
            out.append(piece + b"\r\n")


def read(chunks: list[bytes], maxSize: int = 10**9):
    sink = IncomingContent()
    reader = DataReader(maxSize, sink)
    buffer = bytearray()
    for i, chunk in enumerate(chunks):
        buffer += chunk
        if reader.feed(buffer):
            return sink.finish(sink.header), reader, bytes(buffer) + b"".join(chunks[i + 1 :])
    return None, reader, bytes(buffer)


def pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


lineText = st.sampled_from([b"", b".", b"..", b".x", b"a", b"a.b", b"a\rb", b"a\nb", b"\r", b"x "])


@settings(max_examples=400, deadline=None)
@given(
    st.lists(lineText, max_size=12),
    st.lists(st.integers(min_value=0, max_value=200), max_size=8),
    st.sampled_from([b"", b"QUIT\r\n", b"MAIL FROM:<a@b>\r\n"]),
)
def test_same_content_however_the_bytes_arrive(lines, cuts, after):
    wire = b"".join(line + b"\r\n" for line in lines) + b".\r\n" + after
    expected, problem, rest, bare = reference(wire)
    content, reader, left = read(pieces(wire, cuts))
    assert content == expected
    assert reader.problem == problem
    assert left == rest  # pipelined commands after the dot stay for the session
    assert reader.bareEndings == bare


def test_the_end_is_only_crlf_dot_crlf():
    for fake in (b"a\n.\nb\r\n", b"a\r.\rb\r\n", b"a\r\n.\nb\r\n", b"a\n.\r\nb\r\n"):
        content, _, _ = read([fake])
        assert content is None, fake
        content, _, _ = read([fake + b".\r\n"])
        assert content is not None and content.endswith(b"b\r\n")


def test_an_empty_message_and_a_dot_split_from_its_line_end():
    assert read([b".\r\n"])[0] == b""
    assert read([b".", b"\r", b"\n"])[0] == b""
    assert read([b"a\r\n", b".", b"\r\n"])[0] == b"a\r\n"
    assert read([b"a\r\n.", b"\r\nQUIT\r\n"])[2] == b"QUIT\r\n"


def test_long_lines_are_kept_and_noted_and_size_is_a_problem():
    long = b"x" * (MAX_TEXT_LINE + 1)
    content, reader, _ = read([b"a\r\n", long[:600], long[600:] + b"\r\nb\r\n.\r\n"])
    assert reader.longLines and reader.problem is None
    assert content == b"a\r\n" + long + b"\r\nb\r\n"
    content, reader, _ = read([b"a\r\n" + long + b"\r\nb\r\n.\r\n"])
    assert reader.longLines and content == b"a\r\n" + long + b"\r\nb\r\n"
    content, reader, _ = read([b"a\r\n" + b"x" * MAX_TEXT_LINE + b"\r\n.\r\n"])
    assert not reader.longLines
    content, reader, _ = read([b"12345678\r\n" * 3 + b".\r\n"], maxSize=25)
    assert reader.problem == "size" and len(content) <= 25  # nothing kept past the limit


def test_a_long_line_goes_to_the_sink_as_it_comes():
    sink = IncomingContent()
    reader = DataReader(10**9, sink)
    buffer = bytearray(b".dot-stuffed start ")
    for _ in range(100):
        buffer += b"y.\r" * 3_000 + b"\r\n."[: 1 if _ % 2 else 0]
        assert not reader.feed(buffer)
        assert len(buffer) <= 1  # held back: at most a CR that may start a CRLF
    buffer += b".\r\n..ok\r\n.\r\n"
    assert reader.feed(buffer) and reader.longLines and reader.problem is None
    content = sink.finish(sink.header)
    assert content.startswith(b"dot-stuffed start y.\r\ny.\r\n")  # bare CRs became CRLF
    assert content.endswith(b".\r\n.ok\r\n")  # only a dot at a line start is unstuffed


def test_one_character_lines_cost_per_byte_not_per_line():
    # A million lines in 3 MB: the reader's work is a handful of bytes
    # operations per chunk; this would take seconds line by line.
    wire = b"a\r\n" * 1_000_000 + b".\r\n"
    content, reader, _ = read([wire[i : i + 65536] for i in range(0, len(wire), 65536)])
    assert len(content) == 3_000_000 and reader.problem is None


def test_large_bodies_go_to_disk_as_they_arrive(tmp_path):
    spilled = []

    def spill():
        path = tmp_path / f"spill-{len(spilled)}"
        spilled.append(path)
        return path, open(path, "wb")

    sink = IncomingContent(spill, threshold=1000)
    header = b"Subject: big\r\nFrom: a@example.com\r\n"
    body = b"\r\n" + b"line\r\n" * 2000
    reader, buffer = DataReader(10**9, sink), bytearray()
    for chunk in (header, body[:500], body[500:5000], body[5000:] + b".\r\n"):
        buffer += chunk
        done = reader.feed(buffer)
    assert done and not buffer
    assert sink.header == header and len(sink._memory) == len(header)  # only the header in memory
    stored = sink.finish(b"Received: x\r\n" + header)
    assert isinstance(stored, Spilled) and len(stored) == 13 + len(header) + len(body)
    assert stored.read() == b"Received: x\r\n" + header + body
    sink.discard()
    assert not spilled[0].exists()


def test_a_long_header_stays_in_memory_until_it_ends(tmp_path):
    sink = IncomingContent(lambda: (tmp_path / "s", open(tmp_path / "s", "wb")), threshold=100)
    header = b"".join(b"X-H%d: v\r\n" % i for i in range(100))
    sink.write(header)
    assert not (tmp_path / "s").exists()
    sink.write(b"\r\nbody\r\n")
    assert sink.header == header
    assert sink.finish(b"New: h\r\n").read() == b"New: h\r\n\r\nbody\r\n"


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from([0, 1, 80, MAX_TEXT_LINE - 1, MAX_TEXT_LINE, MAX_TEXT_LINE + 1, 2000]),
        max_size=6,
    ),
    st.booleans(),
)
def test_a_long_line_is_found_where_splitting_the_text_would_find_it(lengths, ended):
    """hasLongLine, without an object per line, says what the lines' lengths say."""
    text = b"\r\n".join(b"y" * n for n in lengths) + (b"\r\n" if ended and lengths else b"")
    expected = bool(text) and max(map(len, text.split(b"\r\n"))) > MAX_TEXT_LINE
    assert hasLongLine(text) is expected
