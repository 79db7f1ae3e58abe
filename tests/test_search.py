"""The search box: record rules, phones however typed, Cyrillic and Chinese, the API's field
messages, the index kept in step with writes, and statements that don't grow with rows."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, text

from conveyor import crm
from conveyor.extensions import db
from conveyor.models import Contact, Customer, User
from conveyor.search.index import SearchIndex, SearchSetupError, ensure_pg_trgm
from conveyor.search.terms import QueryError, parse, phone_variants
from conveyor.testing import client_as, token_headers


def add(app: Any, owner: str, name: str, tax_id: str = "", contact: dict | None = None,
        deal: str | None = None) -> int:
    with app.app_context():
        user = db.session.get(User, app.config["TEST_USER_IDS"][owner])
        customer = crm.create_customer({"name": name, "tax_id": tax_id}, user)
        if contact:
            db.session.add(Contact(customer_id=customer.id, **contact))
        if deal:
            crm.create_deal({"customer_id": customer.id, "title": deal}, user)
        db.session.commit()
        return customer.id


def found(app: Any, username: str, q: str) -> dict[str, list[str]]:
    """Titles found per kind through the API, as ``username``."""
    response = client_as(app, username).get("/api/v1/search", query_string={"q": q})
    assert response.status_code == 200, response.get_json()
    return {g["kind"]: [h["title"] for h in g["hits"]] for g in response.get_json()["groups"]}


class MigrationOp:
    """What a migration's ``op`` offers the index helpers, on the session's connection."""

    def get_bind(self) -> Any:
        return db.session.connection()

    def execute(self, statement: str) -> None:
        db.session.connection().execute(text(statement))


@pytest.fixture
def company(app):
    add(app, "seller", "Romashka Trading", "7701234567",
        {"name": "Ivan Petrov", "phone": "+7 (495) 123-45-67", "email": "ivan@romashka.example"},
        deal="Pumps for Romashka")
    add(app, "seller2", "Vasilek Foods", "7709999999",
        {"name": "Olga Smirnova", "phone": "8 812 555 12 34", "email": "olga@vasilek.example"},
        deal="Vasilek boilers")
    add(app, "seller3", "Southern Romashka", "5501000000")
    return app


def test_a_seller_finds_only_their_own_records(company):
    mine = found(company, "seller", "Romashka")
    assert mine["customers"] == ["Romashka Trading"]
    assert mine["deals"] == ["Pumps for Romashka"]
    assert found(company, "seller", "Vasilek") == {"customers": [], "contacts": [], "deals": []}
    assert found(company, "seller2", "Vasilek")["customers"] == ["Vasilek Foods"]
    assert found(company, "seller", "olga@vasilek")["contacts"] == []


def test_the_manager_finds_the_team_and_the_admin_everyone(company):
    assert sorted(found(company, "manager", "Romashka")["customers"]) == ["Romashka Trading"]
    assert sorted(found(company, "admin", "Romashka")["customers"]) == [
        "Romashka Trading", "Southern Romashka"]


def test_marketer_and_telemarketer_per_their_rules(company):
    marketer = found(company, "marketer", "Romashka")  # scope all, no deals.view
    assert sorted(marketer["customers"]) == ["Romashka Trading", "Southern Romashka"]
    assert "deals" not in marketer
    add(company, "telemarketer", "Romashka Calls")
    telemarketer = found(company, "telemarketer", "Romashka")  # own records, no deals
    assert telemarketer == {"customers": ["Romashka Calls"], "contacts": []}


@pytest.mark.parametrize("typed", ["+7 (495) 123-45-67", "+74951234567", "84951234567",
                                   "8 (495) 123 45 67", "495 123-45-67", "4951234567",
                                   "74951234567"])
def test_a_phone_is_found_however_it_is_typed(company, typed):
    assert found(company, "seller", typed)["contacts"] == ["Ivan Petrov"]


def test_a_phone_stored_with_a_trunk_prefix_is_found_in_international_form(company):
    assert found(company, "seller2", "+7 812 555-12-34")["contacts"] == ["Olga Smirnova"]


def test_email_and_tax_id(company):
    assert found(company, "seller", "IVAN@romashka.example")["contacts"] == ["Ivan Petrov"]
    assert found(company, "seller", "7701234567")["customers"] == ["Romashka Trading"]
    assert found(company, "seller", "770123")["customers"] == ["Romashka Trading"]


def test_words_in_any_order_and_case(company):
    assert found(company, "seller", "petrov IVAN")["contacts"] == ["Ivan Petrov"]
    assert found(company, "seller", "trading romash")["customers"] == ["Romashka Trading"]


def test_cyrillic_and_chinese_names(app):
    add(app, "seller", "ООО «Ромашка»", contact={"name": "Пётр Иванов"})
    add(app, "seller", "北京星光科技有限公司", contact={"name": "王伟"})
    assert found(app, "seller", "ромашк")["customers"] == ["ООО «Ромашка»"]
    assert found(app, "seller", "РОМАШКА")["customers"] == ["ООО «Ромашка»"]
    assert found(app, "seller", "иванов")["contacts"] == ["Пётр Иванов"]
    assert found(app, "seller", "星光科技")["customers"] == ["北京星光科技有限公司"]
    assert found(app, "seller", "星光")["customers"] == ["北京星光科技有限公司"]  # 2 characters
    assert found(app, "seller", "王伟")["contacts"] == ["王伟"]


def test_the_index_follows_updates_and_deletes(company):
    with company.app_context():
        customer = db.session.scalar(db.select(Customer).where(Customer.name == "Romashka Trading"))
        crm.update_customer(customer, {"name": "Lilac Trading"}, customer.owner)
        db.session.commit()
    assert found(company, "seller", "Romashka")["customers"] == []
    assert found(company, "seller", "Lilac")["customers"] == ["Lilac Trading"]
    with company.app_context():
        db.session.execute(delete(Contact).where(Contact.name == "Ivan Petrov"))
        db.session.commit()
    assert found(company, "seller", "4951234567")["contacts"] == []


@pytest.mark.parametrize("q", ["", "  ", "ab", "x" * 101, "\x00\x00\x00", "a\x00"])
def test_api_refuses_empty_short_or_long_queries_with_a_field_message(app, q):
    response = client_as(app, "seller").get("/api/v1/search", query_string={"q": q})
    assert response.status_code == 422
    assert response.get_json()["errors"]["query"]["q"][0]


def test_api_needs_a_query_and_shows_only_kinds_the_caller_may_see(app, api_headers):
    response = client_as(app, "seller").get("/api/v1/search")
    assert response.status_code == 422 and "q" in response.get_json()["errors"]["query"]
    response = client_as(app, "marketer").get("/api/v1/search?q=abc&kind=deals")
    assert response.status_code == 200 and response.get_json()["groups"] == []
    assert app.test_client().get("/api/v1/search?q=abc").status_code == 401


def test_api_shape_with_a_token(company):
    response = company.test_client().get("/api/v1/search?q=romashka&kind=contacts",
                                         headers=token_headers(company, "seller"))
    assert response.status_code == 404 or response.status_code == 200
    body = company.test_client().get("/api/v1/search?q=ivan@romashka",
                                     headers=token_headers(company, "seller")).get_json()
    contacts = next(g for g in body["groups"] if g["kind"] == "contacts")
    assert contacts["count"] == 1 and contacts["more"] is False
    hit = contacts["hits"][0]
    assert hit["phones"] == ["+7 (495) 123-45-67"] and hit["emails"] == ["ivan@romashka.example"]
    assert hit["url"].startswith("/customers/")
    assert [g["kind"] for g in body["groups"]] == ["customers", "contacts", "deals"]


def test_results_page_groups_with_counts_and_links(company):
    client = client_as(company, "seller")
    html = client.get("/search/?q=romashka").get_data(as_text=True)
    assert 'id="search-customers"' in html and 'id="search-deals"' in html
    assert "Romashka Trading" in html and "Pumps for Romashka" in html
    assert "Southern Romashka" not in html
    html = client.get("/search/?q=495 123").get_data(as_text=True)
    assert 'href="tel:+74951234567"' in html and 'href="mailto:ivan@romashka.example"' in html
    response = client.get("/search/?q=ab")
    assert response.status_code == 400 and 'class="field-error"' in response.get_data(as_text=True)
    assert client.get("/search/").status_code == 200


def test_suggestions_json(company):
    client = client_as(company, "seller")
    body = client.get("/search/suggest?q=Roma").get_json()
    assert body["groups"][0]["kind"] == "customers"
    assert body["groups"][0]["hits"][0]["title"] == "Romashka Trading"
    response = client.get("/search/suggest?q=a")
    assert response.status_code == 400 and response.get_json()["errors"]["q"]
    assert company.test_client().get("/search/suggest?q=Roma").status_code in (302, 401)


def test_the_header_has_the_box_and_its_script_carries_the_nonce(app):
    response = client_as(app, "seller").get("/")
    html = response.get_data(as_text=True)
    assert 'class="search-box"' in html and 'action="/search/"' in html
    nonce = response.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}" src="/static/search.js"' in html
    assert "onclick" not in html and "oninput" not in html


def test_customer_card_links_phones_and_emails(company):
    with company.app_context():
        customer_id = db.session.scalar(db.select(Customer.id).where(
            Customer.name == "Romashka Trading"))
    html = client_as(company, "seller").get(f"/customers/{customer_id}").get_data(as_text=True)
    assert 'href="tel:+74951234567"' in html and 'href="mailto:ivan@romashka.example"' in html


def test_statements_do_not_grow_with_rows(app, count_queries):
    add(app, "seller", "Acme 1", contact={"name": "Acme person"}, deal="Acme deal")
    client = client_as(app, "seller")
    client.get("/search/?q=acme")

    def statements() -> int:
        with count_queries() as q:
            assert client.get("/search/?q=acme").status_code == 200
        return len(q)

    few = statements()
    for i in range(25):
        add(app, "seller", f"Acme {i + 2}", contact={"name": f"Acme person {i}",
                                                     "phone": f"+7 900 000 00 {i:02d}"},
            deal=f"Acme deal {i}")
    assert statements() == few
    with count_queries() as q:
        client.get("/search/suggest?q=acme")
    assert len(q) <= few
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):  # the FTS table leads
        assert sum("FROM search_deals CROSS JOIN deals" in s for s in q) == 1


def test_odd_characters_are_searched_safely(company):
    for q in ('"Romashka', "Roma*", "NEAR(a b)", "100%_", "Ro\x00mashka", "a\\b'c", "-- x"):
        assert client_as(company, "seller").get("/api/v1/search",
                                                query_string={"q": q}).status_code == 200, q
    assert found(company, "seller", '"Romashka')["customers"] == []
    assert found(company, "seller", "Ro\x00mashka")["customers"] == ["Romashka Trading"]


def test_query_parsing():
    assert parse("  Ivan   Petrov ").groups == (("Ivan",), ("Petrov",))
    assert parse("Li Wu").groups == (("Li Wu",),)  # every word short: one substring
    assert parse("星光").short == ("星光",) and not parse("星光").groups
    assert parse("+7 (495) 123-45-67").phone
    assert "4951234567" in phone_variants("8 (495) 123-45-67")
    assert "1012345678" in phone_variants("+86 10 1234 5678")
    for bad, code in (("", "empty"), ("ab", "too_short"), ("x" * 101, "too_long")):
        with pytest.raises(QueryError) as error:
            parse(bad)
        assert error.value.code == code


class _Refusing:
    """A connection on which pg_trgm is installable but this user may not create it."""

    class dialect:  # noqa: N801
        name = "postgresql"

    def __init__(self, available: bool) -> None:
        self.available = available

    def execute(self, statement: Any) -> Any:
        sql = str(statement)
        if "CREATE EXTENSION" in sql:
            raise PermissionError("permission denied to create extension \"pg_trgm\"")
        value = {"pg_extension": None, "pg_available_extensions": 1 if self.available else None,
                 "current_database": "crm"}
        key = next(k for k in value if k in sql)
        return type("R", (), {"scalar": lambda self, v=value[key]: v})()

    def begin_nested(self) -> Any:
        from contextlib import nullcontext

        return nullcontext()


def test_a_database_without_pg_trgm_gets_a_clear_error():
    with pytest.raises(SearchSetupError, match="CREATE EXTENSION pg_trgm; in database 'crm'"):
        ensure_pg_trgm(_Refusing(available=True))
    with pytest.raises(SearchSetupError, match="postgresql-contrib"):
        ensure_pg_trgm(_Refusing(available=False))


def test_the_index_sql_per_database():
    index = SearchIndex("contacts", "contacts", ("name",), ("phone",))
    pg = index.create_statements("postgresql")
    assert pg[:2] == ["ALTER TABLE contacts ADD COLUMN IF NOT EXISTS search_doc_contacts text "
                      "COLLATE \"C\" GENERATED ALWAYS AS (lower((coalesce(name, '') || ' ' || "
                      "regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g')))) STORED",
                      "CREATE INDEX IF NOT EXISTS ix_search_contacts ON contacts USING gin "
                      "(search_doc_contacts gin_trgm_ops)"]
    assert "ALTER TABLE contacts ADD COLUMN IF NOT EXISTS search_pairs_contacts text[] GENERATED " \
        "ALWAYS AS (conveyor_search_tokens((coalesce(name, '') || ' ' || regexp_replace(" \
        "coalesce(phone, ''), '[^0-9]', '', 'g')))) STORED" in pg
    assert index.drop_statements("postgresql")[-1] == (
        "ALTER TABLE contacts DROP COLUMN IF EXISTS search_doc_contacts")
    sqlite = index.create_statements("sqlite")
    assert any("tokenize='trigram'" in s for s in sqlite)
    assert any("CREATE VIRTUAL TABLE search_contacts_pairs" in s for s in sqlite)
    assert sum(s.startswith("CREATE TRIGGER search_contacts_") for s in sqlite) == 3


def test_migrations_build_the_index_over_existing_rows(make_app):
    from conveyor import migrate

    app = make_app(seed=False)
    migrate.wipe(app)
    migrate.upgrade_all(app)
    with app.app_context():
        from conveyor.stages import ensure_default_pipeline

        ensure_default_pipeline(db.session)
        admin = User(username="root", roles=["admin"])
        db.session.add(admin)
        db.session.flush()
        crm.create_customer({"name": "Migrated Ltd", "tax_id": "1234567890"}, admin)
        db.session.commit()
        app.config["TEST_USER_IDS"] = {"root": admin.id}
    assert found(app, "root", "migrated")["customers"] == ["Migrated Ltd"]


def test_a_number_alone_is_not_looked_up_in_deal_titles(company, count_queries):
    add(company, "seller", "Numbers Ltd", deal="Order 4951234567")
    client = client_as(company, "seller")
    client.get("/search/?q=Romashka")
    with count_queries() as words:
        client.get("/search/?q=Romashka")
    with count_queries() as number:
        body = client.get("/api/v1/search?q=4951234567").get_json()
    assert {g["kind"]: g["count"] for g in body["groups"]} == {
        "customers": 0, "contacts": 1, "deals": 0}
    with count_queries() as number:
        client.get("/search/?q=4951234567")
    assert len(number) == len(words) - 1


def test_the_index_is_led_by_the_rarest_part_and_the_rest_checked():
    from conveyor.search.terms import index_plan

    plan = index_plan(parse("contact2718@example.com"))  # "com", "exa" are in every contact
    assert plan.match == (("2718",),) and plan.check == (("contact2718@example.com",),)
    assert index_plan(parse("ivan@romashka.example")).match == (("ivan",),)
    phone = index_plan(parse("+7 (495) 123-45-67"))  # a number by its tail
    assert phone.match == (("34567",),) and "4951234567" in phone.check[0]
    named = index_plan(parse("Silver Systems 1374"))
    assert named.match == (("1374",),) and named.check == (("Silver",), ("Systems",))
    assert index_plan(parse("Kuznetsov")) == type(named)((("Kuznetsov",),), ())
    mixed = index_plan(parse("Иван Petrov"))  # LIKE would not fold Cyrillic case: indexed
    assert mixed.match == (("Petrov",), ("Иван",)) and mixed.check == ()


def test_postgresql_looks_up_every_word_and_a_typed_address_or_number_by_its_rare_part():
    """PostgreSQL's planner intersects the words' trigram lists or walks the newest records,
    from its statistics: every word stays in the index (two words common apart and never
    together, tested only on one's candidates, had it walk every deal); an e-mail or a phone
    goes by its rare part, its whole form tested on the candidates."""
    from conveyor.search.terms import trigram_plan

    words = trigram_plan(parse("Software Silver"))
    assert words.match == (("Software",), ("Silver",)) and words.check == ()
    mail = trigram_plan(parse("contact2718@example.com Kuznetsov"))
    assert mail.match == (("2718",), ("Kuznetsov",))
    assert mail.check == (("contact2718@example.com",),)
    phone = trigram_plan(parse("+7 (495) 123-45-67"))
    assert phone.match == (("34567",),) and "4951234567" in phone.check[0]


def test_any_lead_plans_the_same_groups():
    from conveyor.search.terms import index_plan, lead_keys

    terms = parse("Silver Systems 1374")
    assert lead_keys(terms) == (("1374",), ("Systems",), ("Silver",))  # digits, then longest
    assert index_plan(terms) == index_plan(terms, 0)
    assert index_plan(terms, 2) == type(index_plan(terms))((("Silver",),),
                                                            (("Systems",), ("1374",)))
    assert lead_keys(parse("Kuznetsov")) == (("Kuznetsov",),)
    email = parse("contact2718@example.com")  # "2718" is in deal titles, "t2718" isn't
    assert lead_keys(email) == (("2718",), ("t2718",))
    assert index_plan(email, 1).match == (("t2718",),)
    assert index_plan(email, 1).check == index_plan(email).check == (email.groups[0],)
    assert lead_keys(parse("2718contact")) == (("2718",), ("2718c",))
    assert lead_keys(parse("+7 (495) 123-45-67")) == (("34567",),)  # a phone: not widened
    assert lead_keys(parse("Иван Petrov")) == (("Petrov",),)


@pytest.fixture
def numbered(app):
    """"1374" is in one customer's name but in several contacts' phones and deals' titles;
    "Silver" in two customers' names and in no contact or deal."""
    add(app, "seller", "Silver Systems 1374", contact={"name": "Anna Volkova",
                                                       "phone": "+1 555 000-1374"},
        deal="Order #951374")
    add(app, "seller", "Silver Lining", contact={"name": "Boris Orlov", "phone": "+1 555 7713742"},
        deal="Order #1374")
    add(app, "seller", "Oak Systems", contact={"name": "Silvia Systemsky",
                                               "phone": "+1 555 2221374"}, deal="Order #21374")
    add(app, "seller2", "Systems of Silver", contact={"name": "Olga Kim",
                                                      "email": "systems1374@silver.example"})
    return app


QUERIES = ["Silver Systems 1374", "Silver 1374", "Systems 1374", "1374 Order",
           "Silver Lining", "Anna 1374", "Kim silver", "systems1374 Olga", "Orlov 13742",
           "systems1374@silver.example", "SYSTEMS1374", "#951374", "r #1374"]


def _matching(fts: str, key: tuple[str, ...]) -> int:
    from conveyor.search.terms import fts_match

    return db.session.execute(text(f"SELECT count(*) FROM {fts} WHERE {fts} MATCH :m"),
                              {"m": fts_match((key,))}).scalar()


@pytest.mark.parametrize("q", QUERIES)
def test_each_index_is_led_by_a_key_it_holds_no_record_for(numbered, q):
    """Per index, counted by brute force: when the index holds no record for some key, such a
    key leads (the rarest there: none); when it holds every key, the one that looks rarest
    (digits first, the same for every index)."""
    if not numbered.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("PostgreSQL's trigram index has no lead")
    from conveyor.search.engine import index_leads, visible_kinds
    from conveyor.search.terms import lead_keys

    terms = parse(q)
    keys = lead_keys(terms)
    with numbered.test_request_context():
        admin = db.session.get(User, numbered.config["TEST_USER_IDS"]["admin"])
        kinds = visible_kinds(admin)
        leads = index_leads(terms, kinds)
        for kind in kinds:
            counts = [_matching(kind.index.fts_table, key) for key in keys]
            lead = leads.get(kind.name, 0)
            absent = [i for i, n in enumerate(counts) if i and not n]
            assert lead == (absent[0] if absent else 0), (kind.name, keys, counts, lead)
            if 0 in counts:
                assert counts[lead] == 0, (kind.name, keys, counts, lead)


def test_the_probe_picks_a_different_lead_per_index(numbered):
    if not numbered.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("PostgreSQL's trigram index has no lead")
    from conveyor.search.engine import index_leads, visible_kinds

    with numbered.test_request_context():
        admin = db.session.get(User, numbered.config["TEST_USER_IDS"]["admin"])
        leads = index_leads(parse("Lining 1374"), visible_kinds(admin))
        email = index_leads(parse("systems1374@silver.example"), visible_kinds(admin))
    assert leads == {"contacts": 1, "deals": 1}  # customers: "1374" is in fewer than "Lining"
    assert email == {"customers": 1, "deals": 1}  # "s1374" is in a contact's e-mail only


@pytest.mark.parametrize("username", ["seller", "seller2", "admin"])
def test_the_hits_are_those_of_one_lead_for_every_index(numbered, username, monkeypatch):
    from conveyor.search import engine

    client = client_as(numbered, username)

    def answers() -> list[Any]:
        return [client.get("/api/v1/search", query_string={"q": q, "per_kind": per_kind})
                .get_json() for q in QUERIES for per_kind in (1, 10)]

    chosen = answers()
    monkeypatch.setattr(engine, "index_leads", lambda terms, kinds: {})
    assert answers() == chosen
    assert any(g["hits"] for answer in chosen for g in answer["groups"])


def test_words_checked_on_the_candidates_still_narrow_the_hits(company):
    assert found(company, "admin", "Romashka 12345")["customers"] == ["Romashka Trading"]
    assert found(company, "admin", "Vasilek 12345").get("customers", []) == []
    assert found(company, "admin", "ivan@romashka.example")["contacts"] == ["Ivan Petrov"]
    assert found(company, "admin", "IVAN@ROMASHKA.EXAMPLE")["contacts"] == ["Ivan Petrov"]
    assert found(company, "admin", "ivan@vasilek.example").get("contacts", []) == []


def test_counts_stop_at_twenty_or_at_the_hits_asked_for(app):
    for i in range(23):
        add(app, "seller", f"Counted {i}")
    client = client_as(app, "seller")

    def group(per_kind: int) -> dict:
        body = client.get("/api/v1/search", query_string={"q": "Counted", "per_kind": per_kind,
                                                          "kind": "customers"}).get_json()
        return body["groups"][0]

    few = group(3)
    assert (few["count"], few["more"], len(few["hits"])) == (20, True, 3)
    many = group(22)
    assert (many["count"], many["more"], len(many["hits"])) == (22, True, 22)
    assert (group(30)["count"], group(30)["more"]) == (23, False)


def test_newest_first_whichever_way_the_index_is_keyed(app):
    """The index made since 2026-12-03 is keyed by the negated id (FTS5 reads it forwards); an
    index a plugin built before, keyed by the id, gives the same hits until its migration makes
    it again (``rebuild_with_negated_rowids``)."""
    from sqlalchemy import text

    from conveyor.search.index import negated_rowids, rebuild_with_negated_rowids
    from conveyor.search.kinds import CUSTOMERS_INDEX

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("the FTS5 index is SQLite's")
    for i in range(12):
        add(app, "seller", f"Keyed {i:02d}")
    newest = [f"Keyed {i:02d}" for i in range(11, 6, -1)]
    client = client_as(app, "seller")

    def titles() -> list[str]:
        body = client.get("/api/v1/search", query_string={
            "q": "Keyed", "per_kind": 5, "kind": "customers"}).get_json()
        return [h["title"] for h in body["groups"][0]["hits"]]

    assert titles() == newest
    fts, view = CUSTOMERS_INDEX.fts_table, CUSTOMERS_INDEX.source_view
    with app.app_context():
        connection = db.session.connection()
        assert negated_rowids(connection, CUSTOMERS_INDEX) is True
        for statement in CUSTOMERS_INDEX.drop_statements("sqlite"):  # as built before
            connection.execute(text(statement))
        connection.execute(text(f"CREATE VIEW {view} AS SELECT id, "
                                f"{CUSTOMERS_INDEX.document('sqlite')} AS doc FROM customers"))
        connection.execute(text(f"CREATE VIRTUAL TABLE {fts} USING fts5(doc, content='{view}', "
                                f"content_rowid='id', tokenize='trigram')"))
        connection.execute(text(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')"))
        db.session.commit()
        assert negated_rowids(db.session.connection(), CUSTOMERS_INDEX) is False
    app.extensions.pop("conveyor_search_layout", None)  # the app learns it once
    assert titles() == newest

    with app.app_context():
        rebuild_with_negated_rowids(MigrationOp(), CUSTOMERS_INDEX)
        db.session.commit()
        assert negated_rowids(db.session.connection(), CUSTOMERS_INDEX) is True
    app.extensions.pop("conveyor_search_layout", None)
    assert titles() == newest


def test_postgresql_searches_the_stored_document_or_an_older_index_on_the_expression(company):
    """Since 2026-12-04 PostgreSQL's index is over the document stored lower-cased (a ``LIKE``
    per candidate instead of computing the expression and ``ILIKE``); an index a plugin built
    before, on the expression, gives the same hits until its migration makes it again
    (``rebuild_with_stored_document``)."""
    from conveyor.search.index import rebuild_with_stored_document, stored_document
    from conveyor.search.kinds import CONTACTS_INDEX

    with company.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the stored document is PostgreSQL's")
    add(company, "seller", "Кузнецов и партнёры",
        contact={"name": "Анна Кузнецова", "phone": "+7 (495) 765-43-21",
                 "email": "Anna.K@kuznetsov.example"})
    cases = [("Petrov", "contacts", ["Ivan Petrov"]), ("кузнецова", "contacts", ["Анна Кузнецова"]),
             ("ANNA.K@KUZNETSOV.EXAMPLE", "contacts", ["Анна Кузнецова"]),
             ("8 495 765 43 21", "contacts", ["Анна Кузнецова"]),
             ("КУЗНЕЦОВ", "customers", ["Кузнецов и партнёры"]),
             ("anna.k@romashka.example", "contacts", [])]

    def hits() -> list[list[str]]:
        return [found(company, "seller", q).get(kind, []) for q, kind, _ in cases]

    assert hits() == [want for _, _, want in cases]
    with company.app_context():
        connection = db.session.connection()
        assert stored_document(connection, CONTACTS_INDEX) is True
        for statement in CONTACTS_INDEX.drop_statements("postgresql"):  # as built before
            connection.execute(text(statement))
        connection.execute(text(f"CREATE INDEX {CONTACTS_INDEX.pg_index} ON contacts USING gin "
                                f"({CONTACTS_INDEX.document('postgresql')} gin_trgm_ops)"))
        db.session.commit()
        assert stored_document(db.session.connection(), CONTACTS_INDEX) is False
    company.extensions.pop("conveyor_search_layout", None)  # the app learns it once
    assert hits() == [want for _, _, want in cases]

    with company.app_context():
        rebuild_with_stored_document(MigrationOp(), CONTACTS_INDEX)
        db.session.commit()
        assert stored_document(db.session.connection(), CONTACTS_INDEX) is True
    company.extensions.pop("conveyor_search_layout", None)
    assert hits() == [want for _, _, want in cases]


def test_the_results_page_counts_as_far_as_it_shows(app):
    """Ten hits a group, counted up to ten ("10+", a link to the group's own page): every
    match counted is a row read and checked, so the page reads no more than it can show."""
    for i in range(12):
        add(app, "seller", f"Counted {i}")
    client = client_as(app, "seller")
    html = client.get("/search/?q=Counted").get_data(as_text=True)
    assert '<span class="badge">10+</span>' in html
    assert html.count('class="search-title"') == 10
    assert "kind=customers" in html
    html = client.get("/search/?q=Counted&kind=customers").get_data(as_text=True)
    assert '<span class="badge">12</span>' in html and html.count('class="search-title"') == 12


def test_optimize_merges_each_index_into_one_segment_with_the_same_hits(company):
    """``conveyor search optimize``: rows added one transaction at a time leave the FTS5 index
    in several segments (each searched on every lookup); merged into one, a seller and the
    admin find the same records in the same order. PostgreSQL: nothing to do."""
    from conveyor.search.index import fts_segments

    app = company
    for i in range(6):  # a segment per transaction
        add(app, "seller", f"Segmented {i:02d}", contact={"name": f"Segmented Person {i}"},
            deal=f"Segmented deal {i}")
    before = {who: found(app, who, "Segmented") for who in ("seller", "seller2", "admin")}
    assert before["seller"]["customers"][0] == "Segmented 05"
    assert not any(before["seller2"].values())
    with app.app_context():
        sqlite = db.engine.dialect.name == "sqlite"
        if sqlite:
            assert fts_segments(db.session.connection(), "search_customers") > 1
    result = app.test_cli_runner().invoke(args=["search", "optimize"])
    assert result.exit_code == 0, result.output
    if sqlite:
        for fts in ("search_customers", "search_contacts", "search_deals"):
            assert f"{fts}: " in result.output and result.output.count(" -> 1") >= 3
        with app.app_context():
            connection = db.session.connection()
            assert all(fts_segments(connection, fts) == 1
                       for fts in ("search_customers", "search_contacts", "search_deals"))
    else:
        assert "Nothing to optimize" in result.output
    assert {who: found(app, who, "Segmented") for who in before} == before
    add(app, "seller", "Segmented 06")  # the triggers still keep it current
    assert found(app, "seller", "Segmented")["customers"][0] == "Segmented 06"
