"""``_wire.scan_depth``, the depthUpdate envelope scanned in C, against msgspec.

The scanner takes only Binance's exact compact shape and must then return exactly
what msgspec's typed decode returns; for anything else it returns None and
``depth_wire`` decodes with msgspec as before. So ``depth_wire``'s answer (a wire
diff, None, or BinanceParseError) is the msgspec path's for every frame.
"""

from __future__ import annotations

import json

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from stanchion.venues.binance import codec as codec_module
from stanchion.venues.binance._wire import scan_depth
from stanchion.venues.binance.codec import BinanceCodec, BinanceParseError
from stanchion.venues.binance.schemas import BinanceDepthWire
from tests.venues.binance.capture import capture_dir, read_ws


def _fields(wire: BinanceDepthWire) -> tuple[object, ...]:
    return (wire.e, wire.E, wire.s, wire.U, wire.u, bytes(wire.b), bytes(wire.a))


def _reference(frame: bytes) -> tuple[str, object]:
    """depth_wire without the scanner: the msgspec path alone."""
    scanner = codec_module._scan_depth
    codec_module._scan_depth = None  # type: ignore[misc]
    try:
        return _answer(frame)
    finally:
        codec_module._scan_depth = scanner  # type: ignore[misc]


def _answer(frame: bytes) -> tuple[str, object]:
    try:
        wire = BinanceCodec().depth_wire(frame)
    except BinanceParseError:
        return "BinanceParseError", None
    return ("wire", _fields(wire)) if wire is not None else ("none", None)


def test_the_scanner_is_built_by_the_install() -> None:
    assert codec_module.SCANNER_AVAILABLE


def test_every_depth_frame_of_the_real_capture_is_scanned_as_msgspec_decodes_it() -> None:
    frames = [f for _, f in read_ws(capture_dir() / "BINANCE.ws.1.0") if b"depthUpdate" in f]
    assert len(frames) > 100
    marker = b'"data":'
    for combined in frames:
        raw = combined[combined.index(marker) + len(marker) : -1]
        for frame, want in (
            (combined, codec_module._combined_depth_decode(combined).data),
            (raw, codec_module._raw_depth_decode(raw)),
        ):
            got = scan_depth(frame)
            assert got is not None, frame[:80]  # the production shape takes the fast path
            assert _fields(got) == _fields(want)
            assert got == want


_digits = st.integers(min_value=0, max_value=10**18 - 1)
_number = st.text(alphabet="0123456789.", max_size=14)
_levels = st.lists(st.tuples(_number, _number), max_size=5)


@st.composite
def _frames(draw: st.DrawFn) -> bytes:
    body = (
        '{"e":"depthUpdate","E":%d,"s":"%s","U":%d,"u":%d,"b":%s,"a":%s}'  # noqa: UP031
        % (
            draw(_digits),
            draw(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=12)),
            draw(_digits),
            draw(_digits),
            json.dumps(draw(_levels), separators=(",", ":")),
            json.dumps(draw(_levels), separators=(",", ":")),
        )
    )
    if draw(st.booleans()):
        stream = draw(st.sampled_from(["btcusdt@depth@100ms", "btcusdt@depth", "btcusdt@trade", "x@depth@1000ms"]))
        body = '{"stream":"%s","data":%s}' % (stream, body)  # noqa: UP031
    return body.encode()


# Edits that leave the frame valid JSON in another shape, or make it invalid.
_EDITS = [
    lambda f: f.replace(b",", b", ", 1),
    lambda f: f.replace(b":", b" :", 2),
    lambda f: f.replace(b'"E":', b'"E":0'),  # a leading zero: not JSON
    lambda f: f.replace(b'"U":', b'"U":-'),
    lambda f: f.replace(b'"u":', b'"u":1234567890123456789'),  # beyond 18 digits
    lambda f: f.replace(b'"s":"', b'"s":"\\u0042'),  # an escape
    lambda f: f.replace(b'"s":"', b'"s":"b'),  # lower case
    lambda f: f.replace(b'"b":[', b'"b":[1,'),
    lambda f: f.replace(b'"a":', b'"x":1,"a":'),  # an extra field
    lambda f: f.replace(b"]]", b"],]", 1),
    lambda f: f.replace(b'["', b'[ "', 1),
    lambda f: f.replace(b'.', b'e', 1),
    lambda f: f.replace(b'"]', b'","1"]', 1),  # a level of three
    lambda f: f[:-1],
    lambda f: f + b" ",
    lambda f: f + b"}",
    lambda f: f.replace(b"depthUpdate", b"depthUpdatf"),
    lambda f: f.replace(b'"data":', b'"data": '),
    lambda f: f.replace(b'@depth', b'@depth"x', 1),
]


@settings(max_examples=500, deadline=None)
@given(frame=_frames(), edits=st.lists(st.sampled_from(range(len(_EDITS))), max_size=3))
def test_depth_wire_answers_as_the_msgspec_path_for_any_frame(frame: bytes, edits: list[int]) -> None:
    for edit in edits:
        frame = _EDITS[edit](frame)
    scanned = scan_depth(frame)
    if not edits and b"@trade" not in frame and b"@1000ms" not in frame:
        assert scanned is not None  # the exact shape always takes the fast path
    if scanned is not None:  # only ever what msgspec decodes, and the same
        assert _answer(frame) == ("wire", _fields(scanned))
    assert _answer(frame) == _reference(frame)


def test_anything_but_bytes_is_not_scanned() -> None:
    frame = b'{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[],"a":[]}'
    assert scan_depth(frame) is not None
    assert scan_depth(bytearray(frame)) is None
    assert scan_depth(frame.decode()) is None
    assert BinanceCodec().depth_wire(frame.decode()) == msgspec.json.decode(frame, type=BinanceDepthWire)
