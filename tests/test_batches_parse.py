"""The batch body reader: the same requests as json.loads, whatever the read window cuts."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orbridge.proxy.batches import parse
from orbridge.proxy.errors import ProxyError

VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                                   max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(items=st.lists(VALUES, max_size=6), window=st.integers(1, 40), indent=st.sampled_from([None, 0, 2]),
       extra=st.booleans(), ascii_only=st.booleans())
def test_same_items_as_json_loads(items, window, indent, extra, ascii_only):
    body = {"before": [1, {"x": "}"}], "requests": items} if extra else {"requests": items}
    raw = json.dumps(body, indent=indent, ensure_ascii=ascii_only).encode()
    old = parse.WINDOW
    parse.WINDOW = window
    try:
        assert list(parse.requests_of(io.BytesIO(raw))) == items
    finally:
        parse.WINDOW = old


@pytest.mark.parametrize("raw", [
    b"", b"[]", b"{", b'{"requests": [1 2]}', b'{"requests": [1,]}', b'{"requests": [], }', b'{"requests": 3}',
    b'{"requests": []} []', b'{"requests": ["\xff"]}', b'{"requests": [12'])
def test_malformed_bodies_are_400s(raw):
    with pytest.raises(ProxyError) as exc:
        list(parse.requests_of(io.BytesIO(raw)))
    assert exc.value.status == 400
