"""The owner's words on the pages: a description's web links made clickable, and nothing else."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Only http(s): a javascript:, data: or any other scheme stays text. A URL ends at a space, a quote
# or an angle bracket; punctuation after it ends the sentence, not the link.
_URL = re.compile(r"\bhttps?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}"


@register.filter
def description_html(text: str) -> SafeString:
    """`text` escaped, in paragraphs, its http(s) URLs as links that pass no ranking and no opener."""
    parts, last = [], 0
    for match in _URL.finditer(text):
        url = match.group().rstrip(_TRAILING)
        parts.append(escape(text[last : match.start()]))
        parts.append(f'<a href="{escape(url)}" rel="nofollow ugc noopener">{escape(url)}</a>')
        last = match.start() + len(url)
    parts.append(escape(text[last:]))
    return mark_safe(linebreaks("".join(parts), autoescape=False))  # noqa: S308 (every part is escaped above)
