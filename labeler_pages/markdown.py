"""Guide text for the labeler pages: Markdown rendered by Python-Markdown, then sanitized by nh3
(ammonia) against an allow-list.

A guide's body is written by operations, but it is still stored text shown inside a signed-in
page, so it is treated as untrusted: raw HTML in the Markdown survives only where the allow-list
says so — no scripts, styles, event handlers, forms or frames, and links and images only over
http(s) (links also mailto), or relative. Headings start at ``<h2>``: the page's own ``<h1>`` is
the guide's name, and headings must stay in order.
"""

from __future__ import annotations

import markdown as markdown_lib
import nh3

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em", "h2", "h3",
        "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "strong", "sub",
        "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"align"},
    "th": {"align", "scope"},
    "ol": {"start"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Dropped with everything inside them (other disallowed tags keep their text).
DROPPED_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "noscript", "template"})

EXTENSIONS = ["tables", "fenced_code", "sane_lists", "toc"]
EXTENSION_CONFIGS = {
    "toc": {"baselevel": 2},  # "# Title" becomes <h2>: the page's <h1> is the guide's name
    "tables": {"use_align_attribute": True},  # align= rather than style= (styles are dropped)
}


def render_markdown(text: str) -> str:
    """The sanitized HTML of the Markdown ``text``: safe to mark safe in a template. Pure."""
    html = markdown_lib.markdown(
        text or "", extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS
    )
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
