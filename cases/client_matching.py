"""Client matching: the pure rules behind client search and the duplicate warning at intake.

A client's personal details stay encrypted at rest, so search cannot read them. Instead
each client is indexed under keyed *blind tokens* (`blind_token`): an HMAC of each
normalised term of its details (`index_terms`). A search is turned into terms the same
way (`query_terms`); the clients holding any of the search's tokens are the candidates,
which are decrypted and ranked by `score`. At intake, `likely_same` decides whether an
existing client is probably the person being registered (the duplicate warning).

Nothing here does I/O: the storage, the index catch-up and the use cases live above.

Normalisation (rules version `client-matching-v1`):

* **Names** (`name_parts`): apostrophes join (`O'Brien` → `obrien`), then the text is
  case-folded, compatibility-decomposed (NFKD) with the combining marks dropped
  (`José` → `jose`), a few letters that do not decompose are mapped (`ß` → `ss`, `ø` → `o`,
  `æ` → `ae`, `ł` → `l`, …), and every other character that is not a letter or a digit
  separates parts (`Quennell-Ashby, Rosalind` → `quennell`, `ashby`, `rosalind`).
  Particles (`de`, `van`, `bin`) stay parts. Nicknames and common spelling variants of
  given names have canonical forms (`NICKNAMES`: `bob` → `robert`, `pepe` → `jose`,
  `mohammed` → `muhammad`).
* **Phones** (`normalise_phone`): digits only, the last 9 (`+44 7700 900123` and
  `07700 900123` are both `700900123`); fewer than 6 digits is no phone.
* **Emails** (`normalise_email`): stripped and lower-cased.
* **Identifiers** (`normalise_identifier`): key and value folded like names, with
  everything but letters and digits removed (`NHS number` / `943 476 5919` →
  `nhsnumber` / `9434765919`).

Terms (kind, value) — what a client is indexed under:

* `name`: each name part of two or more characters, the part as written and, for a
  nickname, its canonical name(s); for a part with an apostrophe, also its pieces
  (`obrien` and `brien`, so `O Brien` finds `O'Brien`).
* `sound`: the Metaphone code of each of those (`jellyfish.metaphone`: `quennel` and
  `quennell` are both `KNL`, `smith` and `smyth` `SM0`), and `codex`: its consonant
  skeleton (`jellyfish.match_rating_codex`), for misspellings. Only parts written in
  the Latin alphabet get them. Measured on the distinct name parts of
  `devtools.people.people(7, 2000)` (7,241 one-letter typos of the parts of four letters
  or more: a letter dropped, doubled, or two swapped) and 49 pairs of real spelling
  variants (Smith/Smyth, Stephen/Steven, Mohammed/Muhammad, Nowak/Novak…):

  | code | typos kept together | variants kept together | distinct names merged |
  |---|---|---|---|
  | Metaphone | 66.7 % | 32/49 | 109 pairs |
  | NYSIIS | 48.9 % | 31/49 | 129 |
  | Soundex | 79.6 % | 38/49 | 227 |
  | Match Rating codex | 74.3 % | 21/49 | 59 |
  | Metaphone + codex | 75.9 % | 32/49 | 114 |

  Metaphone is the phonetic code (it beats NYSIIS everywhere, and Soundex merges twice as
  many different names); the codex adds the typos Metaphone loses for 5 % more merged
  names. The name terms of a search already match when any part is spelt right; these
  matter for a search whose every part is misspelt.
* `dob`: the date of birth, ISO. There is deliberately no birth-year term: it would make
  every client born the same year a candidate. A date of birth with a typo still finds
  the client through the name, phone, email and identifier terms.
* `phone`, `email`; `id` (`<key>:<value>`) and `id_value` (`<value>`, for a search by an
  identifier without saying which kind it is).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from types import MappingProxyType

import jellyfish
from rapidfuzz.distance import JaroWinkler

from events.vocabulary import ClientDetails

RULES_VERSION = "client-matching-v1"

Term = tuple[str, str]
"""(kind, value): kind is one of NAME, SOUND, CODEX, DOB, PHONE, EMAIL, ID, ID_VALUE."""

NAME = "name"
SOUND = "sound"
CODEX = "codex"
DOB = "dob"
PHONE = "phone"
EMAIL = "email"
ID = "id"
ID_VALUE = "id_value"

MAX_QUERY_CHARS = 200
"""The longest text (and phone, email, identifier) a search accepts."""
MIN_PART = 2
"""Name parts shorter than this (initials) are neither indexed nor searched."""
PHONE_DIGITS = 9
"""How many trailing digits of a phone number are compared."""
MIN_PHONE_DIGITS = 6
WILDCARDS = frozenset("*%_?")
"""Not operators: characters like any other (see `query_terms`)."""

BLIND_TOKEN_BYTES = 16

# --- thresholds --------------------------------------------------------------------
# Tuned on devtools.people.population(seed, 2000, 200) for seeds 1–6 and 8–11 (seed 7 is
# the test's): over the candidate pairs, a grid of part 0.80–0.92, name 85–92, typo part
# 0.90–1.0, typo name 90–100, unmatched weight 0.1–0.25 is flat near the top (F1 0.993–
# 0.996); these are at its top. Jaro-Winkler per part was compared with Indel and
# Damerau-Levenshtein (no better), and aligned parts with rapidfuzz's token_sort_ratio and
# WRatio on the canonicalised names (seeds 1–5: F1 0.990 and 0.992 at their best
# threshold, 88, against 0.997 for these rules).

CLOSE_PART = 0.90
"""Jaro-Winkler similarity each aligned pair of name parts needs for a close name."""
CLOSE_NAME = 88.0
"""`name_similarity` a close name needs (with the same date of birth)."""
VERY_CLOSE_PART = 0.90
"""Each aligned pair of parts, for a very close name (with a date of birth typo)."""
VERY_CLOSE_NAME = 95.0
"""`name_similarity` a very close name needs (with a date of birth typo)."""
UNMATCHED_PART_WEIGHT = 0.25
"""How much a name part the other name lacks (a middle name, a second surname) costs, as
a fraction of a part that does not match at all."""

# --- nicknames ------------------------------------------------------------------------

_NICKNAME_TABLE: dict[str, tuple[str, ...]] = {
    "robert": ("bob", "bobby", "rob", "robbie", "robby", "bert"),
    "william": ("bill", "billy", "will", "willie", "willy"),
    "elizabeth": ("liz", "lizzie", "lizzy", "beth", "betty", "bess", "bessie", "eliza", "libby"),
    "margaret": ("peggy", "maggie", "meg", "madge", "margie", "greta"),
    "james": ("jim", "jimmy", "jamie"),
    "catherine": (
        "kate",
        "katie",
        "cathy",
        "kathy",
        "kat",
        "kitty",
        "katherine",
        "kathryn",
        "katharine",
        "catharine",
        "kathleen",
    ),
    "richard": ("dick", "rich", "rick", "ricky", "richie"),
    "edward": ("ed", "eddie", "eddy", "ted", "teddy", "ned"),
    "thomas": ("tom", "tommy"),
    "michael": ("mike", "mikey", "mick", "micky", "mickey"),
    "christopher": ("chris", "kit"),
    "christine": ("chris", "chrissie", "christina", "kristina", "kristine"),
    "alexander": ("alex", "sandy", "xander"),
    "alexandra": ("alex", "lexi", "sandra"),
    "anthony": ("tony", "antony"),
    "benjamin": ("ben", "benny", "benji"),
    "charles": ("charlie", "chuck", "chas"),
    "daniel": ("dan", "danny"),
    "david": ("dave", "davey", "davy"),
    "joseph": ("joe", "joey", "jo"),
    "jonathan": ("jon", "jonny"),
    "john": ("jack", "johnny", "jon", "sean"),
    "matthew": ("matt", "matty"),
    "nicholas": ("nick", "nicky", "nicolas"),
    "patrick": ("pat", "paddy"),
    "patricia": ("pat", "patsy", "trish", "tricia"),
    "peter": ("pete",),
    "samuel": ("sam", "sammy"),
    "samantha": ("sam", "sammy"),
    "stephen": ("steve", "stevie", "steven"),
    "timothy": ("tim", "timmy"),
    "andrew": ("andy", "drew"),
    "gregory": ("greg",),
    "henry": ("harry", "hal", "hank"),
    "jennifer": ("jen", "jenny", "jennie"),
    "susan": ("sue", "susie", "suzy"),
    "deborah": ("deb", "debbie", "debra"),
    "rebecca": ("becky", "becca"),
    "victoria": ("vicky", "vicki", "tori"),
    "jessica": ("jess", "jessie"),
    "abigail": ("abby", "abbie", "gail"),
    "dorothy": ("dot", "dotty", "dolly"),
    "barbara": ("barb", "babs", "basia"),
    "francis": ("frank", "frankie", "fran"),
    "frances": ("fran", "frankie", "fanny"),
    "pamela": ("pam",),
    "judith": ("judy", "jude"),
    "sarah": ("sally", "sara", "sadie"),
    "mary": ("molly", "polly", "mae"),
    "anne": ("ann", "annie", "nancy", "nan"),
    "helen": ("nell", "nellie", "ellen"),
    "eleanor": ("ellie", "nell", "nora", "elinor"),
    "alfred": ("alf", "alfie", "fred"),
    "frederick": ("fred", "freddie", "freddy", "frederic"),
    "gerald": ("gerry", "jerry"),
    "lawrence": ("larry", "laurence", "laurie"),
    "leonard": ("len", "lenny", "leo"),
    "ronald": ("ron", "ronnie"),
    "donald": ("don", "donny"),
    "douglas": ("doug",),
    "kenneth": ("ken", "kenny"),
    "raymond": ("ray",),
    "walter": ("walt", "wally"),
    "zachary": ("zach", "zack", "zak"),
    "nathaniel": ("nat", "nate", "nathan"),
    "muhammad": ("mohammed", "mohammad", "mohamed", "muhammed", "mohamad", "mohamud"),
    # Spanish
    "jose": ("pepe", "chema"),
    "francisco": ("paco", "pancho", "curro", "quico"),
    "dolores": ("lola", "loles"),
    "concepcion": ("concha", "conchita", "conchi"),
    "rosario": ("charo",),
    "ignacio": ("nacho", "inaki"),
    "guadalupe": ("lupe",),
    "enrique": ("quique",),
    "guillermo": ("memo", "guille"),
    "consuelo": ("chelo",),
    "pilar": ("pili",),
    "rafael": ("rafa",),
    "fernando": ("nando",),
    "jesus": ("chus", "chucho", "chuy"),
    "manuel": ("manolo", "manu"),
    "eduardo": ("lalo",),
    "antonio": ("tono", "toni"),
    "mercedes": ("merche",),
    # Polish
    "katarzyna": ("kasia",),
    "malgorzata": ("gosia", "malgosia"),
    "tomasz": ("tomek",),
    "jakub": ("kuba",),
    "bartlomiej": ("bartek",),
    "wojciech": ("wojtek",),
    "anna": ("ania", "anka"),
    "aleksandra": ("ola",),
}


def _invert(table: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for canonical, nicknames in table.items():
        for nickname in nicknames:
            if nickname in table:
                raise ValueError(f"nickname {nickname!r} is itself a canonical name")
            out.setdefault(nickname, []).append(canonical)
    return {nickname: tuple(canonicals) for nickname, canonicals in out.items()}


NICKNAMES: Mapping[str, tuple[str, ...]] = MappingProxyType(_invert(_NICKNAME_TABLE))
"""Normalised nickname or spelling variant → its canonical given name(s): `bob` →
(`robert`,), `pat` → (`patrick`, `patricia`). A canonical name is not itself a key."""

NICKNAMES_OF: Mapping[str, tuple[str, ...]] = MappingProxyType(dict(_NICKNAME_TABLE))
"""Canonical given name → its nicknames (the table `NICKNAMES` is built from)."""

# --- normalisation --------------------------------------------------------------------

_APOSTROPHES = "'\u2019\u02bc`\u00b4\u2018"
_JOIN = str.maketrans(dict.fromkeys(_APOSTROPHES, ""))
_SPLIT = str.maketrans(dict.fromkeys(_APOSTROPHES, " "))
_LETTERS = str.maketrans(
    {
        "ß": "ss",
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "ħ": "h",
        "ŧ": "t",
        "ŋ": "n",
        "ĸ": "k",
        "ſ": "s",
        "ŀ": "l",
    }
)
_PART = re.compile(r"[^\W_]+")
_NOT_ALNUM = re.compile(r"[\W_]+")


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """`text` case-folded, without accents: NFKD, case-fold, the letters that do not
    decompose mapped (`ß` → `ss`, `ø` → `o`, `ł` → `l`, …), NFKD again, combining marks
    dropped. Punctuation is kept (see `name_parts`)."""
    t = unicodedata.normalize("NFKD", text).casefold().translate(_LETTERS)
    t = unicodedata.normalize("NFKD", t)
    return "".join(ch for ch in t if not unicodedata.combining(ch))


@lru_cache(maxsize=65536)
def name_parts(text: str) -> tuple[str, ...]:
    """The normalised parts of a name, in order, initials included: apostrophes join,
    any other character that is neither a letter nor a digit separates.

    >>> name_parts("Quennell-Ashby, Rosalind")
    ('quennell', 'ashby', 'rosalind')
    >>> name_parts("José O'Muñoz")
    ('jose', 'omunoz')
    """
    return tuple(_PART.findall(fold(text.translate(_JOIN))))


def canonical_names(part: str) -> tuple[str, ...]:
    """The canonical given names of a normalised part: itself unless it is a nickname or
    a spelling variant (`bob` → (`robert`,), `pat` → (`patrick`, `patricia`))."""
    return NICKNAMES.get(part, (part,))


def name_variants(part: str) -> tuple[str, ...]:
    """A normalised part and, for a nickname, its canonical names."""
    return (part, *NICKNAMES.get(part, ()))


def sound(part: str) -> str | None:
    """The phonetic code of a normalised name part (Metaphone: `quennel` and `quennell`
    are `KNL`, `smith` and `smyth` `SM0`), or None for a part not written in plain Latin
    letters (digits, other scripts)."""
    if not (part.isascii() and part.isalpha()):
        return None
    return jellyfish.metaphone(part) or None


def codex(part: str) -> str | None:
    """The consonant skeleton of a normalised name part (the Match Rating Approach codex:
    the first letter, then the consonants, doubled letters once, at most the first and
    last three: `oluwaseun` → `OLWSN`), or None for a part not written in plain Latin
    letters. It survives the typos Metaphone does not (a vowel dropped or doubled)."""
    if not (part.isascii() and part.isalpha()):
        return None
    return jellyfish.match_rating_codex(part) or None


def normalise_phone(phone: str | None) -> str | None:
    """The last `PHONE_DIGITS` digits of a phone number, or None when it has fewer than
    `MIN_PHONE_DIGITS` digits."""
    if phone is None:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit() and ch.isascii())
    if len(digits) < MIN_PHONE_DIGITS:
        return None
    return digits[-PHONE_DIGITS:]


def normalise_email(email: str | None) -> str | None:
    """An email address stripped and lower-cased, or None when blank."""
    if email is None:
        return None
    return email.strip().lower() or None


def _compact(text: str) -> str:
    return _NOT_ALNUM.sub("", fold(text))


def normalise_identifier(key: str, value: str) -> tuple[str, str] | None:
    """An identifier's key and value folded, keeping only letters and digits
    (`("NHS number", "943 476 5919")` → `("nhsnumber", "9434765919")`); None when the value
    has neither."""
    k, v = _compact(key), _compact(value)
    return (k, v) if v else None


# --- the person -----------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """The details of a client that matching looks at, decrypted."""

    name: str
    date_of_birth: date | None = None
    phone: str | None = None
    email: str | None = None
    identifiers: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "identifiers", MappingProxyType(dict(self.identifiers)))

    @classmethod
    def of(cls, details: ClientDetails) -> Person:
        """The matching view of a client's details (from `CaseOpened.client`)."""
        return cls(
            name=details.name,
            date_of_birth=details.date_of_birth,
            phone=details.contact.phone,
            email=details.contact.email,
            identifiers=dict(details.identifiers),
        )

    @classmethod
    def searched(
        cls,
        *,
        text: str | None = None,
        date_of_birth: date | None = None,
        phone: str | None = None,
        email: str | None = None,
        identifier: str | None = None,
    ) -> Person:
        """A search (the parameters of `query_terms`) as the person sought, for `score`.
        An identifier without its kind (no `key:`) has the key "", which `score` matches
        against any kind."""
        identifiers: dict[str, str] = {}
        if identifier is not None and identifier.strip():
            key, sep, value = identifier.partition(":")
            identifiers = {key: value} if sep and _compact(key) else {"": identifier}
        return cls(
            name=text or "",
            date_of_birth=date_of_birth,
            phone=phone,
            email=email,
            identifiers=identifiers,
        )

    @property
    def parts(self) -> tuple[str, ...]:
        """The normalised name parts, initials dropped."""
        return tuple(p for p in name_parts(self.name) if len(p) >= MIN_PART)

    @property
    def normalised_phone(self) -> str | None:
        return normalise_phone(self.phone)

    @property
    def normalised_email(self) -> str | None:
        return normalise_email(self.email)

    @property
    def normalised_identifiers(self) -> frozenset[tuple[str, str]]:
        found = (normalise_identifier(k, v) for k, v in self.identifiers.items())
        return frozenset(i for i in found if i is not None)


# --- terms ----------------------------------------------------------------------------


def _name_terms(parts: Iterable[str]) -> set[Term]:
    terms: set[Term] = set()
    for part in parts:
        if len(part) < MIN_PART:
            continue
        for variant in name_variants(part):
            terms.add((NAME, variant))
            for kind, code in ((SOUND, sound(variant)), (CODEX, codex(variant))):
                if code is not None:
                    terms.add((kind, code))
    return terms


def index_terms(person: Person) -> frozenset[Term]:
    """The terms a client is indexed under (see the module's docstring): name parts with
    their canonical names, their Metaphone codes and consonant skeletons, date of birth,
    phone, email and identifiers. Blind them with `blind_token` before storing."""
    split = _PART.findall(fold(person.name.translate(_SPLIT)))
    terms = _name_terms((*name_parts(person.name), *split))
    if person.date_of_birth is not None:
        terms.add((DOB, person.date_of_birth.isoformat()))
    if (phone := person.normalised_phone) is not None:
        terms.add((PHONE, phone))
    if (email := person.normalised_email) is not None:
        terms.add((EMAIL, email))
    for key, value in person.normalised_identifiers:
        terms.add((ID, f"{key}:{value}"))
        terms.add((ID_VALUE, value))
    return frozenset(terms)


class QueryRefused(ValueError):
    """A search that cannot be run: `field` names the parameter ("q" for the text,
    "date_of_birth", "phone", "email", "identifier"), `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _too_long(name: str, value: str) -> None:
    if len(value) > MAX_QUERY_CHARS:
        raise QueryRefused(name, f"longer than {MAX_QUERY_CHARS} characters")


def query_terms(
    *,
    text: str | None = None,
    date_of_birth: date | None = None,
    phone: str | None = None,
    email: str | None = None,
    identifier: str | None = None,
) -> frozenset[Term]:
    """The terms of a search: a client is a candidate when it is indexed under any of them
    (rank the candidates with `score`).

    A blank string is a parameter not given; a search with none is refused (field "q").
    Each value given must be usable, else `QueryRefused` names it:

    * `text` (field "q"): at most `MAX_QUERY_CHARS` characters, normalised like a name;
      parts of one character (initials) are dropped, and at least one part of two or more
      characters must remain. Wildcards (`* % _ ?`) are characters, not operators, and
      punctuation and quotes separate words, so SQL-looking text is only words
      (`' OR 1=1 --` searches for `or`). A text of nothing but wildcards is kept as a
      literal word, which no client is indexed under: an empty result, not an error.
      Each part gives its `name` term (and its canonical names for a nickname), its
      `sound` and its `codex`.
    * `phone`: at least `MIN_PHONE_DIGITS` digits.
    * `email`: must contain "@" (only whole addresses are indexed).
    * `identifier`: `"<key>: <value>"` searches that kind of identifier, a bare value any
      kind; it needs a letter or a digit.
    """
    given = {
        "q": not _blank(text),
        "date_of_birth": date_of_birth is not None,
        "phone": not _blank(phone),
        "email": not _blank(email),
        "identifier": not _blank(identifier),
    }
    if not any(given.values()):
        raise QueryRefused("q", "nothing to search for")
    terms: set[Term] = set()
    if text is not None and given["q"]:
        terms |= _text_terms(text)
    if date_of_birth is not None:
        terms.add((DOB, date_of_birth.isoformat()))
    if phone is not None and given["phone"]:
        _too_long("phone", phone)
        number = normalise_phone(phone)
        if number is None:
            raise QueryRefused("phone", f"needs at least {MIN_PHONE_DIGITS} digits")
        terms.add((PHONE, number))
    if email is not None and given["email"]:
        _too_long("email", email)
        address = normalise_email(email)
        if address is None or "@" not in address:
            raise QueryRefused("email", "not a whole email address")
        terms.add((EMAIL, address))
    if identifier is not None and given["identifier"]:
        _too_long("identifier", identifier)
        terms.add(_identifier_term(identifier))
    return frozenset(terms)


def _text_terms(text: str) -> set[Term]:
    _too_long("q", text)
    parts = name_parts(text)
    if not parts:
        words = text.split()
        if all(set(word) <= WILDCARDS for word in words):
            return {(NAME, word) for word in words}
        raise QueryRefused("q", "no letters or digits")
    kept = [p for p in parts if len(p) >= MIN_PART]
    if not kept:
        reason = "a single character" if len(parts) == 1 else "initials only"
        raise QueryRefused("q", reason)
    return _name_terms(kept)


def _identifier_term(identifier: str) -> Term:
    key, sep, value = identifier.partition(":")
    if sep and _compact(key) and _compact(value):
        normalised = normalise_identifier(key, value)
        assert normalised is not None
        return (ID, f"{normalised[0]}:{normalised[1]}")
    bare = _compact(identifier)
    if not bare:
        raise QueryRefused("identifier", "no letters or digits")
    return (ID_VALUE, bare)


def blind_token(key: bytes, kind: str, value: str) -> bytes:
    """The blind index token of a term: HMAC-SHA256 under `key` of `kind`, the unit
    separator and `value` (UTF-8), truncated to 16 bytes."""
    message = f"{kind}\x1f{value}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()[:BLIND_TOKEN_BYTES]


# --- comparing ------------------------------------------------------------------------


def part_similarity(a: str, b: str) -> float:
    """How alike two normalised name parts are, 0..1: the best Jaro-Winkler similarity
    between their variants (the part and, for a nickname, its canonical names), so
    `bob`/`robert` is 1."""
    if a == b:
        return 1.0
    return max(
        JaroWinkler.normalized_similarity(x, y) for x in name_variants(a) for y in name_variants(b)
    )


@dataclass(frozen=True, slots=True)
class NameAlignment:
    """Two names' parts paired greedily, most alike first (order-free, so swapped given
    and family names align). `similarities` of the aligned pairs (0..1), best first;
    `unmatched_a`/`unmatched_b`: how many parts of each name were left over."""

    similarities: tuple[float, ...]
    unmatched_a: int
    unmatched_b: int

    def similarity(self, *, unmatched_a: float, unmatched_b: float) -> float:
        """0..100: the mean similarity of the aligned pairs, where each part left over
        counts as a pair of similarity 0 weighing `unmatched_a`/`unmatched_b`."""
        weight = (
            len(self.similarities) + unmatched_a * self.unmatched_a + unmatched_b * self.unmatched_b
        )
        if weight == 0:
            return 0.0
        return 100.0 * sum(self.similarities) / weight

    @property
    def weakest(self) -> float:
        return min(self.similarities, default=0.0)


def align(a: tuple[str, ...], b: tuple[str, ...]) -> NameAlignment:
    """Pair the parts of two normalised names (see `NameAlignment`)."""
    scored = sorted(
        ((part_similarity(x, y), i, j) for i, x in enumerate(a) for j, y in enumerate(b)),
        reverse=True,
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    sims: list[float] = []
    for sim, i, j in scored:
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        sims.append(sim)
    return NameAlignment(tuple(sims), len(a) - len(sims), len(b) - len(sims))


def name_similarity(a: str, b: str) -> float:
    """How alike two names are, 0..100, symmetric: the parts aligned (`align`), each part
    one name has and the other lacks costing `UNMATCHED_PART_WEIGHT` of a mismatch
    (`Rosalind Quennell` / `Quennell-Ashby, Rosalind` is 100·2/2.25 ≈ 89)."""
    alignment = align(_parts(a), _parts(b))
    return alignment.similarity(
        unmatched_a=UNMATCHED_PART_WEIGHT, unmatched_b=UNMATCHED_PART_WEIGHT
    )


@lru_cache(maxsize=65536)
def _parts(name: str) -> tuple[str, ...]:
    return tuple(p for p in name_parts(name) if len(p) >= MIN_PART)


def dates_close(a: date, b: date) -> bool:
    """Whether two different dates of birth could be one mistyped as the other: a day
    apart, day and month swapped, or two adjacent digits of `YYYYMMDD` transposed
    (1987/1978, 12/21). One digit wrong is not enough: on the synthetic population it
    paired namesakes years apart (1971/1975) more often than it found a duplicate."""
    if a == b:
        return False
    if abs(a - b) == timedelta(days=1):
        return True
    if a.year == b.year and a.day == b.month and a.month == b.day:
        return True
    x, y = a.strftime("%Y%m%d"), b.strftime("%Y%m%d")
    diff = [i for i in range(len(x)) if x[i] != y[i]]
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and x[diff[0]] == y[diff[1]]
        and x[diff[1]] == y[diff[0]]
    )


SCORE_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"name": 50.0, "date_of_birth": 20.0, "phone": 10.0, "email": 10.0, "identifier": 30.0}
)
"""The weight of each field in `score`."""
CLOSE_DATE_SCORE = 60.0
"""What a date of birth that could be a typo of the searched one scores (of 100)."""
UNKNOWN_SCORE = 30.0
"""What a field the search gives but the candidate lacks scores (of 100)."""
CANDIDATE_EXTRA_PART_WEIGHT = 0.1
"""In `score`, a name part the candidate has and the search lacks (a middle name) costs
this fraction of a mismatch; a searched part the candidate lacks costs a whole one."""


def score(query: Person, candidate: Person) -> float:
    """How well a candidate fits a search, 0..100, for ranking decrypted candidates.

    The weighted mean, over the fields the search gives (`SCORE_WEIGHTS`: name 50,
    date of birth 20, phone 10, email 10, identifier 30), of each field's score:

    * name: the aligned part similarity (`align`, Jaro-Winkler over nickname variants),
      a searched part the candidate lacks counting as a mismatch, a candidate's extra
      part as a tenth of one (so `Smith` fits `John Smith` at ≈ 91);
    * date of birth: 100 the same, `CLOSE_DATE_SCORE` a possible typo (`dates_close`),
      0 otherwise;
    * phone, email: 100 the same (normalised), 0 otherwise;
    * identifier: 100 when a key both have holds the same value, 0 when the keys they
      share all differ (a searched value without its kind, key "", is compared with
      every kind: see `Person.searched`);

    and `UNKNOWN_SCORE` for a field the candidate lacks (or, for identifiers, shares no
    key of). A search giving no field scores 0.
    """
    fields: list[tuple[str, float]] = []
    q_parts = query.parts
    if q_parts:
        c_parts = candidate.parts
        if c_parts:
            s = align(q_parts, c_parts).similarity(
                unmatched_a=1.0, unmatched_b=CANDIDATE_EXTRA_PART_WEIGHT
            )
        else:
            s = UNKNOWN_SCORE
        fields.append(("name", s))
    if query.date_of_birth is not None:
        if candidate.date_of_birth is None:
            s = UNKNOWN_SCORE
        elif candidate.date_of_birth == query.date_of_birth:
            s = 100.0
        else:
            close = dates_close(query.date_of_birth, candidate.date_of_birth)
            s = CLOSE_DATE_SCORE if close else 0.0
        fields.append(("date_of_birth", s))
    for name, mine, theirs in (
        ("phone", query.normalised_phone, candidate.normalised_phone),
        ("email", query.normalised_email, candidate.normalised_email),
    ):
        if mine is not None:
            fields.append((name, UNKNOWN_SCORE if theirs is None else 100.0 * (mine == theirs)))
    if query.normalised_identifiers:
        fields.append(("identifier", _identifier_score(query, candidate)))
    if not fields:
        return 0.0
    total = sum(SCORE_WEIGHTS[name] for name, _ in fields)
    return sum(SCORE_WEIGHTS[name] * s for name, s in fields) / total


def _identifier_score(query: Person, candidate: Person) -> float:
    mine = dict(query.normalised_identifiers)
    theirs = dict(candidate.normalised_identifiers)
    if "" in mine:  # a value searched for without its kind
        if not theirs:
            return UNKNOWN_SCORE
        return 100.0 if mine[""] in theirs.values() else 0.0
    shared = mine.keys() & theirs.keys()
    if not shared:
        return UNKNOWN_SCORE
    return 100.0 if any(mine[k] == theirs[k] for k in shared) else 0.0


def _names_close(a: Person, b: Person, *, part: float, name: float) -> bool:
    pa, pb = a.parts, b.parts
    if not pa or not pb:
        return False
    if min(len(pa), len(pb)) < 2 and max(len(pa), len(pb)) > 1:
        return False  # a single name against a full one: one part agreeing is not enough
    alignment = align(pa, pb)
    if alignment.weakest < part:
        return False
    similarity = alignment.similarity(
        unmatched_a=UNMATCHED_PART_WEIGHT, unmatched_b=UNMATCHED_PART_WEIGHT
    )
    return similarity >= name


def likely_same(new: Person, existing: Person) -> str | None:
    """Whether a client being registered is probably one already known: the reason to
    warn, or None. In order:

    * "same identifier": an identifier of the same kind with the same value;
    * "same date of birth and a close name": both names have at least two parts (or both
      only one), every aligned pair of parts has a Jaro-Winkler similarity of at least
      `CLOSE_PART` (nicknames count as their canonical names, so `Bob`/`Robert` is 1) and
      `name_similarity` is at least `CLOSE_NAME`;
    * "close date of birth and a very close name": dates that could be a typo of each
      other (`dates_close`: a day apart, day and month swapped, two adjacent digits
      transposed) and the stricter `VERY_CLOSE_NAME` (two exact parts and a third
      missing, 88.9, is not enough);
    * "same phone" (the last 9 digits), "same email".

    Different identifiers of the same kind do not veto the other reasons (a mistyped
    number is as likely as two clients sharing everything else).

    Known false alarms: twins with alike given names (Amir and Amira, Sanjay and Sana:
    same family name, same date of birth, parts ≥ 0.90 alike), and, not measured on the
    synthetic people (who never share them), household members sharing a phone or an
    email. A warning, not a merge: the worker decides.
    """
    mine = dict(new.normalised_identifiers)
    theirs = dict(existing.normalised_identifiers)
    if any(mine[k] == theirs[k] for k in mine.keys() & theirs.keys()):
        return "same identifier"
    a, b = new.date_of_birth, existing.date_of_birth
    if a is not None and b is not None:
        if a == b and _names_close(new, existing, part=CLOSE_PART, name=CLOSE_NAME):
            return "same date of birth and a close name"
        if dates_close(a, b) and _names_close(
            new, existing, part=VERY_CLOSE_PART, name=VERY_CLOSE_NAME
        ):
            return "close date of birth and a very close name"
    phone = new.normalised_phone
    if phone is not None and phone == existing.normalised_phone:
        return "same phone"
    email = new.normalised_email
    if email is not None and email == existing.normalised_email:
        return "same email"
    return None
