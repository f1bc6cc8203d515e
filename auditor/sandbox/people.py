"""The sandbox's people: an HR roster with believable names, titles and managers.

Everything is drawn from one ``random.Random`` so a seed gives the same
company every time. ``write_hr_csv`` writes the feed in the contract's
column order (``previous_department`` last).
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from auditor.collect.hr import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

HR_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)  # the feed the product reads, as CONTRACT.md lists it

FIRST_NAMES = (
    "Aisha",
    "Alejandro",
    "Amara",
    "Anders",
    "Ana",
    "Arjun",
    "Beatriz",
    "Bilal",
    "Camille",
    "Carlos",
    "Chen",
    "Chloe",
    "Daniel",
    "Dara",
    "Diego",
    "Elena",
    "Emeka",
    "Emma",
    "Farah",
    "Felix",
    "Fatima",
    "Gabriel",
    "Grace",
    "Hana",
    "Hamza",
    "Ines",
    "Isaac",
    "Ivan",
    "Jamal",
    "Jana",
    "Javier",
    "Jin",
    "Julia",
    "Kai",
    "Karim",
    "Kenji",
    "Lars",
    "Laila",
    "Leon",
    "Lucia",
    "Maya",
    "Mateo",
    "Mei",
    "Mina",
    "Nadia",
    "Nikhil",
    "Noah",
    "Nora",
    "Omar",
    "Olga",
    "Oscar",
    "Priya",
    "Rafael",
    "Rania",
    "Rosa",
    "Ruth",
    "Samir",
    "Sara",
    "Sofia",
    "Sven",
    "Tariq",
    "Tomas",
    "Uma",
    "Valentina",
    "Victor",
    "Wei",
    "Yara",
    "Yusuf",
    "Zara",
    "Zoltan",
)
LAST_NAMES = (
    "Abebe",
    "Adeyemi",
    "Alvarez",
    "Andersen",
    "Bauer",
    "Bianchi",
    "Costa",
    "Dubois",
    "Eriksson",
    "Fernandes",
    "Fischer",
    "Garcia",
    "Haddad",
    "Hansen",
    "Ibrahim",
    "Ivanova",
    "Jensen",
    "Kaur",
    "Khan",
    "Kim",
    "Kowalski",
    "Larsen",
    "Lopez",
    "Martin",
    "Mendes",
    "Moreau",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Okafor",
    "Olsen",
    "Park",
    "Patel",
    "Petrov",
    "Rossi",
    "Santos",
    "Schmidt",
    "Sato",
    "Silva",
    "Singh",
    "Suzuki",
    "Tanaka",
    "Torres",
    "Usman",
    "Varga",
    "Wagner",
    "Wang",
    "Weber",
    "Yilmaz",
    "Zhang",
)


@dataclass(frozen=True)
class Department:
    name: str
    group: str | None  # the Identity Center group its people get, None: no AWS access
    head_title: str
    titles: tuple[str, ...]


DEPARTMENTS = {
    d.name: d
    for d in (
        Department(
            "engineering",
            "engineering",
            "VP Engineering",
            ("Software Engineer", "Senior Software Engineer", "Staff Engineer", "Engineering Manager"),
        ),
        Department(
            "platform",
            "platform-admins",
            "Head of Platform",
            ("Platform Engineer", "Senior Platform Engineer", "Site Reliability Engineer"),
        ),
        Department("data", "data", "Head of Data", ("Data Engineer", "Data Analyst", "Senior Data Scientist")),
        Department("security", "security", "CISO", ("Security Engineer", "Security Analyst")),
        Department("finance", "finance", "CFO", ("Financial Analyst", "FinOps Analyst", "Accountant")),
        Department("support", "support", "Head of Support", ("Support Engineer", "Customer Support Specialist")),
        Department("sales", None, "VP Sales", ("Account Executive", "Sales Development Representative")),
        Department("people", None, "Head of People", ("People Partner", "Recruiter")),
    )
}
AWS_DEPARTMENTS = tuple(name for name, d in DEPARTMENTS.items() if d.group)
EXECUTIVE = "executive"


@dataclass
class Person:
    """One HR row. Mutable while the world is planned; written once."""

    employee_id: str
    email: str
    user_name: str
    display_name: str
    given_name: str
    family_name: str
    department: str
    title: str
    manager_email: str
    status: str = "active"  # active | leave | terminated
    employment_type: str = "employee"  # employee | contractor | vendor
    start_date: date | None = None
    end_date: date | None = None
    previous_department: str | None = None

    def row(self) -> dict[str, str]:
        values = {name: getattr(self, name) for name in HR_COLUMNS}
        return {
            key: "" if value is None else value.isoformat() if isinstance(value, date) else str(value)
            for key, value in values.items()
        }


class Roster:
    """Hands out unique people; the first of a department becomes its head."""

    def __init__(self, rng: random.Random, domain: str) -> None:
        self.rng = rng
        self.domain = domain
        self.people: list[Person] = []
        self.heads: dict[str, Person] = {}
        self._names: set[str] = set()

    def _name(self) -> tuple[str, str, str]:
        while True:
            given, family = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
            user_name = f"{given}.{family}".lower()
            suffix = 2
            while user_name in self._names:
                user_name = f"{given}.{family}{suffix}".lower()
                suffix += 1
            if suffix <= 3:
                self._names.add(user_name)
                return given, family, user_name

    def add(self, department: str, start: date, *, head: bool = False, title: str | None = None) -> Person:
        given, family, user_name = self._name()
        if department == EXECUTIVE:
            manager, chosen = "", title or "Chief Executive Officer"
        else:
            spec = DEPARTMENTS[department]
            boss = self.heads.get(EXECUTIVE) if head else self.heads.get(department)
            manager = boss.email if boss else ""
            chosen = title or (spec.head_title if head else self.rng.choice(spec.titles))
        person = Person(
            employee_id=f"E{len(self.people) + 1001:05d}",
            email=f"{user_name}@{self.domain}",
            user_name=user_name,
            display_name=f"{given} {family}",
            given_name=given,
            family_name=family,
            department=department,
            title=chosen,
            manager_email=manager,
            start_date=start,
        )
        self.people.append(person)
        if head:
            self.heads[department] = person
        return person


def write_hr_csv(path: Path, people: list[Person]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=HR_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for person in people:
            writer.writerow(person.row())
    return path
