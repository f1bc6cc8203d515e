"""``plan_world``: the whole plan for one (size, seed, as-of), deterministic and offline."""

from __future__ import annotations

import random
from datetime import datetime

from auditor.sandbox.estate import SIZES, plan_accounts, plan_iam, plan_identity_center
from auditor.sandbox.people import Roster
from auditor.sandbox.plan import Clock, World
from auditor.sandbox.plants import populate
from auditor.sandbox.population import Population

COMPANIES = (
    "Northwind Analytics",
    "Bluefin Logistics",
    "Kestrel Health",
    "Tallis Robotics",
    "Corvid Energy",
    "Larkspur Payments",
    "Osprey Media",
    "Juniper Freight",
)


def plan_world(size: str, seed: int, as_of: datetime, region: str) -> World:
    if size not in SIZES:
        raise ValueError(f"unknown sandbox size {size!r}; choose one of {', '.join(SIZES)}")
    spec = SIZES[size]
    rng = random.Random(f"auditor-sandbox:{size}:{seed}")
    clock = Clock(rng, as_of)
    company = rng.choice(COMPANIES)
    domain = f"{company.split()[0].lower()}.example"
    world = World(
        size=size,
        seed=seed,
        as_of=as_of,
        region=region,
        company=company,
        domain=domain,
        idc_created=clock.ago(rng.uniform(700, 900)),
    )
    roster = Roster(rng, domain)
    population = Population(world, spec, roster, clock)
    population.heads()
    plan_accounts(world, spec, roster, clock)
    plan_identity_center(world, spec, clock)
    plan_iam(world, spec, roster, clock)
    world.root(world.management().key).logins.append(clock.work_time(clock.day(rng.uniform(100, 115))))
    populate(population)
    world.people = roster.people
    return world
