"""Build a company at scale, straight into the database with SQL, for the benchmarks.

    python bench/generate.py --url sqlite:///bench/data/big.db --customers 100000 --deals 1000000
    python bench/generate.py --url postgresql+psycopg://postgres@127.0.0.1:5433/conveyor --seed 1

``generate(url, customers, deals, seed=1, plugins=(), ...)`` returns a dict: ``counts`` (rows per
table), ``rows``, ``seconds`` (load + index build), ``rows_per_s``, ``users`` (username → id),
``stages`` (stage ids: ``open`` in pipeline order, ``won``, ``lost``), ``end`` (the anchor time).

What it writes: the schema of the app with ``plugins`` enabled (``conveyor db upgrade`` when the
core has migrations, then ``create_tables`` for anything missing), the default pipeline, 30 users
(admin, manager, marketer, telemarketer, assistant, lawyer and 24 sellers ``seller01``…``seller24``
in 4 teams of 6; the manager leads team 1), customers owned by sellers with 1–3 contacts each,
deals (owner = the customer's owner) created over the year before ``end`` in id order, and their
stage history: every deal enters the first stage, walks the open stages in order (some skipped),
and is left open, won or lost; older deals are more often closed. ``deals.stage_id``,
``stage_entered_at``, ``closed_at`` and ``updated_at`` agree with the last history row; version 1.
``timeline=True`` also posts one timeline entry per history row (as ``conveyor.crm`` would).

Deterministic: the same seed, sizes and ``end`` give the same rows. ``end`` defaults to the start of
the current UTC day. Memory stays bounded: rows are produced and written in batches. Secondary
indexes of the loaded tables are dropped during the load and rebuilt after (counted in rows/s).
SQLite: WAL, synchronous=OFF, multi-row INSERTs. PostgreSQL: COPY,
foreign-key triggers off for the session when allowed, sequences moved past the ids, VACUUM ANALYZE.
No events are emitted: this is a bulk load, not the app's write path.
"""
from __future__ import annotations

import argparse
import json
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

DAY = 86_400
YEAR = 365 * DAY
BATCH = 10_000  # deals per batch (≈ 60k history rows)
SELLERS, TEAMS = 24, 4
OTHER_ROLES = ("admin", "manager", "marketer", "telemarketer", "assistant", "lawyer")
LOADED = ("customers", "contacts", "deals", "stage_history", "timeline")

INDUSTRIES = "Manufacturing Retail Logistics Construction Healthcare Education Finance Energy " \
    "Agriculture Hospitality Software Telecom".split()
REGIONS = "North South East West Central Capital Coast Mountains Islands Abroad".split()
SIZES = ["1-10", "11-50", "51-200", "201-1000", "1000+"]
WORDS_A = "Northwind Blue Granite Silver Rapid Union Polar Summit Delta Vector Harbor Pioneer " \
    "Crystal Atlas Oak Nova Prime Sterling".split()
WORDS_B = "Logistics Systems Foods Motors Partners Works Holdings Labs Trading Builders Energy " \
    "Textiles Media Pharma Metals Farms".split()
# One customer in CHINESE_EVERY has a Chinese name ("北京华信有限公司 125"): a city and a trade,
# two characters each, as Chinese company names run — what a search for two characters finds.
CITIES_ZH = "北京 上海 广州 深圳 杭州 成都 武汉 西安 天津 重庆".split()
TRADES_ZH = "华信 物流 科技 贸易 机械 能源 建设 食品 电子 医药".split()
CHINESE_EVERY = 50
# One customer in RUSSIAN_EVERY has a Russian name ("ООО Ромашка Логистика 130"): "ООО" is in a
# tenth of the names, each of the two words in a hundredth.
RUSSIAN_A = "Ромашка Северный Вектор Гранит Альфа Меридиан Восход Заря Орион Технопарк".split()
RUSSIAN_B = "Логистика Системы Продукты Моторы Партнёры Строй Холдинг Энергия Торг Медиа".split()
RUSSIAN_EVERY = 10
FIRST = "Anna Boris Chen Daria Elena Fedor Grace Hugo Irina Jun Karl Lena Mikhail Nina Oleg " \
    "Pavel Qing Rosa Sergei Tanya".split()
LAST = "Ivanova Smith Wang Petrov Garcia Kuznetsov Li Novak Sokolova Brown Zhang Orlov Meyer " \
    "Popova Liu Volkov".split()
POSITIONS = ["CEO", "CFO", "Head of purchasing", "Buyer", "Engineer", "Office manager", "Lawyer"]
PRODUCTS = ["Equipment supply", "Annual service", "Software licence", "Installation", "Consulting",
            "Spare parts", "Training", "Maintenance contract", "Pilot project", "Extension"]
LOST_REASONS = ["Price", "Chose a competitor", "No budget", "Project cancelled", "No answer"]
# Where open deals rest (index into the open stages): early stages hold more deals.
OPEN_WEIGHTS = [18, 16, 14, 12, 10, 9, 8, 7, 6]
SKIP = 0.08
MEAN_GAP = 12 * DAY
# Deal currencies (share of deals) and what one unit is worth in US dollars, the company currency
# of the generated data: totals convert every non-USD amount at the rate of its deal's date, as
# the pages do with a real company's deals.
CURRENCIES = (("USD", 70, 1.0), ("EUR", 12, 1.08), ("GBP", 5, 1.27), ("RUB", 8, 1 / 90),
              ("CNY", 5, 1 / 7))
CURRENCY_TABLE = [code for code, share, _ in CURRENCIES for _ in range(share)]


class Clock:
    """Formats epoch seconds as the naive-UTC text SQLAlchemy stores
    (``YYYY-MM-DD HH:MM:SS.ffffff``), from two small lookup tables: strftime per row would
    dominate the load."""

    def __init__(self) -> None:
        self.tod = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000000" for s in range(DAY)]
        self.days: dict[int, str] = {}

    def __call__(self, ts: int) -> str:
        day, sec = divmod(ts, DAY)
        prefix = self.days.get(day)
        if prefix is None:
            prefix = self.days[day] = datetime.fromtimestamp(day * DAY, UTC).strftime(
                "%Y-%m-%d ")
        return prefix + self.tod[sec]

    def date(self, ts: int) -> str:
        return self(ts)[:10]


# --- writers -----------------------------------------------------------------------------------


class Writer:
    """Appends rows of one table; subclasses for SQLite (executemany) and PostgreSQL (COPY)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        self.raw.commit()


class SqliteWriter(Writer):
    def __init__(self, raw: Any) -> None:
        super().__init__(raw)
        for pragma in ("journal_mode=WAL", "synchronous=OFF", "foreign_keys=OFF",
                       "cache_size=-262144", "temp_store=FILE"):
            raw.execute(f"PRAGMA {pragma}")

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """Multi-row INSERTs of ~900 values each, run through executemany: measured here 35 %
        faster than one row per statement (1.36M vs 1.0M rows/s of six columns)."""
        per = max(1, 900 // len(columns))
        head = f"INSERT INTO {table} ({','.join(columns)}) VALUES "
        one = "(" + ",".join("?" * len(columns)) + ")"
        full = len(rows) // per * per
        if full:
            self.raw.executemany(head + ",".join([one] * per),
                                 [tuple(v for row in rows[i:i + per] for v in row)
                                  for i in range(0, full, per)])
        if full < len(rows):
            rest = rows[full:]
            self.raw.execute(head + ",".join([one] * len(rest)),
                             tuple(v for row in rest for v in row))

    def finish(self) -> None:
        self.raw.execute("PRAGMA synchronous=NORMAL")
        self.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class PostgresWriter(Writer):
    def __init__(self, raw: Any) -> None:
        super().__init__(raw)
        with raw.cursor() as cur:
            try:
                cur.execute("SET session_replication_role = replica")  # FK triggers off
            except Exception:  # noqa: BLE001 - not a superuser: keep the checks, load slower
                raw.rollback()

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        with self.raw.cursor() as cur, cur.copy(
                f"COPY {table} ({','.join(columns)}) FROM STDIN") as copy:
            copy.write("".join("\t".join(r"\N" if v is None else str(v) for v in row) + "\n"
                               for row in rows))

    def finish(self) -> None:
        with self.raw.cursor() as cur:
            for table in (*LOADED, "exchange_rates"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
        self.raw.commit()
        self.raw.autocommit = True
        with self.raw.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        self.raw.autocommit = False


def _indexes(raw: Any, dialect: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the secondary indexes of the tables we load."""
    names = ",".join(f"'{t}'" for t in LOADED)
    cur = raw.cursor()
    if dialect == "sqlite":
        cur.execute(f"SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL "
                    f"AND tbl_name IN ({names})")
    else:
        cur.execute(f"SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = "
                    f"current_schema() AND tablename IN ({names}) AND indexname NOT IN "
                    f"(SELECT conname FROM pg_constraint)")
    return [(r[0], r[1]) for r in cur.fetchall()]


def _search_triggers(raw: Any, dialect: str) -> list[tuple[str, str]]:
    """SQLite: (name, CREATE TRIGGER) of the triggers keeping the search index (FTS5) of the
    loaded tables; dropped for the load (a million row-by-row index updates) and re-created
    after :func:`fill_search_index`. PostgreSQL's search indexes are plain (GIN) indexes, dropped
    and re-created with the others."""
    if dialect != "sqlite":
        return []
    names = ",".join(f"'{t}'" for t in LOADED)
    cur = raw.cursor()
    cur.execute(f"SELECT name, sql FROM sqlite_master WHERE type='trigger' AND name LIKE "
                f"'search_%' AND tbl_name IN ({names})")
    return [(r[0], r[1]) for r in cur.fetchall()]


def fill_search_index(raw: Any, dialect: str, triggers: list[tuple[str, str]],
                      vocabulary: list[str]) -> None:
    """Fill the search index from the loaded rows (SQLite: each FTS5 table's 'rebuild' reads
    its source view, 'optimize' merges it into one segment, as the app's index is made), then
    put the triggers back. Both databases: the loaded rows' words go to the search's vocabulary
    (``vocabulary``: each index's statement; the triggers adding them were off for the load)."""
    for statement in vocabulary:
        raw.execute(statement)
    if dialect != "sqlite":
        return
    cur = raw.cursor()
    cur.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'search_%' "
                "AND sql LIKE 'CREATE VIRTUAL TABLE%'")
    for (name,) in cur.fetchall():
        raw.execute(f"INSERT INTO {name}({name}) VALUES ('rebuild')")
        raw.execute(f"INSERT INTO {name}({name}) VALUES ('optimize')")  # one segment
    for _, ddl in triggers:
        raw.execute(ddl)


# --- rows --------------------------------------------------------------------------------------


def customer_rows(rng: random.Random, n: int, sellers: list[int], start: int, end: int,
                  clock: Clock, owners: list[int]) -> Iterator[tuple[list[tuple], list[tuple]]]:
    """Batches of (customers, contacts); fills ``owners[i]`` with customer i+1's owner."""
    rnd, contact_id = rng.random, 0
    pick = lambda seq: seq[int(rnd() * len(seq))]  # noqa: E731 - cheaper than rng.choice
    for first in range(1, n + 1, BATCH * 2):
        customers, contacts = [], []
        for cid in range(first, min(n, first + BATCH * 2 - 1) + 1):
            owner = sellers[int(rnd() * len(sellers))]
            owners.append(owner)
            at = clock(start + int(rnd() * (end - start)))
            if cid % CHINESE_EVERY == 25:
                name = f"{pick(CITIES_ZH)}{pick(TRADES_ZH)}有限公司 {cid}"
            elif cid % RUSSIAN_EVERY == 3:
                name = f"ООО {pick(RUSSIAN_A)} {pick(RUSSIAN_B)} {cid}"
            else:
                name = f"{pick(WORDS_A)} {pick(WORDS_B)} {cid}"
            customers.append((cid, name,
                              pick(INDUSTRIES), pick(REGIONS),
                              pick(SIZES), f"{7_700_000_000 + cid * 7}",
                              f"{1 + int(rnd() * 200)} Main street", owner, at, at))
            for k in range(1 + int(rnd() * 3)):
                contact_id += 1
                person = f"{pick(FIRST)} {pick(LAST)}"
                contacts.append((contact_id, cid, person, pick(POSITIONS),
                                 f"+1 555 {contact_id:07d}", f"contact{contact_id}@example.com",
                                 k == 0, at))
        yield customers, contacts


def deal_rows(rng: random.Random, n: int, owners: list[int], stages: dict[str, Any],
              pipeline_id: int, end: int, clock: Clock, timeline: bool
              ) -> Iterator[tuple[list[tuple], list[tuple], list[tuple]]]:
    """Batches of (deals, stage history, timeline) for deal ids 1..n, created in id order."""
    rnd, expo = rng.random, rng.expovariate
    pick = lambda seq: seq[int(rnd() * len(seq))]  # noqa: E731 - cheaper than rng.choice
    open_ids, won, lost = stages["open"], stages["won"], stages["lost"]
    percent = stages["percent"]
    table = [i for i, w in enumerate(OPEN_WEIGHTS) for _ in range(w)]
    n_open, n_table, n_customers = len(open_ids), len(table), len(owners)
    start = end - YEAR
    slot = (YEAR - 3600) / n
    hist_id = 0
    for first in range(1, n + 1, BATCH):
        deals, history, entries = [], [], []
        for did in range(first, min(n, first + BATCH - 1) + 1):
            customer = 1 + int(rnd() * n_customers)
            owner = owners[customer - 1]
            created = start + int((did - 1 + rnd()) * slot)
            age = (end - created) / YEAR
            r = rnd()
            closed = r < 0.15 + 0.6 * age
            is_won = closed and rnd() < 0.45
            last_open = n_open - 1 if is_won else table[int(rnd() * n_table)]
            path = [open_ids[0]]
            for i in range(1, last_open):
                if rnd() >= SKIP:
                    path.append(open_ids[i])
            if last_open > 0 and not (is_won and rnd() < SKIP):
                path.append(open_ids[last_open])
            if closed:
                path.append(won if is_won else lost)
            gaps = [1 + int(expo(1 / MEAN_GAP)) for _ in range(len(path) - 1)]
            room, total = end - created - 60, sum(gaps)
            if total > room:
                gaps = [max(1, int(g * room / total)) for g in gaps]
            at, times, prev = created, [], None
            for i, stage in enumerate(path):
                if i:
                    at += gaps[i - 1]
                hist_id += 1
                text_at = clock(at)
                times.append(text_at)
                history.append((hist_id, did, prev, stage, text_at, owner))
                if timeline:
                    entries.append((hist_id, customer, did, "deal.created" if prev is None else
                                    "deal.stage_changed",
                                    f"Deal {did}" if prev is None
                                    else f"{percent[prev]}% → {percent[stage]}%",
                                    "{}" if prev is None else
                                    json.dumps({"from": prev, "to": stage}), text_at, owner))
                prev = stage
            amount = (1 + int(rnd() * 5000)) * 100
            lost_reason = pick(LOST_REASONS) if prev == lost else ""
            deals.append((did, customer, owner, pipeline_id, prev,
                          f"{pick(PRODUCTS)} #{did}", amount, amount // 5,
                          CURRENCY_TABLE[int(rnd() * len(CURRENCY_TABLE))],
                          clock.date(created + (30 + int(rnd() * 90)) * DAY), lost_reason,
                          times[0], times[-1], times[-1], times[-1] if closed else None, 1))
        yield deals, history, entries


def rate_rows(rng: random.Random, start: int, end: int, clock: Clock) -> list[tuple]:
    """A rate per currency and day (as a central bank publishes them) from ``start`` to ``end``,
    drifting a little, in US dollars per unit: every deal's date has a rate on or before it."""
    rows, rate_id = [], 0
    for code, _, value in CURRENCIES:
        if code == "USD":
            continue
        level = value
        for day in range(start, end + DAY, DAY):
            level *= 1 + rng.uniform(-0.004, 0.004)
            rate_id += 1
            rows.append((rate_id, code, clock.date(day), f"{level:.10f}", clock(day)))
    return rows


# --- orchestration -----------------------------------------------------------------------------


def _build_schema(url: str, plugins: Sequence[str], reset: bool) -> Any:
    """The app on ``url`` with its tables; the default pipeline and the users are added here."""
    from importlib.util import find_spec

    from conveyor.app import create_app
    from conveyor.schema import create_tables, drop_tables

    app = create_app(config={"database_url": url, "secret_key": "bench-generator",
                             "plugins": list(plugins), "ratelimit_enabled": False},
                     plugins=list(plugins), instance_path=tempfile.mkdtemp(prefix="conveyor-gen-"))
    if reset:
        drop_tables(app)
    if find_spec("conveyor.migrate") is not None:
        app.test_cli_runner().invoke(args=["db", "upgrade"])
    create_tables(app)  # checkfirst: only what the migrations (if any) did not create
    return app


def _seed_people(app: Any, password: str | None) -> tuple[dict[str, int], list[int], int, dict]:
    from sqlalchemy import func, select
    from werkzeug.security import generate_password_hash

    from conveyor.extensions import db
    from conveyor.models import Customer, Team, TeamMember, User
    from conveyor.stages import ensure_default_pipeline

    with app.app_context():
        if db.session.scalar(select(func.count()).select_from(Customer)):
            raise SystemExit("the database already holds customers; pass reset=True / --reset")
        pipeline = ensure_default_pipeline(db.session)
        hashed = generate_password_hash(password) if password else None
        users: dict[str, int] = {}
        names = [*OTHER_ROLES, *(f"seller{i:02d}" for i in range(1, SELLERS + 1))]
        for name in names:
            user = db.session.scalar(select(User).where(User.username == name)) or User(
                username=name, display_name=name.title())
            user.roles = [name if name in OTHER_ROLES else "seller"]
            user.password_hash = hashed
            db.session.add(user)
            db.session.flush()
            users[name] = user.id
        sellers = [users[n] for n in names[len(OTHER_ROLES):]]
        for t in range(TEAMS):
            team = Team(name=f"Team {t + 1}")
            db.session.add(team)
            db.session.flush()
            members = sellers[t::TEAMS] + ([users["manager"]] if t == 0 else [])
            db.session.add_all(TeamMember(team_id=team.id, user_id=u) for u in members)
        ordered = sorted(pipeline.stages, key=lambda s: s.position)
        stages = {"open": [s.id for s in ordered if not s.is_closed],
                  "won": next(s.id for s in ordered if s.is_won),
                  "lost": next(s.id for s in ordered if s.is_lost),
                  "percent": {s.id: s.percent for s in ordered}}
        db.session.commit()
        return users, sellers, pipeline.id, stages


# deal_stage_totals (count and amount per stage, owner, currency) from the loaded deals: the app's
# write path keeps it per change, a bulk load fills it at the end (crm.rebuild_deal_totals' SQL).
TOTALS_SQL = (
    "INSERT INTO deal_stage_totals (stage_id, owner_id, currency, count, amount) "
    "SELECT stage_id, COALESCE(owner_id, 0), currency, COUNT(*), COALESCE(SUM(amount), 0) "
    "FROM deals GROUP BY stage_id, COALESCE(owner_id, 0), currency")


def _fill_plugins(app: Any, plugins: Sequence[str]) -> dict[str, float]:
    """What plugins keep from the data, filled as their own commands would after a bulk load.

    activities: the next-step summary (each open deal's planned activities: none yet).
    relationships: every customer's type (``recompute``: state rows, no transitions) and the
    won-amount day sums of its reports (filled by that first recompute, as after installing).
    """
    from conveyor.extensions import db

    seconds: dict[str, float] = {}
    if "activities" in plugins:  # each open deal's row of the next-step summary
        from conveyor.plugins.activities.next_steps import rebuild as rebuild_next_steps

        began = time.perf_counter()
        with app.app_context():
            rebuild_next_steps(db.session.connection())
            db.session.commit()
            db.session.remove()
        seconds["activities"] = round(time.perf_counter() - began, 2)
    if "relationships" in plugins:
        from conveyor.plugins.relationships.services import recompute

        began = time.perf_counter()
        with app.app_context():
            recompute(db.session)
            db.session.remove()
        seconds["relationships"] = round(time.perf_counter() - began, 2)
    return seconds


def generate(url: str, customers: int, deals: int, seed: int = 1, plugins: Sequence[str] = (),
             timeline: bool = False, end: datetime | None = None, reset: bool = False,
             password: str | None = None, quiet: bool = True) -> dict[str, Any]:
    """Fill the database at ``url``; returns counts, rows, seconds and rows/s (see module doc)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from conveyor.extensions import db

    end = end or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end_ts = int(end.timestamp())
    began = time.perf_counter()
    app = _build_schema(url, plugins, reset)
    users, sellers, pipeline_id, stages = _seed_people(app, password)
    rng, clock, owners = random.Random(seed), Clock(), []
    counts = {"users": len(users), "customers": 0, "contacts": 0, "deals": 0, "stage_history": 0,
              "timeline": 0}
    with app.app_context():
        from conveyor.search.kinds import all_kinds

        engine = create_engine(db.engine.url, poolclass=NullPool)
        dialect = engine.dialect.name
        vocabulary = [k.index.fill_vocabulary_sql(dialect) for k in all_kinds()
                      if k.index.table in LOADED]
    proxy = engine.raw_connection()
    raw = proxy.driver_connection
    writer: Any = SqliteWriter(raw) if dialect == "sqlite" else PostgresWriter(raw)
    indexes = _indexes(raw, dialect)
    for name, _ in indexes:
        raw.execute(f"DROP INDEX {name}")
    triggers = _search_triggers(raw, dialect)  # the search index is filled once, at the end
    for name, _ in triggers:
        raw.execute(f"DROP TRIGGER {name}")
    writer.commit()
    load_start = time.perf_counter()
    cust_cols = ("id", "name", "industry", "region", "size", "tax_id", "address", "owner_id",
                 "created_at", "updated_at")
    cont_cols = ("id", "customer_id", "name", "position", "phone", "email", "decision_maker",
                 "created_at")
    for batch, contacts in customer_rows(rng, customers, sellers, end_ts - 2 * YEAR,
                                         end_ts - YEAR, clock, owners):
        writer.write("customers", cust_cols, batch)
        writer.write("contacts", cont_cols, contacts)
        writer.commit()
        counts["customers"] += len(batch)
        counts["contacts"] += len(contacts)
    rates = rate_rows(random.Random(seed + 1), end_ts - 2 * YEAR, end_ts, clock)
    writer.write("exchange_rates", ("id", "currency", "day", "rate", "created_at"), rates)
    # what change_stamps.touch does for a writer that bypasses set_rate: the app keeps rates
    writer.write("change_stamps", ("name", "token"), [("rates", secrets.token_hex(16))])
    writer.commit()
    counts["exchange_rates"] = len(rates)
    deal_cols = ("id", "customer_id", "owner_id", "pipeline_id", "stage_id", "title", "amount",
                 "margin", "currency", "expected_close", "lost_reason", "created_at", "updated_at",
                 "stage_entered_at", "closed_at", "version")
    hist_cols = ("id", "deal_id", "from_stage_id", "to_stage_id", "at", "by_id")
    line_cols = ("id", "customer_id", "deal_id", "kind", "message", "data", "at", "by_id")
    for batch, history, entries in deal_rows(rng, deals, owners, stages, pipeline_id, end_ts,
                                             clock, timeline):
        writer.write("deals", deal_cols, batch)
        writer.write("stage_history", hist_cols, history)
        if entries:
            writer.write("timeline", line_cols, entries)
        writer.commit()
        counts["deals"] += len(batch)
        counts["stage_history"] += len(history)
        counts["timeline"] += len(entries)
        if not quiet:
            print(f"  {counts['deals']:>9} deals  {time.perf_counter() - load_start:6.1f} s",
                  file=sys.stderr)
    load_s = time.perf_counter() - load_start
    index_start = time.perf_counter()
    for _, ddl in indexes:
        raw.execute(ddl)
    writer.commit()
    index_s = time.perf_counter() - index_start
    search_start = time.perf_counter()
    fill_search_index(raw, dialect, triggers, vocabulary)
    writer.commit()
    search_s = time.perf_counter() - search_start
    totals_start = time.perf_counter()
    raw.execute("DELETE FROM deal_stage_totals")
    raw.execute(TOTALS_SQL)  # what conveyor.crm keeps per deal change, from the bulk load at once
    writer.commit()
    totals_s = time.perf_counter() - totals_start
    writer.finish()
    proxy.close()
    if "funnel" in plugins:  # the funnel's own summaries, as its write hook keeps them
        from conveyor.plugins.funnel.summaries import rebuild as rebuild_funnel

        summaries_start = time.perf_counter()
        with engine.begin() as conn:
            rebuild_funnel(conn)
            if dialect == "postgresql":
                from sqlalchemy import text

                conn.execute(text("ANALYZE funnel_closed_totals, funnel_reached, "
                                  "funnel_stage_moves, funnel_durations"))
        totals_s += time.perf_counter() - summaries_start
    engine.dispose()
    plugin_s = _fill_plugins(app, plugins)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    shutil.rmtree(app.instance_path, ignore_errors=True)
    rows = sum(counts.values())
    seconds = load_s + index_s + totals_s + search_s
    return {"counts": counts, "rows": rows, "seconds": round(seconds, 2),
            "load_seconds": round(load_s, 2), "index_seconds": round(index_s, 2),
            "totals_seconds": round(totals_s, 2), "search_index_seconds": round(search_s, 2),
            "plugin_fill_seconds": plugin_s,
            "total_seconds": round(time.perf_counter() - began, 2),
            "rows_per_s": int(rows / seconds) if seconds else rows, "users": users,
            "stages": {k: v for k, v in stages.items() if k != "percent"},
            "end": end.isoformat(), "seed": seed, "database": dialect}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of the database to fill")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plugins", default="", help="plugins whose tables to create")
    parser.add_argument("--timeline", action="store_true",
                        help="one timeline entry per history row")
    parser.add_argument("--end", help="anchor date (YYYY-MM-DD, UTC); default: today")
    parser.add_argument("--reset", action="store_true", help="drop the app's tables first")
    parser.add_argument("--password", help="give every generated user this password")
    args = parser.parse_args(argv)
    end = (datetime.strptime(args.end, "%Y-%m-%d").replace(tzinfo=UTC)
           if args.end else None)
    result = generate(args.url, args.customers, args.deals, args.seed,
                      plugins=args.plugins.replace(",", " ").split(), timeline=args.timeline,
                      end=end, reset=args.reset, password=args.password, quiet=False)
    print(json.dumps({k: v for k, v in result.items() if k != "users"}, indent=1))
    print(f"{result['rows']} rows in {result['seconds']} s: {result['rows_per_s']} rows/s")


if __name__ == "__main__":
    main()
