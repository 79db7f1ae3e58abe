"""Posts' Markdown to safe HTML: markdown-it-py (CommonMark, raw HTML off) then nh3's allow-list.

Two locks rather than one: markdown-it escapes any HTML typed into a post, and nh3 keeps only
the tags, attributes and URL schemes listed here — so no script, no event handler, no
``javascript:``/``data:`` link and no SVG survive even if the parser were ever wrong.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

TAGS = {"p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td"}
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
SCHEMES = {"http", "https", "mailto"}
MENTION = re.compile(r"(?<![\w@.+-])@([A-Za-z0-9_][A-Za-z0-9_.-]{0,79})")


@lru_cache(maxsize=1)
def _parser() -> Any:
    # Imported by the first post written: pages show the stored HTML and never need them.
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
        ["table", "strikethrough"])


def render(body: str) -> str:
    """The HTML shown for ``body``; stored with the post, so pages never re-render it."""
    import nh3

    html = _parser().render(body)
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES,
                     link_rel="noopener noreferrer nofollow", strip_comments=True,
                     filter_style_properties={"text-align"})


def mentioned_usernames(body: str) -> list[str]:
    """``@username`` mentions in order of appearance, once each (trailing dots dropped)."""
    names: dict[str, None] = {}
    for match in MENTION.finditer(body):
        name = match.group(1).rstrip(".-")
        if name:
            names.setdefault(name.lower(), None)
    return list(names)
