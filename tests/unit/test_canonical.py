from hypothesis import given, settings
from hypothesis import strategies as st

from newsmon.analysis.canonical import article_id, canonical_url


def test_tracking_parameters_fragment_case_port_and_slash_removed() -> None:
    a = canonical_url("HTTP://WWW.Example.COM:80/News/Story/?utm_source=tw&utm_medium=x&id=7#top")
    assert a == "https://example.com/News/Story?id=7"
    assert canonical_url("https://example.com/News/Story?id=7&fbclid=abc&gclid=z") == a


def test_amp_and_mobile_variants() -> None:
    base = canonical_url("https://www.example.com/world/story-1")
    assert canonical_url("https://m.example.com/world/story-1") == base
    assert canonical_url("https://amp.example.com/world/story-1/") == base
    assert canonical_url("https://example.com/world/story-1/amp") == base
    assert canonical_url("https://example.com/amp/world/story-1") == base


def test_meaningful_query_kept_and_sorted() -> None:
    assert canonical_url("https://a.com/p?b=2&a=1") == "https://a.com/p?a=1&b=2"
    assert canonical_url("https://a.com/p?b=2") != canonical_url("https://a.com/p?b=3")


def test_non_http_returned_stripped() -> None:
    assert canonical_url("  mailto:x@y.z ") == "mailto:x@y.z"
    assert canonical_url("") == ""


def test_article_id_stable_and_falls_back() -> None:
    assert article_id("https://a.com/x?utm_source=1") == article_id("http://www.a.com/x/")
    assert article_id(None, "guid-1") == article_id("", "guid-1")
    assert article_id(None, "guid-1") != article_id(None, "guid-2")
    assert len(article_id(None, None, "A title")) == 32


@settings(max_examples=400)
@given(st.text())
def test_canonical_never_raises_and_is_idempotent_on_text(s: str) -> None:
    once = canonical_url(s)
    assert canonical_url(once) == once


url_parts = st.builds(
    lambda scheme, host, path, q, frag: f"{scheme}://{host}/{path}?{q}#{frag}",
    st.sampled_from(["http", "https", "HTTP"]),
    st.from_regex(r"(www\.|m\.)?[a-z]{1,8}\.(com|org|co\.uk)(:[0-9]{1,5})?", fullmatch=True),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    st.text(max_size=30),
    st.text(max_size=10),
)


@settings(max_examples=400)
@given(url_parts)
def test_canonical_idempotent_on_urls(u: str) -> None:
    once = canonical_url(u)
    assert canonical_url(once) == once
