"""The demo company made by ``conveyor demo``: users for every role, customers, a year of deals.

Deterministic (one ``random.Random(seed)``, times relative to ``now``) and fast: customers,
contacts, deals and stage history go in with bulk INSERTs, a few thousand rows in well under a
second. History rows are written with their past timestamps (``move_deal`` would stamp now), and
each deal's ``stage_entered_at``/``closed_at`` agree with its last history row. Enabled plugins add
theirs through the ``seed_demo_data`` hook. The password ``demo`` exists only here.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from . import change_stamps
from .crm import in_company_language
from .events import UserCreated, emit
from .i18n import _l
from .models import (
    COMPANY_SIZES,
    Contact,
    Customer,
    Deal,
    Stage,
    StageHistory,
    Team,
    TeamMember,
    User,
)
from .stages import ensure_default_pipeline
from .types import utcnow

DEMO_PASSWORD = "demo"
DEFAULT_SEED = 20240601
CUSTOMERS = 300

# username, roles, display name. seller2/seller3 make round-robin and the team mean something.
DEMO_USERS: list[tuple[str, list[str], str]] = [
    ("admin", ["admin"], "Anna Kovaleva"),
    ("manager", ["manager"], "Mikhail Orlov"),
    ("marketer", ["marketer"], "Emily Carter"),
    ("telemarketer", ["telemarketer"], "Li Na"),
    ("seller", ["seller"], "Dmitry Sokolov"),
    ("seller2", ["seller"], "Wang Lei"),
    ("seller3", ["seller"], "Sarah Mitchell"),
    ("assistant", ["assistant"], "Olga Petrova"),
    ("lawyer", ["lawyer"], "James Whitfield"),
]
# Internal names in the company's language (config default_locale), as its people would write them.
TEAM = (_l("Sales"), ["manager", "seller", "seller2", "seller3", "assistant"])
# Who owns customers, with weights: the sellers most, the manager a few of his own.
OWNERS = [("seller", 4), ("seller2", 3), ("seller3", 3), ("manager", 1)]

# industry: (Russian word part, Chinese word, English word)
INDUSTRIES = {
    "Manufacturing": (("маш", "mash"), "制造", "Manufacturing"),
    "Construction": (("строй", "stroy"), "建设", "Builders"),
    "Logistics": (("транс", "trans"), "物流", "Logistics"),
    "IT services": (("софт", "soft"), "软件", "Software"),
    "Energy": (("энерго", "energo"), "能源", "Energy"),
    "Agriculture": (("агро", "agro"), "农业", "Farms"),
    "Healthcare": (("мед", "med"), "医疗", "Health"),
    "Retail": (("торг", "torg"), "商贸", "Retail"),
    "Finance": (("финанс", "finance"), "投资", "Capital"),
}
LOCALES = {  # share of customers, currency, regions
    "ru": (0.4, "RUB", ["Москва", "Санкт-Петербург", "Новосибирск", "Екатеринбург", "Казань",
                        "Нижний Новгород", "Краснодар"]),
    "zh": (0.3, "CNY", ["北京", "上海", "深圳", "广州", "杭州", "成都", "武汉"]),
    "en": (0.3, "USD", ["London", "Manchester", "New York", "California", "Texas", "Toronto"]),
}
UK_POUNDS = {"London": "GBP", "Manchester": "GBP"}
RATES = {"USD": 1, "GBP": 1, "RUB": 90, "CNY": 7}
RU_ROOTS = [("Урал", "ural"), ("Сиб", "sib"), ("Балт", "balt"), ("Дон", "don"), ("Нев", "nev"),
            ("Волж", "volzh"), ("Сев", "sev"), ("Юг", "yug"), ("Центр", "centr"), ("Вост", "vost"),
            ("Рус", "rus"), ("Техно", "techno"), ("Пром", "prom"), ("Кам", "kam"), ("Ок", "ok")]
RU_FORMS = ["ООО", "ООО", "ООО", "АО", "ПАО"]
RU_MEN = [("Алексей", "aleksey"), ("Дмитрий", "dmitry"), ("Сергей", "sergey"), ("Андрей", "andrey"),
          ("Игорь", "igor"), ("Павел", "pavel"), ("Николай", "nikolay"), ("Михаил", "mikhail")]
RU_WOMEN = [("Елена", "elena"), ("Ольга", "olga"), ("Наталья", "natalya"), ("Татьяна", "tatyana"),
            ("Ирина", "irina"), ("Анна", "anna"), ("Мария", "maria"), ("Светлана", "svetlana")]
RU_SURNAMES = [("Иванов", "ivanov"), ("Смирнов", "smirnov"), ("Кузнецов", "kuznetsov"),
               ("Попов", "popov"), ("Васильев", "vasilyev"), ("Соколов", "sokolov"),
               ("Морозов", "morozov"), ("Волков", "volkov"), ("Лебедев", "lebedev"),
               ("Козлов", "kozlov"), ("Новиков", "novikov"), ("Фёдоров", "fedorov")]
RU_STREETS = ["Ленина", "Гагарина", "Пушкина", "Садовая", "Мира", "Советская", "Заводская"]
ZH_CORES = [("华信", "huaxin"), ("中科", "zhongke"), ("宏达", "hongda"), ("鑫源", "xinyuan"),
            ("瑞丰", "ruifeng"), ("博远", "boyuan"), ("天合", "tianhe"), ("联创", "lianchuang"),
            ("恒通", "hengtong"), ("盛世", "shengshi"), ("东方", "dongfang"),
            ("长城", "changcheng")]
ZH_SURNAMES = [("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
               ("杨", "yang"), ("赵", "zhao"), ("黄", "huang"), ("周", "zhou"), ("吴", "wu")]
ZH_GIVEN = [("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
            ("磊", "lei"), ("强", "qiang"), ("洋", "yang"), ("艳", "yan"), ("杰", "jie"),
            ("明", "ming"), ("婷", "ting")]
ZH_DISTRICTS = ["朝阳区", "浦东新区", "南山区", "天河区", "西湖区", "武侯区", "江汉区"]
ZH_ROADS = ["中山路", "人民路", "解放路", "建设路", "科技路"]
EN_ADJECTIVES = ["Northwind", "Blue Harbor", "Summit", "Redwood", "Silverline", "Brightstone",
                 "Oakridge", "Pioneer", "Evergreen", "Ironclad", "Crescent", "Keystone"]
EN_SUFFIXES = ["Ltd", "Inc.", "LLC", "plc", "Group"]
EN_FIRST = ["James", "Emma", "Oliver", "Sophia", "William", "Charlotte", "Benjamin", "Amelia",
            "Henry", "Grace", "Thomas", "Olivia"]
EN_LAST = ["Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Roberts",
           "Walker", "Harris", "Clarke", "Turner"]
EN_STREETS = ["High Street", "Market Street", "Park Avenue", "King's Road", "Main Street"]
POSITIONS = {
    "ru": ["Генеральный директор", "Коммерческий директор", "Менеджер по закупкам",
           "Финансовый директор", "Главный инженер"],
    "zh": ["总经理", "销售总监", "采购经理", "财务总监", "技术总监"],
    "en": ["CEO", "Sales Director", "Head of Procurement", "CFO", "Operations Manager"],
}
DEAL_TITLES = {
    "ru": ["Поставка оборудования", "Годовой сервисный контракт", "Пилотный проект",
           "Расширение лицензий", "Модернизация склада", "Внедрение системы учёта"],
    "zh": ["设备采购", "年度服务合同", "试点项目", "软件许可扩展", "仓库改造", "系统集成项目"],
    "en": ["Equipment supply", "Annual service contract", "Pilot project", "License expansion",
           "Warehouse upgrade", "Fleet renewal"],
}
LOST_REASONS = {
    "ru": ["Высокая цена", "Выбрали конкурента", "Нет бюджета в этом году", "Проект отменён"],
    "zh": ["价格太高", "选择了竞争对手", "今年没有预算", "项目取消"],
    "en": ["Price too high", "Chose a competitor", "No budget this year", "Project cancelled"],
}


@dataclass
class DemoSummary:
    users: int
    customers: int
    contacts: int
    deals: int
    history: int


def is_empty(session: Session) -> bool:
    """Seed only a database with no users and no customers: never touch a real one."""
    return not session.scalar(select(func.count()).select_from(User)) and \
        not session.scalar(select(func.count()).select_from(Customer))


def seed_demo(app: Flask, session: Session, seed: int = DEFAULT_SEED,
              now: datetime | None = None, customers: int = CUSTOMERS) -> DemoSummary | None:
    """Fill an empty database with the demo company and commit; ``None`` if it had data."""
    if not is_empty(session):
        return None
    rng = random.Random(seed)
    now = now or utcnow()
    year_ago = now - timedelta(days=365)
    pipeline = ensure_default_pipeline(session)
    stages = list(session.scalars(select(Stage).where(Stage.pipeline_id == pipeline.id)
                                  .order_by(Stage.position)))
    users = _users(session, year_ago)
    owners = [users[name] for name, _ in OWNERS]
    weights = [w for _, w in OWNERS]

    rows, locales, currencies = [], [], []
    taken: set[str] = set()
    for _ in range(customers):
        locale = rng.choices(list(LOCALES), [v[0] for v in LOCALES.values()])[0]
        industry = rng.choice(list(INDUSTRIES))
        region = rng.choice(LOCALES[locale][2])
        name, domain = _company(rng, locale, industry, region, taken)
        created = year_ago + timedelta(seconds=rng.uniform(0, 300 * 86400))
        rows.append({"name": name, "industry": industry, "region": region,
                     "size": rng.choice(COMPANY_SIZES), "tax_id": _tax_id(rng, locale),
                     "address": _address(rng, locale, region),
                     "owner_id": rng.choices(owners, weights)[0].id,
                     "created_at": created, "updated_at": created})
        locales.append((locale, domain))
        currencies.append(UK_POUNDS.get(region, LOCALES[locale][1]))
    ids = session.scalars(insert(Customer.__table__).returning(
        Customer.__table__.c.id, sort_by_parameter_order=True), rows).all()

    contacts = []
    for cid, row, (locale, domain) in zip(ids, rows, locales):
        for n in range(rng.choice((1, 1, 2, 2, 3))):
            contacts.append(_contact(rng, locale, domain, cid, row["created_at"], first=n == 0))
    session.execute(insert(Contact.__table__), contacts)

    deals, walks = [], []
    for cid, row, (locale, _), currency in zip(ids, rows, locales, currencies):
        for _ in range(rng.choice((0, 1, 1, 1, 2, 2, 3))):
            deal, walk = _deal(rng, locale, currency, cid, row, stages, pipeline.id, now)
            deals.append(deal)
            walks.append(walk)
    deal_ids = session.scalars(insert(Deal.__table__).returning(
        Deal.__table__.c.id, sort_by_parameter_order=True), deals).all()
    history = [{"deal_id": did, "from_stage_id": frm, "to_stage_id": to, "at": at, "by_id": by}
               for did, walk in zip(deal_ids, walks) for frm, to, at, by in walk]
    session.execute(insert(StageHistory.__table__), history)

    _exchange_rates(session, rng, now, set(currencies))

    by_role: dict[str, Any] = {roles[0]: users[name] for name, roles, _ in DEMO_USERS
                               if name == roles[0]}
    by_role["sellers"] = [users[name] for name, roles, _ in DEMO_USERS if "seller" in roles]
    app.extensions["conveyor"].hook.seed_demo_data(session=session, users=by_role, rng=rng)
    session.commit()
    return DemoSummary(len(users), len(ids), len(contacts), len(deal_ids), len(history))


# What one unit was worth in US dollars around the demo's year; rates drift a little each month.
USD_VALUE = {"USD": 1.0, "GBP": 1.27, "EUR": 1.08, "RUB": 1 / 90, "CNY": 1 / 7}


def _exchange_rates(session: Session, rng: random.Random, now: datetime,
                    currencies: set[str]) -> None:
    """A rate on the first of each month of the past year for each currency the demo's deals use,
    in units of the company currency, so totals convert from the start."""
    from .models import ExchangeRate
    from .money import company_currency

    home = company_currency()
    base = USD_VALUE.get(home)
    if base is None:
        return
    rows = []
    for currency in sorted((currencies | {"EUR"}) - {home}):
        value = USD_VALUE.get(currency)
        if value is None:
            continue
        for months_back in range(13):
            month = now.year * 12 + now.month - 1 - months_back
            day = date(month // 12, month % 12 + 1, 1)
            drift = 1 + rng.uniform(-0.03, 0.03)
            rows.append({"currency": currency, "day": day, "created_at": now,
                         "rate": Decimal(str(round(value / base * drift, 6)))})
    if rows:
        session.execute(insert(ExchangeRate.__table__), rows)
        change_stamps.touch(session, "rates")


def _users(session: Session, joined: datetime) -> dict[str, User]:
    """One user per role plus two more sellers, all with the password ``demo``; the Sales team."""
    password_hash = generate_password_hash(DEMO_PASSWORD)  # one hash: a few ms, not nine
    users: dict[str, User] = {}
    for username, roles, display in DEMO_USERS:
        user = User(username=username, display_name=display, email=f"{username}@demo.invalid",
                    password_hash=password_hash, created_at=joined)
        user.roles = roles
        session.add(user)
        users[username] = user
    session.flush()
    team = Team(name=in_company_language(TEAM[0]))
    team.members = [TeamMember(user_id=users[name].id) for name in TEAM[1]]
    session.add(team)
    for user in users.values():
        emit(UserCreated(user=user), session)
    session.flush()
    return users


def _company(rng: random.Random, locale: str, industry: str, region: str,
             taken: set[str]) -> tuple[str, str]:
    ru, zh, en = INDUSTRIES[industry]
    for attempt in range(50):
        if locale == "ru":
            root, lat = rng.choice(RU_ROOTS)
            name, domain = f"{rng.choice(RU_FORMS)} «{root}{ru[0]}»", f"{lat}{ru[1]}.ru"
        elif locale == "zh":
            core, lat = rng.choice(ZH_CORES)
            name, domain = f"{region}{core}{zh}有限公司", f"{lat}.cn"
        else:
            adjective = rng.choice(EN_ADJECTIVES)
            name = f"{adjective} {en} {rng.choice(EN_SUFFIXES)}"
            domain = f"{adjective.replace(' ', '').lower()}{en.lower()}.com"
        if attempt >= 40:
            name = f"{name} {attempt}"
        if name not in taken:
            taken.add(name)
            return name, domain
    raise AssertionError("unreachable: numbered names are unique")


def _tax_id(rng: random.Random, locale: str) -> str:
    if locale == "ru":
        return "".join(rng.choice("0123456789") for _ in range(10))
    if locale == "zh":
        return "91" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(16))
    return f"{rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}"


def _address(rng: random.Random, locale: str, region: str) -> str:
    n = rng.randint(1, 180)
    if locale == "ru":
        return f"г. {region}, ул. {rng.choice(RU_STREETS)}, д. {n}"
    if locale == "zh":
        return f"{region}市{rng.choice(ZH_DISTRICTS)}{rng.choice(ZH_ROADS)}{n}号"
    return f"{n} {rng.choice(EN_STREETS)}, {region}"


CONTACT_LANGUAGES = {"ru": "ru", "zh": "zh_Hans", "en": "en"}


def _contact(rng: random.Random, locale: str, domain: str, customer_id: int, since: datetime,
             first: bool) -> dict[str, Any]:
    if locale == "ru":
        woman = rng.random() < 0.5
        (given, g_lat), (surname, s_lat) = rng.choice(RU_WOMEN if woman else RU_MEN), \
            rng.choice(RU_SURNAMES)
        name, email = f"{given} {surname}{'а' if woman else ''}", f"{g_lat[0]}.{s_lat}"
        phone = f"+7 9{rng.randint(10, 99)} {rng.randint(100, 999)}-{rng.randint(10, 99)}-" \
                f"{rng.randint(10, 99)}"
    elif locale == "zh":
        (surname, s_lat), (given, g_lat) = rng.choice(ZH_SURNAMES), rng.choice(ZH_GIVEN)
        name, email = f"{surname}{given}", f"{g_lat}.{s_lat}"
        phone = f"+86 1{rng.randint(30, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
    else:
        given, surname = rng.choice(EN_FIRST), rng.choice(EN_LAST)
        name, email = f"{given} {surname}", f"{given.lower()}.{surname.lower()}"
        phone = f"+1 ({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
    position = POSITIONS[locale][0 if first else rng.randint(1, len(POSITIONS[locale]) - 1)]
    return {"customer_id": customer_id, "name": name, "position": position, "phone": phone,
            "email": f"{email}@{domain}", "decision_maker": first and rng.random() < 0.8,
            "language": CONTACT_LANGUAGES[locale],
            "created_at": since + timedelta(hours=rng.uniform(0, 72))}


def _expected_close(rng: random.Random, stage: Stage, last: datetime, now: datetime) -> Any:
    """Relative to today, so a fresh demo never shows open deals due months ago: closed deals
    on their closing day, open ones ahead — and one in ten a little overdue, as in real life."""
    if stage.is_closed:
        return last.date()
    days = -rng.randint(1, 20) if rng.random() < 0.1 else rng.randint(7, 120)
    return (now + timedelta(days=days)).date()


def _deal(rng: random.Random, locale: str, currency: str, customer_id: int,
          customer: dict[str, Any], stages: list[Stage], pipeline_id: int,
          now: datetime) -> tuple[dict[str, Any], list[Any]]:
    """A deal and its walk through the pipeline: stages in order, some skipped, some deals lost
    on the way, those that get past the last open stage won; the walk stops at ``now``."""
    open_stages = [s for s in stages if not s.is_closed]
    won = next(s for s in stages if s.is_won)
    lost = next(s for s in stages if s.is_lost)
    start = customer["created_at"]
    created = start + timedelta(seconds=rng.uniform(0, max((now - start).total_seconds() - 3600,
                                                           60)))
    owner = customer["owner_id"]
    walk = [(None, open_stages[0].id, created, owner)]
    at, index, current, reason = created, 0, open_stages[0], ""
    while True:
        at = at + timedelta(days=rng.expovariate(1 / 14) + 0.5)
        if at > now or rng.random() < 0.08:  # still in progress, or stalled
            break
        if rng.random() < 0.1:
            nxt, reason = lost, rng.choice(LOST_REASONS[locale])
        else:
            index += 2 if rng.random() < 0.2 else 1
            nxt = open_stages[index] if index < len(open_stages) else won
        walk.append((current.id, nxt.id, at, owner))
        current = nxt
        if current.is_closed:
            break
    last = walk[-1][2]
    # Sizes in dollars, shown in the customer's currency at a round rate.
    amount = Decimal(rng.randrange(50, 5000) * 100 * RATES[currency])
    deal = {
        "customer_id": customer_id, "owner_id": owner, "pipeline_id": pipeline_id,
        "stage_id": current.id, "title": rng.choice(DEAL_TITLES[locale]), "amount": amount,
        "margin": (amount * Decimal(rng.randint(8, 35)) / 100).quantize(Decimal("0.01")),
        "currency": currency,
        "expected_close": _expected_close(rng, current, last, now),
        "lost_reason": reason, "created_at": created, "updated_at": last,
        "stage_entered_at": last, "closed_at": last if current.is_closed else None, "version": 1,
    }
    return deal, walk
