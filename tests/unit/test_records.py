import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsmon.records import RawArticle, RecordError, decode_raw, dumps


def test_round_trip() -> None:
    r = RawArticle(id="a", title="t", url="https://x", summary="s",
                   published="2021-12-02T00:00:00Z")
    assert decode_raw(dumps(r.to_dict())) == r


@pytest.mark.parametrize("data, message", [
    (b"not json", "invalid JSON"),
    (b"[1,2]", "JSON object"),
    (b'{"title": "t"}', "'id'"),
    (b'{"id": "a", "title": "t", "schema_version": 99}', "schema_version"),
    (b'{"id": "a", "title": "t", "schema_version": "1"}', "schema_version"),
    (b'{"id": "a", "title": "t", "url": 5}', "'url'"),
])
def test_bad_records_raise_clear_errors(data: bytes, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        decode_raw(data)


@given(st.builds(RawArticle, id=st.text(min_size=1), title=st.text(),
                 url=st.none() | st.text(), summary=st.text(), content=st.text()))
def test_round_trip_arbitrary(r: RawArticle) -> None:
    assert decode_raw(dumps(r.to_dict())) == r
