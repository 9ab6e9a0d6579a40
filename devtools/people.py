"""Synthetic people for the client-matching tests and benches: deterministic (a seeded
`random.Random`), nobody real.

* `people(seed, count)`: distinct people with names from several traditions (English,
  Welsh, Scottish and Irish; Spanish; West African; South Asian; Polish; and a mix of
  others: Turkish, German, Nordic, Romanian, Chinese, Vietnamese, Somali), accents as
  written, hyphenated and Spanish double surnames, middle names, some written
  "Family, Given"; dates of birth 1935–2010; UK phone numbers from Ofcom's ranges
  reserved for drama (so they ring nobody), in varied formats; emails at the reserved
  `example.*` domains derived from the names; a synthetic NHS-style number (prefix 999,
  valid check digit) for some. The reserved ranges hold 17,000 numbers: beyond that,
  people have no phone. Some distinct people legitimately share a full name, a date of birth, or
  (twins) a family name and a date of birth: the hard negatives of duplicate detection.
  Phones, emails and identifiers are never shared between distinct people.
* `with_duplicates(seed, people, duplicates)`: those people, `duplicates` of them
  recorded a second time with realistic variations, shuffled, and the index pairs that
  are the same person.
* `candidate_pairs(records)`: the pairs of records sharing at least one index term (how
  the product finds candidates: by blind token).
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from cases.client_matching import NICKNAMES_OF, Person, canonical_names, fold, index_terms

__all__ = [
    "HARD_NEGATIVE_KINDS",
    "Person",
    "Population",
    "candidate_pairs",
    "people",
    "population",
    "with_duplicates",
]


@dataclass(frozen=True)
class _Tradition:
    name: str
    weight: float
    given_male: tuple[str, ...]
    given_female: tuple[str, ...]
    family: tuple[str, ...]
    double_surname: float = 0.0
    """Chance of two family names (Spanish style, space-separated)."""
    hyphenated: float = 0.0
    """Chance of a hyphenated family name."""


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_TRADITIONS = (
    _Tradition(
        "english",
        0.42,
        _names(
            "James John Robert Michael William David Richard Joseph Thomas Charles "
            "Christopher Daniel Matthew Anthony Mark Steven Paul Andrew Joshua Kenneth "
            "George Edward Peter Oliver Harry Jack Samuel Benjamin Henry Alexander "
            "Nicholas Jonathan Timothy Patrick Liam Callum Connor Rhys Owen Gareth Ian "
            "Stuart Graham Alan Neil Gordon Duncan Frederick Lawrence Ronald Declan Eoin "
            "Ciarán Dylan Aled"
        ),
        _names(
            "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen "
            "Margaret Catherine Emily Charlotte Olivia Sophie Amelia Grace Hannah Rebecca "
            "Rachel Victoria Helen Deborah Dorothy Abigail Eleanor Lucy Chloe Rosalind "
            "Siobhán Niamh Aoife Megan Bethan Ffion Fiona Kirsty Jane Anne Louise Claire "
            "Joanne Nicola Samantha Judith Pamela Frances Zoë Chloë"
        ),
        _names(
            "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts "
            "Robinson Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris "
            "Clarke Jackson Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee "
            "King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker "
            "Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey "
            "Collins Bell Shaw Murphy Miller Cox Richards Marshall Anderson Simpson Ellis "
            "Adams Wilkinson O'Brien O'Neill O'Sullivan McDonald MacLeod McKenzie "
            "Fitzgerald Quennell Ashby Llewellyn Pryce Vaughan Featherstone Cholmondeley "
            "Ó'Sé Doherty Gallagher Byrne"
        ),
        hyphenated=0.06,
    ),
    _Tradition(
        "spanish",
        0.09,
        _names(
            "José Juan Antonio Manuel Francisco Javier Carlos Miguel Alejandro Rafael "
            "Pedro Ángel Jesús Fernando Luis Sergio Pablo Jorge Alberto Raúl Andrés Iñaki "
            "Ignacio Enrique Guillermo Rubén Óscar Adrián Álvaro Joaquín"
        ),
        _names(
            "María Carmen Ana Isabel Dolores Pilar Teresa Rosa Cristina Lucía Marta Elena "
            "Laura Sofía Concepción Rosario Guadalupe Inés Beatriz Nuria Begoña Mercedes "
            "Consuelo Raquel Alba"
        ),
        _names(
            "García Fernández González Rodríguez López Martínez Sánchez Pérez Gómez Martín "
            "Jiménez Ruiz Hernández Díaz Moreno Muñoz Álvarez Romero Alonso Gutiérrez "
            "Navarro Torres Domínguez Vázquez Ramos Gil Ramírez Serrano Blanco Molina "
            "Castillo Núñez Ortega Iglesias Peña Ibáñez"
        ),
        double_surname=0.6,
    ),
    _Tradition(
        "west_african",
        0.1,
        _names(
            "Adebayo Oluwaseun Chukwuemeka Kwame Kofi Kwabena Yaw Emeka Chinedu Babatunde "
            "Olumide Tunde Ibrahim Abdoulaye Mamadou Ousmane Sékou Femi Obinna Ikenna "
            "Kwaku Kojo"
        ),
        _names(
            "Ngozi Chiamaka Adaeze Akosua Abena Ama Efua Folake Funmilayo Yetunde Aminata "
            "Fatoumata Mariama Nneka Chidinma Oluwakemi Titilayo Adwoa Afua Yaa"
        ),
        _names(
            "Okafor Adeyemi Boateng Owusu Mensah Asante Osei Okonkwo Eze Nwosu Oyelaran "
            "Adebayo Balogun Ogunleye Diallo Traoré Koné Sow Bah Ansah Appiah Darko Oduya "
            "Akande Abiodun Adjei Oyelowo Ekwueme Danso"
        ),
        hyphenated=0.02,
    ),
    _Tradition(
        "south_asian",
        0.16,
        _names(
            "Mohammed Muhammad Mohamed Ahmed Ali Imran Rahul Arjun Aarav Vikram Sanjay Ravi "
            "Amir Hassan Bilal Harpreet Gurpreet Jaspreet Rajesh Suresh Anil Deepak Sunil "
            "Faisal Tariq Zain Omar Yusuf"
        ),
        _names(
            "Priya Ananya Fatima Ayesha Aisha Zainab Nusrat Sunita Anjali Kavita Neha Pooja "
            "Sana Amira Simran Harleen Rukhsana Shabana Meera Lakshmi Nadia Saima"
        ),
        _names(
            "Patel Singh Kaur Sharma Begum Hussain Khan Ahmed Chowdhury Iqbal Shah Mistry "
            "Gupta Kumar Das Rahman Uddin Akhtar Malik Choudhury Bhatt Desai Joshi Mehta "
            "Nair Reddy Siddiqui Qureshi Mahmood Islam Ali"
        ),
    ),
    _Tradition(
        "polish",
        0.1,
        _names(
            "Łukasz Michał Wojciech Piotr Paweł Krzysztof Tomasz Jakub Marcin Grzegorz "
            "Bartłomiej Mateusz Kamil Dawid Rafał Andrzej Jan Stanisław"
        ),
        _names(
            "Małgorzata Agnieszka Katarzyna Anna Magdalena Joanna Aleksandra Zofia Barbara "
            "Ewa Dorota Monika Justyna Beata Iwona Żaneta"
        ),
        _names(
            "Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński "
            "Szymański Woźniak Dąbrowski Kozłowski Jankowski Mazur Kwiatkowski Krawczyk "
            "Piotrowski Grabowski Pawłowski Michalski Król Wieczorek Jabłoński Zając Gąsior"
        ),
    ),
    _Tradition(
        "other",
        0.13,
        _names(
            "Mehmet Mustafa Emre Jürgen Stefan Søren Bjørn Ștefan Ionuț Andrei Wei Jun "
            "Hao Minh Tuấn Abdi Abdirahman Mohamud Dimitrios Nikolaos"
        ),
        _names(
            "Ayşe Elif Zeynep Jürgenne Birgit Ingrid Åsa Ioana Mihaela Jing Xiu Li Mei "
            "Linh Thảo Hodan Amina Ifrah Eleni Maria"
        ),
        _names(
            "Yılmaz Öztürk Çelik Şahin Kaya Müller Groß Weiß Schröder Østergaard Sørensen "
            "Lindqvist Popescu Ionescu Wang Zhang Chen Liu Nguyễn Trần Lê Phạm Farah "
            "Warsame Mohamud Papadopoulos Georgiou"
        ),
    ),
)

_EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "post.example")

_PHONE_RANGES = (
    # Ofcom's numbers for drama: (national prefix, area digits, subscriber prefix)
    ("07700", "900", 1000),
    ("0113", "4960", 1000),
    ("0114", "4960", 1000),
    ("0115", "4960", 1000),
    ("0116", "4960", 1000),
    ("0117", "4960", 1000),
    ("0118", "4960", 1000),
    ("0121", "4960", 1000),
    ("0131", "4960", 1000),
    ("0141", "4960", 1000),
    ("0151", "4960", 1000),
    ("0161", "4960", 1000),
    ("020", "79460", 1000),
    ("0191", "4980", 1000),
    ("028", "96496", 1000),
    ("029", "20180", 1000),
    ("01632", "960", 1000),
)

_EARLIEST = date(1935, 1, 1)
_LATEST = date(2010, 12, 31)

HARD_NEGATIVE_KINDS = ("same name", "same date of birth", "twins")


@dataclass(frozen=True)
class Population:
    """Synthetic records: `records`, the `duplicates` (index pairs i < j that are the
    same person) and `hard_negatives` (index pairs of distinct people sharing a name, a
    date of birth, or a family name and a date of birth — see `HARD_NEGATIVE_KINDS`)."""

    records: list[Person]
    duplicates: list[tuple[int, int]]
    hard_negatives: list[tuple[int, int, str]]


def people(seed: int, count: int) -> list[Person]:
    """`count` distinct synthetic people (hard negatives included)."""
    return population(seed, count, 0).records


def with_duplicates(
    seed: int, people: int, duplicates: int
) -> tuple[list[Person], list[tuple[int, int]]]:
    """`people` distinct people of whom `duplicates` are recorded twice (so
    `people + duplicates` records), the second record varied the way a second intake
    varies: a misspelt name (a letter dropped, doubled or two swapped), given and family
    names swapped, a nickname, accents dropped, a part dropped (middle name, second or
    hyphenated surname), capitals; a date of birth with a typo (day and month swapped,
    a day off, two digits of the year transposed); the phone reformatted or missing; the
    email or identifier missing. Returns the records, shuffled, and the index pairs
    (i < j) that are the same person."""
    made = population(seed, people, duplicates)
    return made.records, made.duplicates


def population(seed: int, people: int, duplicates: int) -> Population:
    """`with_duplicates`, with the hard negatives listed too."""
    if not 0 <= duplicates <= people:
        raise ValueError("duplicates must be between 0 and people")
    rng = random.Random(seed)
    maker = _Maker(rng)
    originals: list[Person] = []
    hard: list[tuple[int, int, str]] = []
    for i in range(people):
        roll = rng.random()
        j = rng.randrange(i) if i > 0 else 0
        born = originals[j].date_of_birth if i > 0 else None
        if i > 0 and roll < 0.04:
            originals.append(maker.person(name=_reformat_name(rng, originals[j].name)))
            hard.append((j, i, "same name"))
        elif born is not None and roll < 0.07:
            originals.append(maker.person(date_of_birth=born))
            hard.append((j, i, "same date of birth"))
        elif born is not None and roll < 0.085:
            originals.append(maker.twin(originals[j]))
            hard.append((j, i, "twins"))
        else:
            originals.append(maker.person())
    copies = [(i, _vary(rng, originals[i])) for i in rng.sample(range(people), duplicates)]
    records: list[tuple[int, Person]] = list(enumerate(originals)) + copies
    order = list(range(len(records)))
    rng.shuffle(order)
    position: dict[int, list[int]] = defaultdict(list)
    for new_index, old_index in enumerate(order):
        position[records[old_index][0]].append(new_index)
    shuffled = [records[old][1] for old in order]
    pairs = sorted((min(ps), max(ps)) for ps in position.values() if len(ps) == 2)
    # A hard negative with a person who is duplicated is a hard negative with both records.
    negatives = sorted(
        (min(x, y), max(x, y), kind)
        for a, b, kind in hard
        for x in position[a]
        for y in position[b]
    )
    return Population(shuffled, pairs, negatives)


def candidate_pairs(records: Sequence[Person]) -> set[tuple[int, int]]:
    """The index pairs (i < j) of records sharing at least one of their `index_terms`:
    the pairs duplicate detection compares, as the product finds them (grouping the
    clients by blind token)."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, person in enumerate(records):
        for term in index_terms(person):
            groups[term].append(i)
    pairs: set[tuple[int, int]] = set()
    for members in groups.values():
        pairs.update(itertools.combinations(members, 2))
    return pairs


# --- making people --------------------------------------------------------------------


def _zipf(count: int) -> list[float]:
    return [1.0 / (rank + 1) ** 0.7 for rank in range(count)]


class _Maker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.phones = [
            (prefix, area, n) for prefix, area, size in _PHONE_RANGES for n in range(size)
        ]
        rng.shuffle(self.phones)
        self.emails: set[str] = set()
        self.origins: dict[str, tuple[_Tradition, str, str]] = {}
        """name written → (tradition, first given name, family name), for twins."""
        self.siblings: dict[tuple[str, date | None], set[str]] = {}
        """(family name, date of birth) → the canonical given names its twins have."""
        self.nhs: set[str] = set()
        self.weights = {
            t.name: (_zipf(len(t.given_male)), _zipf(len(t.given_female)), _zipf(len(t.family)))
            for t in _TRADITIONS
        }

    def tradition(self) -> _Tradition:
        return self.rng.choices(_TRADITIONS, weights=[t.weight for t in _TRADITIONS])[0]

    def given(self, tradition: _Tradition, female: bool) -> str:
        male_w, female_w, _ = self.weights[tradition.name]
        names, weights = (
            (tradition.given_female, female_w) if female else (tradition.given_male, male_w)
        )
        return self.rng.choices(names, weights=weights)[0]

    def family(self, tradition: _Tradition) -> str:
        rng = self.rng
        weights = self.weights[tradition.name][2]
        first = rng.choices(tradition.family, weights=weights)[0]
        roll = rng.random()
        if roll < tradition.double_surname:
            return f"{first} {rng.choices(tradition.family, weights=weights)[0]}"
        if roll < tradition.double_surname + tradition.hyphenated:
            if tradition.name == "english" and rng.random() < 0.2:
                return "Quennell-Ashby"
            return f"{first}-{rng.choice(tradition.family)}"
        return first

    def name(
        self,
        tradition: _Tradition | None = None,
        family: str | None = None,
        given: str | None = None,
    ) -> str:
        rng = self.rng
        tradition = tradition or self.tradition()
        female = rng.random() < 0.5
        given = given or self.given(tradition, female)
        if rng.random() < 0.15:
            middle = self.given(tradition, female)
            if middle != given:
                given = f"{given} {middle}"
        family = family or self.family(tradition if rng.random() < 0.9 else self.tradition())
        name = f"{family}, {given}" if rng.random() < 0.1 else f"{given} {family}"
        self.origins[name] = (tradition, given.split()[0], family)
        return name

    def date_of_birth(self) -> date | None:
        if self.rng.random() < 0.02:
            return None
        span = (_LATEST - _EARLIEST).days
        return _EARLIEST + timedelta(days=self.rng.randrange(span + 1))

    def phone(self) -> str | None:
        if self.rng.random() < 0.12 or not self.phones:
            return None
        prefix, area, n = self.phones.pop()
        return _reformat_phone(self.rng, f"{prefix}{area}{n:03d}")

    def email(self, name: str) -> str | None:
        rng = self.rng
        if rng.random() < 0.22:
            return None
        parts = [p for p in fold(name.replace(",", " ").replace("'", "")).split() if p]
        if not parts:
            return None
        if "," in name:
            family, given = parts[0], parts[-1]
        else:
            given, family = parts[0], parts[-1]
        local = rng.choice(
            (
                f"{given}.{family}",
                f"{given}{family}",
                f"{given[0]}.{family}",
                f"{given}_{family}{rng.randrange(60, 100)}",
                f"{family}.{given}",
                f"{given}{rng.randrange(1, 1000)}",
            )
        )
        local = "".join(ch for ch in local if ch.isascii() and (ch.isalnum() or ch in "._-"))
        domain = rng.choice(_EMAIL_DOMAINS)
        address = f"{local}@{domain}"
        n = 1
        while address in self.emails:
            n += 1
            address = f"{local}{n}@{domain}"
        self.emails.add(address)
        if rng.random() < 0.05:
            return address.capitalize()
        return address

    def identifiers(self) -> dict[str, str]:
        rng = self.rng
        if rng.random() >= 0.35:
            return {}
        while True:
            digits = [9, 9, 9] + [rng.randrange(10) for _ in range(6)]
            check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
            if check == 10:
                continue
            number = "".join(map(str, digits)) + str(0 if check == 11 else check)
            if number not in self.nhs:
                self.nhs.add(number)
                break
        return {"NHS number": f"{number[:3]} {number[3:6]} {number[6:]}"}

    def person(self, *, name: str | None = None, date_of_birth: date | None = None) -> Person:
        name = name or self.name()
        return Person(
            name=name,
            date_of_birth=date_of_birth or self.date_of_birth(),
            phone=self.phone(),
            email=self.email(name),
            identifiers=self.identifiers(),
        )

    def twin(self, sibling: Person) -> Person:
        """A twin of `sibling`: the same family name and date of birth, another given
        name — half the time with the same initial (Jack and James, Emma and Ella)."""
        rng = self.rng
        if sibling.name in self.origins:
            tradition, sibling_given, family = self.origins[sibling.name]
        else:
            tradition, sibling_given = self.tradition(), ""
            family = (
                sibling.name.split(", ")[0] if ", " in sibling.name else sibling.name.split()[-1]
            )
        family_parts = set(Person(family).parts)
        taken = self.siblings.setdefault((family, sibling.date_of_birth), set())
        taken.update(c for part in set(sibling.parts) - family_parts for c in canonical_names(part))
        taken.update(canonical_names(fold(sibling_given)))
        pool = [
            name
            for name in (*tradition.given_male, *tradition.given_female)
            if not taken & set(canonical_names(fold(name)))
        ]
        alike = [name for name in pool if sibling_given and name[0] == sibling_given[0]]
        given = rng.choice(alike if alike and rng.random() < 0.5 else pool)
        for _ in range(20):
            name = self.name(tradition, family=family, given=given)
            own = {
                c for part in set(Person(name).parts) - family_parts for c in canonical_names(part)
            }
            if not own & taken:
                break
        taken.update(own)
        return self.person(name=name, date_of_birth=sibling.date_of_birth)


def _reformat_phone(rng: random.Random, phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits.startswith("0044"):
        digits = "0" + digits[4:]
    elif digits.startswith("44"):
        digits = "0" + digits[2:]
    national = digits
    rest = national[1:]
    groups: tuple[str, ...]
    if national.startswith("07"):
        groups = (national[:5], national[5:])
    elif national.startswith("02"):
        groups = (national[:3], national[3:7], national[7:])
    elif national.startswith("01632"):
        groups = (national[:5], national[5:])
    else:
        groups = (national[:4], national[4:7], national[7:])
    style = rng.randrange(8)
    if style == 0:
        return national
    if style == 1:
        return " ".join(groups)
    if style == 2:
        return f"+44 {groups[0][1:]} {' '.join(groups[1:])}"
    if style == 3:
        return f"+44{rest}"
    if style == 4:
        return f"({groups[0]}) {''.join(groups[1:])}"
    if style == 5:
        return f"+44 (0){groups[0][1:]} {' '.join(groups[1:])}"
    if style == 6:
        return f"0044 {groups[0][1:]} {' '.join(groups[1:])}"
    return "-".join(groups)


def _reformat_name(rng: random.Random, name: str) -> str:
    """The same name written another way (order, capitals), for a namesake."""
    if ", " in name and rng.random() < 0.5:
        family, given = name.split(", ", 1)
        return f"{given} {family}"
    return name


# --- varying a duplicate --------------------------------------------------------------


def _misspell(rng: random.Random, name: str) -> str:
    words = name.split()
    candidates = [i for i, w in enumerate(words) if sum(ch.isalpha() for ch in w) >= 4]
    if not candidates:
        return name
    i = rng.choice(candidates)
    word = words[i]
    letters = [k for k in range(1, len(word)) if word[k].isalpha()]
    k = rng.choice(letters)
    kind = rng.randrange(3)
    if kind == 0:
        word = word[:k] + word[k + 1 :]
    elif kind == 1:
        word = word[:k] + word[k] + word[k:]
    else:
        k = max(1, min(k, len(word) - 2))
        if word[k].isalpha() and word[k + 1].isalpha() and word[k] != word[k + 1]:
            word = word[:k] + word[k + 1] + word[k] + word[k + 2 :]
        else:
            word = word[:k] + word[k + 1 :]
    words[i] = word
    return " ".join(words)


def _swap_order(name: str) -> str:
    if ", " in name:
        family, given = name.split(", ", 1)
        return f"{given} {family}"
    words = name.split()
    if len(words) < 2:
        return name
    return f"{words[-1]}, {' '.join(words[:-1])}" if len(words) > 2 else f"{words[1]} {words[0]}"


def _nickname(rng: random.Random, name: str) -> str:
    words = name.split()
    for i, word in enumerate(words):
        nicknames = NICKNAMES_OF.get(fold(word).strip(","))
        if nicknames:
            nickname = rng.choice(nicknames)
            words[i] = nickname.capitalize() + ("," if word.endswith(",") else "")
            return " ".join(words)
    return name


def _drop_accents(name: str) -> str:
    out = []
    for ch in name:
        folded = fold(ch)
        out.append(folded.upper() if ch.isupper() else folded)
    return "".join(out)


def _drop_part(rng: random.Random, name: str) -> str:
    if "-" in name and rng.random() < 0.7:
        words = name.split()
        for i, word in enumerate(words):
            if "-" in word:
                halves = word.split("-")
                words[i] = halves[0] + ("," if word.endswith(",") and "," not in halves[0] else "")
                return " ".join(words)
    words = name.replace(",", "").split()
    if len(words) < 3:
        return name
    if ", " in name:
        return name  # keep it simple: "Family, Given Middle" is left as it is
    return " ".join([*words[:1], *words[2:]]) if rng.random() < 0.5 else " ".join(words[:-1])


def _vary_name(rng: random.Random, name: str) -> str:
    kinds = ["misspell", "swap", "nickname", "accents", "part", "capitals"]
    weights = [3.0, 2.0, 2.0, 2.0, 1.0, 1.0]
    if fold(name) == name.lower():
        weights[3] = 0.0
    if all(fold(w).strip(",") not in NICKNAMES_OF for w in name.split()):
        weights[2] = 0.0
    if "-" not in name and len(name.split()) < 3:
        weights[4] = 0.0
    how_many = rng.choices((0, 1, 2), weights=(0.25, 0.5, 0.25))[0]
    chosen: list[str] = []
    while len(chosen) < how_many and any(weights):
        kind = rng.choices(kinds, weights=weights)[0]
        weights[kinds.index(kind)] = 0.0
        chosen.append(kind)
    for kind in chosen:
        if kind == "misspell":
            name = _misspell(rng, name)
        elif kind == "swap":
            name = _swap_order(name)
        elif kind == "nickname":
            name = _nickname(rng, name)
        elif kind == "accents":
            name = _drop_accents(name)
        elif kind == "part":
            name = _drop_part(rng, name)
        else:
            name = name.upper()
    return name


def _typo_date(rng: random.Random, day: date) -> date:
    kind = rng.randrange(3)
    if kind == 0 and day.day <= 12 and day.day != day.month:
        return day.replace(month=day.day, day=day.month)
    if kind == 2:
        year = str(day.year)
        swapped = year[:2] + year[3] + year[2]
        candidate = int(swapped)
        if swapped != year and _EARLIEST.year <= candidate <= _LATEST.year:
            try:
                return day.replace(year=candidate)
            except ValueError:  # 29 February
                pass
    return day + timedelta(days=rng.choice((-1, 1)))


def _vary(rng: random.Random, person: Person) -> Person:
    name = _vary_name(rng, person.name)
    dob = person.date_of_birth
    if dob is not None and rng.random() < 0.25:
        dob = _typo_date(rng, dob)
    phone = person.phone
    if phone is not None:
        roll = rng.random()
        phone = None if roll < 0.35 else _reformat_phone(rng, phone) if roll < 0.75 else phone
    email = person.email
    if email is not None and rng.random() < 0.5:
        email = None
    identifiers = dict(person.identifiers)
    if identifiers and rng.random() < 0.5:
        identifiers = {}
    elif identifiers and rng.random() < 0.5:
        identifiers = {k: v.replace(" ", "") for k, v in identifiers.items()}
    return replace(
        person, name=name, date_of_birth=dob, phone=phone, email=email, identifiers=identifiers
    )
