"""Canonical article URLs and the stable article id derived from them.

``canonical_url`` removes what differs between copies of one link without
changing what it points at: tracking parameters (``utm_*``, ``fbclid``,
``gclid`` and friends), the fragment, default ports, case in scheme and host,
a trailing slash, ``index.html``, AMP and mobile variants. It never raises: a
string that is not a usable http(s) URL is returned stripped, so the caller can
still hash it.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

_TRACKING_EXACT = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
    "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref", "ref_src", "ref_url", "referrer",
    "cmpid", "cmp", "ncid", "ocid", "sr_share", "smid", "smtyp", "s_cid", "icid", "ito",
    "int_cmp", "wt.mc_id", "wt_mc_id", "xtor", "spm", "taid", "rss", "outputtype", "amp",
})
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "vero_", "oly_", "__s", "at_", "ns_")
_AMP_PATH = re.compile(r"(?:/amp/?$|/amp(?=/)|\.amp(?=\.html?$|$))", re.IGNORECASE)
_HOST_PREFIX = re.compile(r"^(?:www\d*|m|mobile|amp)\.", re.IGNORECASE)
_INDEX = re.compile(r"/(?:index|default)\.(?:html?|php|aspx?)$", re.IGNORECASE)


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in _TRACKING_EXACT or low.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """Return the canonical form of ``url`` (idempotent, never raises)."""
    text = url.strip() if isinstance(url, str) else ""
    try:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            return text
        host = parts.hostname.lower().rstrip(".")
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
        while True:
            m = _HOST_PREFIX.match(host)
            if m is None or "." not in host[m.end():]:
                break
            host = host[m.end():]
        port = parts.port
        netloc = host if ":" not in host else f"[{host}]"
        # Both schemes name the same article: canonicalise to https, and drop
        # either scheme's default port (else http://h:443/ would change on a
        # second pass, once it reads as https).
        if port is not None and port not in (80, 443):
            netloc = f"{netloc}:{port}"
        scheme = "https"
        path = quote(unquote(parts.path), safe="/:@!$&'()*+,;=-._~")
        path = re.sub(r"/{2,}", "/", path)
        path = _AMP_PATH.sub("", path)
        path = _INDEX.sub("/", path)
        if len(path) > 1:
            path = path.rstrip("/")
        if not path:
            path = "/"
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                 if not _is_tracking(k)]
        query.sort()
        return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))
    except (ValueError, UnicodeError):
        return text


def article_id(url: str | None, guid: str | None = None, title: str | None = None) -> str:
    """Stable id: a hash of the canonical URL, else of the GUID, else of the title."""
    if url and url.strip():
        basis = "url:" + canonical_url(url)
    elif guid and guid.strip():
        basis = "guid:" + guid.strip()
    else:
        basis = "title:" + " ".join((title or "").lower().split())
    return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:32]
