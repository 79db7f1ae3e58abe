"""What a typed query means: the substrings to look for, phone numbers in every form.

Pure functions (no database): the web page, the suggestions and the API share them.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

MIN_LENGTH = 3  # a trigram index can't look up less
MIN_LENGTH_CJK = 2  # Chinese names are often two characters: looked up without the index
MAX_LENGTH = 100
PHONE_LIKE = re.compile(r"[\d\s()+\-./]+")
MIN_PHONE_DIGITS = 5
TRUNK_PREFIXES = ("8", "0")  # dialled before a national number (Russia 8, China and Europe 0)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")


class QueryError(ValueError):
    """The query can't be searched for: ``code`` is "empty", "too_short" or "too_long"."""

    @property
    def code(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Terms:
    """Every group must match; within a group, any alternative. ``short``: pieces too short
    for the index, matched by a plain substring test instead."""

    groups: tuple[tuple[str, ...], ...] = ()
    short: tuple[str, ...] = ()
    phone: bool = False
    text: str = field(default="", compare=False)


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def check(raw: str | None) -> str:
    """The query cleaned (NFKC, spaces collapsed), or :class:`QueryError`."""
    text = unicodedata.normalize("NFKC", raw or "")
    # Control and unassigned characters (NUL, which PostgreSQL refuses in text) are dropped.
    text = " ".join("".join(ch if unicodedata.category(ch)[0] != "C" else " "
                            for ch in text).split())
    if len(text) > MAX_LENGTH:
        raise QueryError("too_long")
    if not text:
        raise QueryError("empty")
    need = MIN_LENGTH_CJK if has_cjk(text) else MIN_LENGTH
    if len(text) < need:
        raise QueryError("too_short")
    return text


def phone_variants(text: str) -> tuple[str, ...]:
    """The digit strings a phone number typed as ``text`` may be stored under: its digits;
    the national number when it reads as an international one (``+7 495…``, ``7495…``); the
    digits without a trunk prefix (``8 495…``, ``010…``) — keeping only those that contain no
    other. Stored numbers are
    indexed as digits and matched as substrings, so ``4951234567`` finds ``+7 (495) 123-45-67``
    and ``8 495 123 45 67`` alike."""
    import phonenumbers  # ~1 MB and its metadata: loaded by the first phone-like query only

    digits = re.sub(r"\D", "", text)
    variants = [digits]
    typed_plus = text.lstrip().startswith("+")
    # Digits without "+" are read as international only when they can't start with a trunk
    # prefix: "8 495…" is Russian, not Vietnamese (+84).
    for candidate in (text if typed_plus else None,
                      None if digits[:1] in TRUNK_PREFIXES else "+" + digits):
        if candidate is None:
            continue
        try:
            number = phonenumbers.parse(candidate, None)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            variants.append(str(number.national_number))
            break
    if digits[:1] in TRUNK_PREFIXES and len(digits) > MIN_PHONE_DIGITS:
        variants.append(digits[1:])
    kept = {v for v in variants if len(v) >= MIN_PHONE_DIGITS}
    # A variant containing another is redundant: whatever holds it holds the shorter one too
    # (one substring to look up instead of two).
    return tuple(sorted((v for v in kept if not any(o != v and o in v for o in kept)),
                        key=lambda v: (-len(v), v)))


def parse(raw: str | None) -> Terms:
    """``raw`` as :class:`Terms` (raises :class:`QueryError`). Words are matched anywhere in a
    record, in any order; words shorter than the index can use ride along as substrings, or
    the whole query is one substring when every word is short ("Li Wu")."""
    text = check(raw)
    if PHONE_LIKE.fullmatch(text) and len(re.sub(r"\D", "", text)) >= MIN_PHONE_DIGITS:
        return Terms(groups=(phone_variants(text),), phone=True, text=text)
    words = list(dict.fromkeys(text.split(" ")))
    long = tuple((w,) for w in words if len(w) >= MIN_LENGTH)
    short = tuple(w for w in words if len(w) < MIN_LENGTH)
    if not long:
        if len(text) >= MIN_LENGTH:
            return Terms(groups=((text,),), text=text)
        return Terms(short=(text,), text=text)
    return Terms(groups=long, short=short, text=text)


_DIGIT_RUN = re.compile(r"\d{3,}")
KEY_DIGITS = 5  # the tail of a number looked up in the index: its most distinctive digits


def rare_part(needle: str) -> str:
    """The part of ``needle`` the trigram index finds fewest records for, guessed without
    statistics: the last five digits of its longest run of digits (a phone's or tax id's
    leading digits — country, area, region code — are shared by thousands), else an e-mail's
    local part (the domain is shared), else all of it. Every trigram of what is looked up
    costs its whole list of records: "500" or "com" are in 100k–200k contacts at 1M deals, and
    a full phone number took 2.5 ms where its tail takes 0.1 ms."""
    runs = _DIGIT_RUN.findall(needle)
    if runs:
        return max(runs, key=len)[-KEY_DIGITS:]
    local = needle.split("@", 1)[0]
    if local != needle and len(local) >= MIN_LENGTH:
        return local
    return needle


@dataclass(frozen=True)
class IndexPlan:
    """How SQLite's FTS5 table answers :class:`Terms`: ``match`` groups go to the index,
    ``check`` groups are tested on each candidate's document (``LIKE``). One group — the one
    whose rare part looks rarest — leads through the index by that part; the other groups of
    plain ASCII (where ``LIKE`` ignores case as the index does) are checked on the candidates
    instead of intersecting their (long) lists in the index; other scripts stay in the index."""

    match: tuple[tuple[str, ...], ...]
    check: tuple[tuple[str, ...], ...]


def _rarity(keys: tuple[str, ...]) -> tuple[int, int]:
    """How rare keys look without statistics: digits first, then the longest."""
    return (min(any(ch.isdigit() for ch in k) for k in keys), min(len(k) for k in keys))


def widened(key: str, needle: str) -> str | None:
    """``key`` with the character before it in ``needle`` (else the one after): a key read out
    of a longer word ("2718" of "contact2718@example.com") is in many records of an index
    where the word is in none (deal titles numbered "#952718"); one more character ("t2718")
    usually isn't — an index holding no record for it answers at once."""
    at = needle.find(key)
    if at < 0 or key == needle:
        return None
    return needle[at - 1:at + len(key)] if at else needle[:len(key) + 1]


@lru_cache(maxsize=256)
def _leads(terms: Terms) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """(group, key) pairs that may lead through the index — the plain ASCII groups by their
    rare parts, rarest-looking first; then, for a word (not a phone) read by a part of it, that
    part :func:`widened`."""
    checkable = [g for g in terms.groups if all(a.isascii() for a in g)]
    keyed = [(g, tuple(dict.fromkeys(rare_part(a) for a in g))) for g in checkable]
    # sorted() is stable: among keys that look alike the query's first stays first.
    leads = sorted(keyed, key=lambda pair: _rarity(pair[1]), reverse=True)
    if not terms.phone:
        for group, keys in list(leads):
            wider = widened(keys[0], group[0]) if len(group) == 1 else None
            if wider is not None:
                leads.append((group, (wider,)))
    return tuple(leads)


def lead_keys(terms: Terms) -> tuple[tuple[str, ...], ...]:
    """The keys that may lead :func:`index_plan` (``lead`` counts in this order): the first
    by the look of the words; a search that knows an index's own figures (which key it holds
    no record for) passes a later one."""
    return tuple(key for _, key in _leads(terms))


@lru_cache(maxsize=512)
def index_plan(terms: Terms, lead: int = 0) -> IndexPlan:
    """The plan of ``terms`` led by the ``lead``-th of :func:`lead_keys` (default the
    rarest-looking; kept: a search asks it for every kind's statement and parameters). Any
    lead gives the same records — the other groups are checked on its candidates — only the
    number of candidates read differs."""
    leads = _leads(terms)
    if not leads:
        return IndexPlan(terms.groups, ())
    checkable = {group for group, _ in leads}
    lead_group, key = leads[lead]
    match = (key, *(g for g in terms.groups if g not in checkable))
    check = tuple(g for g in terms.groups if g in checkable and (g != lead_group or key != g))
    return IndexPlan(match, check)


@lru_cache(maxsize=256)
def trigram_plan(terms: Terms) -> IndexPlan:
    """How PostgreSQL's trigram index answers :class:`Terms`: every group goes to the index
    (``match``) — the planner intersects the words' lists, or walks the newest records when
    they are common together, as its statistics say — but a group by its rare parts where they
    differ from what was typed (an e-mail's "2718", a phone's last five digits), whose whole
    alternatives are then ``check``-ed on the candidates: every trigram of a full address
    costs its list ("exa", "com": every contact; 9 ms instead of 0.2 ms at 200k contacts).
    Unlike SQLite's :func:`index_plan`, words stay in the index: tested only on the
    candidates of one, two words common apart and never together ("software silver") had the
    planner walk every deal (0.8 s instead of 0.15 ms)."""
    match, check = [], []
    for group in terms.groups:
        keys = tuple(dict.fromkeys(rare_part(a) for a in group))
        match.append(keys)
        if keys != group:
            check.append(group)
    return IndexPlan(tuple(match), tuple(check))


def fts_match(groups: tuple[tuple[str, ...], ...]) -> str:
    """An FTS5 MATCH expression (trigram tokenizer: a quoted string matches as a substring)."""
    def quote(s: str) -> str:
        return '"' + s.replace('"', '""') + '"'

    return " AND ".join("(" + " OR ".join(quote(a) for a in group) + ")" for group in groups)


def like_pattern(needle: str) -> str:
    """``%needle%`` with LIKE's wildcards escaped (escape character ``\\``)."""
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
