"""Client matching rules (cases/client_matching.py): normalisation, index and search
terms, blind tokens, ranking and the duplicate rule, measured on synthetic people."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cases.client_matching import (
    CODEX,
    DOB,
    EMAIL,
    ID,
    ID_VALUE,
    MAX_QUERY_CHARS,
    NAME,
    NICKNAMES,
    NICKNAMES_OF,
    PHONE,
    SOUND,
    Person,
    QueryRefused,
    blind_token,
    canonical_names,
    dates_close,
    index_terms,
    likely_same,
    name_parts,
    name_similarity,
    normalise_email,
    normalise_identifier,
    normalise_phone,
    query_terms,
    score,
)
from devtools.people import candidate_pairs, people, population, with_duplicates
from events.vocabulary import ClientContact, ClientDetails


def finds(person: Person, **query: Any) -> bool:
    """Whether a search would make `person` a candidate (shares a term, as a blind token
    under one key would)."""
    return bool(query_terms(**query) & index_terms(person))


# --- normalisation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "parts"),
    [
        ("José Muñoz", ("jose", "munoz")),
        ("Quennell-Ashby, Rosalind", ("quennell", "ashby", "rosalind")),
        ("Søren Østergaard", ("soren", "ostergaard")),
        ("Jürgen Groß", ("jurgen", "gross")),
        ("Łukasz Wiśniewski", ("lukasz", "wisniewski")),
        ("Æthelred Œuvre", ("aethelred", "oeuvre")),
        ("Nguyễn Thị Thảo", ("nguyen", "thi", "thao")),
        ("Yılmaz Şahin", ("yilmaz", "sahin")),
        ("Siobhán O'Sullivan", ("siobhan", "osullivan")),
        ("Ludwig van der Berg", ("ludwig", "van", "der", "berg")),
        ("  MARÍA   del  CARMEN  ", ("maria", "del", "carmen")),
        ("", ()),
        ("--", ()),
    ],
)
def test_name_parts(written: str, parts: tuple[str, ...]) -> None:
    assert name_parts(written) == parts


def test_nicknames_map_to_canonical_given_names() -> None:
    assert canonical_names("bob") == ("robert",)
    assert canonical_names("robbie") == ("robert",)
    assert canonical_names("liz") == canonical_names("betty") == ("elizabeth",)
    assert canonical_names("bill") == canonical_names("will") == ("william",)
    assert canonical_names("peggy") == canonical_names("meg") == ("margaret",)
    assert canonical_names("jimmy") == ("james",)
    assert canonical_names("kate") == canonical_names("katherine") == ("catherine",)
    assert canonical_names("pepe") == ("jose",)
    assert canonical_names("paco") == ("francisco",)
    assert canonical_names("lola") == ("dolores",)
    assert set(canonical_names("pat")) == {"patrick", "patricia"}
    assert canonical_names("robert") == ("robert",)
    assert canonical_names("zainab") == ("zainab",)
    assert len(NICKNAMES) >= 60
    # A canonical name is never itself a nickname (no chains).
    assert not set(NICKNAMES) & set(NICKNAMES_OF)


@pytest.mark.parametrize(
    "written",
    [
        "+44 7700 900123",
        "07700 900123",
        "07700900123",
        "0044 7700 900123",
        "+44 (0)7700 900123",
        "(07700) 900-123",
        "+447700900123",
    ],
)
def test_phone_formats_agree(written: str) -> None:
    assert normalise_phone(written) == "700900123"
    assert finds(Person("Ann Lee", phone="07700 900123"), phone=written)


def test_landline_formats_agree() -> None:
    numbers = {"020 7946 0018", "+44 20 7946 0018", "(020) 79460018", "02079460018"}
    assert {normalise_phone(n) for n in numbers} == {"079460018"}
    assert normalise_phone("12345") is None
    assert normalise_phone("") is None


def test_emails_and_identifiers_normalised() -> None:
    assert normalise_email("  Jose.Munoz@Example.COM ") == "jose.munoz@example.com"
    assert normalise_email("   ") is None
    assert normalise_identifier("NHS number", "943 476 5919") == ("nhsnumber", "9434765919")
    assert normalise_identifier("NHS-Number", "943-476-5919") == ("nhsnumber", "9434765919")
    assert normalise_identifier("NHS number", " - ") is None


names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=60)


@given(names)
def test_name_normalisation_is_idempotent(text: str) -> None:
    parts = name_parts(text)
    assert name_parts(" ".join(parts)) == parts
    assert all(part and part == part.casefold() for part in parts)


@given(st.text(alphabet="0123456789 +()-.", max_size=30))
def test_phone_normalisation_is_idempotent(text: str) -> None:
    once = normalise_phone(text)
    assert once is None or normalise_phone(once) == once


# --- terms ----------------------------------------------------------------------------


def test_index_terms_of_a_person() -> None:
    person = Person(
        "Bob O'Brien-Núñez",
        date_of_birth=date(1980, 2, 29),
        phone="+44 7700 900123",
        email="Bob@Example.org",
        identifiers={"NHS number": "999 123 4560"},
    )
    terms = index_terms(person)
    names = {value for kind, value in terms if kind == NAME}
    assert names == {"bob", "robert", "obrien", "brien", "nunez"}
    assert (SOUND, "RBRT") in terms  # the canonical name's sound too
    assert (CODEX, "NNZ") in terms
    assert (DOB, "1980-02-29") in terms
    assert (PHONE, "700900123") in terms
    assert (EMAIL, "bob@example.org") in terms
    assert (ID, "nhsnumber:9991234560") in terms
    assert (ID_VALUE, "9991234560") in terms
    assert not any(kind == "birth_year" for kind, _ in terms)


dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1))


@given(names, st.none() | dates)
def test_a_person_is_indexed_under_every_term_of_a_search_for_them(
    name: str, born: date | None
) -> None:
    person = Person(name, date_of_birth=born)
    assume(person.parts and len(name) <= MAX_QUERY_CHARS)
    assert query_terms(text=name, date_of_birth=born) <= index_terms(person)


def test_jose_munoz_found_by_jose_munoz() -> None:
    jose = Person("José Muñoz")
    assert query_terms(text="jose munoz") <= index_terms(jose)
    assert score(Person("jose munoz"), jose) == 100


def test_robert_smith_found_by_bob_smith() -> None:
    robert = Person("Robert Smith")
    assert (NAME, "robert") in query_terms(text="Bob Smith")
    assert finds(robert, text="Bob")
    assert score(Person("Bob Smith"), robert) == 100
    # And the other way round: a client recorded as Bob is found as Robert.
    assert finds(Person("Bob Smith"), text="Robert")


def test_quennell_ashby_found_by_a_misspelt_part() -> None:
    rosalind = Person("Quennell-Ashby, Rosalind")
    assert finds(rosalind, text="rosalind quennel")
    assert finds(rosalind, text="quennel")  # by its sound alone
    assert finds(rosalind, text="ashby")
    assert score(Person("rosalind quennel"), rosalind) > 90


def test_a_search_by_identifier_with_or_without_its_kind() -> None:
    client = Person("Ann Lee", identifiers={"NHS number": "943 476 5919"})
    assert finds(client, identifier="NHS number: 943 476 5919")
    assert finds(client, identifier="nhs-number:9434765919")
    assert finds(client, identifier="943-476-5919")
    assert not finds(client, identifier="passport: 943 476 5919")


def test_initials_are_dropped() -> None:
    assert query_terms(text="J. Smith") == query_terms(text="Smith")
    assert query_terms(text="Smith J") == query_terms(text="smith")


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ({}, "q", "nothing to search for"),
        ({"text": ""}, "q", "nothing to search for"),
        ({"text": "   ", "phone": " "}, "q", "nothing to search for"),
        ({"text": "a"}, "q", "a single character"),
        ({"text": " é "}, "q", "a single character"),
        ({"text": "J. K."}, "q", "initials only"),
        ({"text": "!!! -- ..."}, "q", "no letters or digits"),
        ({"text": "x" * 10_000}, "q", "longer than 200 characters"),
        ({"text": "ab " * 67}, "q", "longer than 200 characters"),
        ({"text": "a", "phone": "07700 900123"}, "q", "a single character"),
        ({"phone": "12345"}, "phone", "needs at least 6 digits"),
        ({"phone": "1" * 10_000}, "phone", "longer than 200 characters"),
        ({"email": "bob"}, "email", "not a whole email address"),
        ({"email": "b@" + "x" * 10_000}, "email", "longer than 200 characters"),
        ({"identifier": "--"}, "identifier", "no letters or digits"),
        ({"identifier": "9" * 10_000}, "identifier", "longer than 200 characters"),
    ],
)
def test_refused_searches_name_the_field(query: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        query_terms(**query)
    assert refused.value.field == field
    assert refused.value.reason == reason
    assert isinstance(refused.value, ValueError)


def test_a_text_of_200_characters_is_accepted() -> None:
    assert query_terms(text="ab " * 66 + "ab")


@pytest.mark.parametrize(
    "text",
    ["' OR 1=1 --", "%", "*", "_", "% %", "smith%", "sm_th", "Robert'); DROP TABLE clients;--"],
)
def test_wildcards_and_sql_are_ordinary_characters(text: str) -> None:
    terms = query_terms(text=text)
    assert terms
    crowd = people(seed=3, count=300)
    matches = [p for p in crowd if terms & index_terms(p)]
    if text in {"%", "*", "_", "% %"}:
        assert terms == {(NAME, word) for word in text.split()}
        assert matches == []  # a literal no client is indexed under
    if text == "' OR 1=1 --":
        assert {value for kind, value in terms if kind == NAME} == {"or"}
    if text == "smith%":
        assert terms == query_terms(text="smith")


def test_blank_parameters_are_not_given() -> None:
    assert query_terms(text="", phone="07700 900123") == {(PHONE, "700900123")}
    assert query_terms(date_of_birth=date(1990, 1, 2), email=" ") == {(DOB, "1990-01-02")}


# --- blind tokens ---------------------------------------------------------------------


def test_blind_token_known_answer() -> None:
    token = blind_token(b"k" * 32, NAME, "robert")
    assert len(token) == 16
    assert token == blind_token(b"k" * 32, NAME, "robert")
    assert token != blind_token(b"k" * 32, SOUND, "robert")
    assert token != blind_token(b"j" * 32, NAME, "robert")
    # kind and value cannot be shifted into each other
    assert blind_token(b"k", "ab", "c") != blind_token(b"k", "a", "bc")


@given(st.binary(min_size=1, max_size=64), st.binary(min_size=1, max_size=64), st.text(), st.text())
def test_blind_token_is_deterministic_and_key_dependent(
    key: bytes, other_key: bytes, kind: str, value: str
) -> None:
    token = blind_token(key, kind, value)
    assert len(token) == 16
    assert token == blind_token(key, kind, value)
    if other_key != key:
        assert token != blind_token(other_key, kind, value)


# --- the person -----------------------------------------------------------------------


def test_person_of_client_details() -> None:
    details = ClientDetails(
        name="José Muñoz",
        date_of_birth=date(1980, 5, 17),
        contact=ClientContact(phone="07700 900123", email="jose@example.org", address="1 Road"),
        identifiers={"NHS number": "943 476 5919"},
    )
    person = Person.of(details)
    assert person == Person(
        "José Muñoz",
        date_of_birth=date(1980, 5, 17),
        phone="07700 900123",
        email="jose@example.org",
        identifiers={"NHS number": "943 476 5919"},
    )
    assert hash(person) == hash(Person.of(details))
    assert Person.of(ClientDetails(name="Ann")).identifiers == {}


# --- comparing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "close"),
    [
        (date(1987, 3, 12), date(1987, 3, 13), True),  # a day apart
        (date(1987, 3, 12), date(1987, 12, 3), True),  # day and month swapped
        (date(1987, 3, 12), date(1978, 3, 12), True),  # year digits transposed
        (date(1987, 3, 12), date(1987, 3, 21), True),  # day digits transposed
        (date(1987, 12, 31), date(1988, 1, 1), True),
        (date(1987, 3, 12), date(1987, 3, 12), False),
        (date(1971, 9, 13), date(1975, 9, 13), False),  # one digit: not a typo we trust
        (date(1987, 3, 12), date(1987, 3, 14), False),
    ],
)
def test_dates_close(a: date, b: date, close: bool) -> None:
    assert dates_close(a, b) is close
    assert dates_close(b, a) is close


BORN = date(1984, 6, 3)


@pytest.mark.parametrize(
    ("new", "existing", "reason"),
    [
        (
            Person("Robert Smith", BORN),
            Person("Bob Smith", BORN),
            "same date of birth and a close name",
        ),
        (
            Person("Smith, John", BORN),
            Person("John Smith", BORN),
            "same date of birth and a close name",
        ),
        (
            Person("Rosalind Quennell", BORN),
            Person("Quennell-Ashby, Rosalind", BORN),
            "same date of birth and a close name",
        ),
        (
            Person("Jose Munoz", BORN),
            Person("José Muñozz", BORN),
            "same date of birth and a close name",
        ),
        (
            Person("Jose Munoz", BORN),
            Person("José Muñoz", date(1984, 3, 6)),
            "close date of birth and a very close name",
        ),
        (
            Person("Ann Lee", phone="07700 900123"),
            Person("Li Wei", phone="+44 7700 900123"),
            "same phone",
        ),
        (
            Person("Ann Lee", email="Ann@Example.org"),
            Person("A Lee", email="ann@example.org"),
            "same email",
        ),
        (
            Person("Ann Lee", identifiers={"NHS number": "9434765919"}),
            Person("Anne Leigh", identifiers={"NHS number": "943 476 5919"}),
            "same identifier",
        ),
        # Not the same person:
        (Person("John Smith", BORN), Person("John Smith", date(1990, 1, 1)), None),
        (Person("John Smith", BORN), Person("Jane Smith", BORN), None),  # twins
        (Person("John Smith", BORN), Person("Priya Patel", BORN), None),
        (Person("Smith", BORN), Person("John Smith", BORN), None),  # one part is not enough
        (
            Person("Jose Munoz", BORN),
            Person("Josep Munez", date(1984, 6, 4)),
            None,  # a date typo needs a very close name
        ),
        (
            Person("Ann Lee", identifiers={"NHS number": "9434765919"}),
            Person("Ann Lee", identifiers={"passport": "9434765919"}),
            None,
        ),
        (Person("Ann Lee"), Person("Ann Lee"), None),  # a name alone is not enough
    ],
)
def test_likely_same(new: Person, existing: Person, reason: str | None) -> None:
    assert likely_same(new, existing) == reason
    assert likely_same(existing, new) == reason


def test_name_similarity() -> None:
    assert name_similarity("Robert Smith", "Smith, Bob") == 100
    assert name_similarity("Rosalind Quennell", "Quennell-Ashby, Rosalind") == pytest.approx(
        100 * 2 / 2.25
    )
    assert name_similarity("John Smith", "Priya Patel") < 60
    assert name_similarity("", "John") == 0


def test_score_ranks_the_better_fit_first() -> None:
    query = Person("Jose Munoz", date_of_birth=BORN, phone="07700 900123")
    exact = Person("José Muñoz", date_of_birth=BORN, phone="+44 7700 900123")
    typo = Person("José Muñoz", date_of_birth=date(1984, 3, 6))
    other_jose = Person("José Muñoz", date_of_birth=date(1950, 1, 1), phone="07700 900999")
    namesake = Person("Jose Moreno", date_of_birth=BORN)
    ranked = sorted([other_jose, namesake, typo, exact], key=lambda p: -score(query, p))
    assert ranked == [exact, typo, namesake, other_jose]
    assert score(query, exact) == 100
    assert score(Person("Smith"), Person("John Smith")) == pytest.approx(100 / 1.1)
    assert score(Person(""), exact) == 0


def test_a_search_as_a_person_for_ranking() -> None:
    client = Person(
        "Ann Lee",
        date_of_birth=BORN,
        phone="07700 900123",
        identifiers={"NHS number": "943 476 5919"},
    )
    assert Person.searched(text="ann lee", date_of_birth=BORN) == Person("ann lee", BORN)
    assert score(Person.searched(identifier="9434765919"), client) == 100
    assert score(Person.searched(identifier="NHS number: 943 476 5919"), client) == 100
    assert score(Person.searched(identifier="passport: 943 476 5919"), client) == 30
    assert score(Person.searched(identifier="1234567890"), client) == 0
    assert score(Person.searched(phone="+44 7700 900123", text="Lee"), client) > 90


@given(names, names, st.none() | dates, st.none() | dates)
@settings(max_examples=200)
def test_scores_are_between_0_and_100(a: str, b: str, da: date | None, db: date | None) -> None:
    s = score(Person(a, da), Person(b, db))
    assert 0 <= s <= 100
    assert 0 <= name_similarity(a, b) <= 100


# --- the synthetic population ---------------------------------------------------------


def test_the_generator_is_deterministic() -> None:
    assert with_duplicates(seed=5, people=300, duplicates=30) == with_duplicates(
        seed=5, people=300, duplicates=30
    )
    assert with_duplicates(seed=5, people=300, duplicates=30) != with_duplicates(
        seed=6, people=300, duplicates=30
    )


def test_the_generated_population() -> None:
    made = population(seed=7, people=2000, duplicates=200)
    records, pairs = made.records, made.duplicates
    assert len(records) == 2200
    assert len(pairs) == 200 == len({i for pair in pairs for i in pair}) / 2
    assert all(i < j for i, j in pairs)
    # Distinct people never share a phone, an email or an identifier.
    same = {i: j for i, j in pairs} | {j: i for i, j in pairs}
    for field in ("normalised_phone", "normalised_email"):
        owners: dict[str, int] = {}
        for i, person in enumerate(records):
            value = getattr(person, field)
            if value is not None:
                first = owners.setdefault(value, i)
                assert first == i or same.get(i) == first, (field, value)
    kinds = {kind for _, _, kind in made.hard_negatives}
    assert kinds == {"same name", "same date of birth", "twins"}
    assert len(made.hard_negatives) > 150
    accented = [p for p in records if p.name != p.name.encode("ascii", "ignore").decode()]
    hyphenated = [p for p in records if "-" in p.name]
    assert len(accented) > 200 and len(hyphenated) > 30
    with pytest.raises(ValueError):
        population(seed=1, people=10, duplicates=11)


def test_duplicate_detection_precision_and_recall() -> None:
    """The duplicate rule over the pairs the product compares: those sharing a blind
    index term. A duplicate pair not among the candidates counts as missed."""
    records, pairs = with_duplicates(seed=7, people=2000, duplicates=200)
    truth = set(pairs)
    candidates = candidate_pairs(records)
    flagged = {(i, j) for i, j in candidates if likely_same(records[i], records[j])}
    true_positives = len(flagged & truth)
    precision = true_positives / len(flagged)
    recall = true_positives / len(truth)
    assert truth <= candidates
    assert precision >= 0.95, precision
    assert recall >= 0.9, recall
