"""Image URLs of tasks and gold items: any http(s) URL with a host is accepted — single-label
hosts (``x``, ``minio``) and ports included, as in a private network — and everything else is
still refused with the field's message."""

from __future__ import annotations

import pytest

from assignments.services.imports import _clean_image_url
from qc.services.gold import clean_image_url

ACCEPTED = [
    "https://x/1.jpg",
    "https://minio:9000/b/1.jpg",
    "http://minio/bucket/a%20b.png?sig=1#frag",
    "https://img.example.test/a.jpg",
    "http://localhost:8000/a.jpg",
    "http://127.0.0.1/a.jpg",
    "http://[::1]:9000/a.jpg",
    "https://storage-1.internal/poles/0001.jpg",
]

REFUSED = [
    "ftp://x/a.jpg",
    "javascript:alert(1)",
    "https://",
    "https:///a.jpg",
    "http://exa mple/a.jpg",
    "https://x:99999/a.jpg",
    "https://-bad-/a.jpg",
    "http://user@/a.jpg",
]


@pytest.mark.parametrize("url", ACCEPTED)
@pytest.mark.parametrize("clean", [clean_image_url, _clean_image_url])
def test_http_urls_with_a_host_are_accepted(clean, url):
    assert clean(url) == url


@pytest.mark.parametrize("url", REFUSED)
@pytest.mark.parametrize("clean", [clean_image_url, _clean_image_url])
def test_other_urls_are_refused(clean, url):
    with pytest.raises(ValueError, match="http or https"):
        clean(url)
