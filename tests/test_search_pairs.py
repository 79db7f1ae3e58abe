"""Word pairs: a query of words common apart and rare together is answered from the pairs of
each record's words — with the same hits as the trigram index gives, whatever the words are
part of, however records change, on both databases."""
from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import text

from conveyor import crm
from conveyor.extensions import db
from conveyor.models import Contact, Customer, Deal, User
from conveyor.search import engine
from conveyor.search.pairs import (
    ASCII_WORD,
    MANY,
    MAX_WORDS,
    bigrams,
    pair_document,
    pair_words,
    query_bigrams,
    token_document,
    widened_pairs,
    words,
)
from conveyor.search.terms import parse
from conveyor.testing import client_as


def found(app: Any, username: str, q: str) -> dict[str, list[str]]:
    response = client_as(app, username).get("/api/v1/search", query_string={"q": q})
    assert response.status_code == 200, response.get_json()
    return {g["kind"]: sorted(h["title"] for h in g["hits"]) for g in response.get_json()["groups"]}


def add(app: Any, name: str, deal: str, contact: str = "", owner: str = "admin") -> None:
    with app.app_context():
        user = db.session.get(User, app.config["TEST_USER_IDS"][owner])
        customer = crm.create_customer({"name": name}, user)
        if contact:
            db.session.add(Contact(customer_id=customer.id, name=contact))
        crm.create_deal({"customer_id": customer.id, "title": deal}, user)
        db.session.commit()


# Words inside others ("train" in "retraining", "soft" in "software"), a word holding two
# ("softtrain"), other scripts beside them, digits between letters.
TITLES = ("Software training", "Software licence", "Retraining of staff", "Softtrain kit",
          "Hardware training 2026", "software-TRAINING day", "Soft skills", "Обучение software",
          "licence7training", "Trainer for Software", "Staff licence", "Поставка оборудования",
          "ОБОРУДОВАНИЕ для склада", "Поставка услуг", "Ёлочные игрушки", "Переобучение staff")


@pytest.fixture
def catalogue(app):
    for i, title in enumerate(TITLES):
        add(app, f"Customer {title}", title, contact=f"Ivan {title.split()[0]}")
    return app


def test_a_document_lists_its_words_and_their_pairs():
    assert words("Ivan PETROV ivan.petrov@mail.example +7 495 ab") == [
        "example", "ivan", "mail", "petrov"]
    assert words("Обучение software2026x ЁЛКА ab") == ["software", "обучение", "ёлка"]  # code point order
    assert pair_document("Software training") == (
        "software_software software_training training_training")
    assert pair_document("ab 12") == ""
    many = " ".join(f"w{chr(97 + i)}{chr(97 + i)}x" for i in range(MAX_WORDS + 1))
    assert pair_document(many) == MANY
    assert widened_pairs(["training", "retraining"], ["software"]) == (
        MANY, "retraining_software", "software_training")


def test_only_queries_of_two_or_more_plain_words_use_the_pairs():
    def plan(q: str) -> Any:
        terms = parse(q)
        return pair_words(terms.groups, terms.phone)

    assert plan("Software training") == ("software", "training")
    assert plan("soft ware of training") == ("training", "soft")
    assert plan("Software") is None
    assert plan("Software 2026") is None  # a number leads the trigram index better
    assert plan("ivan@mail.example petrov") is None
    assert plan("Обучение software") == ("обучение", "software")  # Russian words too
    assert plan("Обучение 华为技术") is None
    assert plan("software Software") is None  # one word twice
    assert plan("+7 495 123 45 67") is None


def _both_ways(app: Any, username: str, q: str, monkeypatch: Any) -> tuple[Any, Any]:
    by_pairs = found(app, username, q)
    with monkeypatch.context() as m:
        m.setattr(engine, "pair_words", lambda groups, phone: None)
        by_trigrams = found(app, username, q)
    return by_pairs, by_trigrams


QUERIES = ["Software training", "training software", "train soft", "soft train", "ware rain",
           "licence training", "licence staff", "Retraining staff", "Customer training",
           "Ivan training", "Ivan Soft", "nothing training", "trainer software", "kit soft",
           "software training day", "Software Обучение", "tra sof", "soft skills customer",
           "поставка оборудования", "ПОСТАВКА обор", "склада оборудование", "обучение staff",
           "учение STAFF", "ёлочные игрушки", "поставка склада", "оборудование Ivan"]


@pytest.mark.parametrize("q", QUERIES)
def test_the_pairs_find_what_the_trigrams_find(catalogue, q, monkeypatch):
    by_pairs, by_trigrams = _both_ways(catalogue, "admin", q, monkeypatch)
    assert by_pairs == by_trigrams, q


def test_russian_words_are_paired_and_tested_whatever_their_case(catalogue, count_queries):
    assert found(catalogue, "admin", "ПОСТАВКА обор")["deals"] == ["Поставка оборудования"]
    assert found(catalogue, "admin", "оборудование склада")["deals"] == [
        "ОБОРУДОВАНИЕ для склада"]
    assert found(catalogue, "admin", "учение staff")["deals"] == ["Переобучение staff"]
    client = client_as(catalogue, "admin")
    with count_queries() as seen:
        client.get("/api/v1/search", query_string={"q": "поставка услуг"})
    assert sum("_pairs" in s for s in seen) == 3  # each kind from its pairs


def test_words_inside_longer_words_and_one_word_holding_both(catalogue):
    hits = found(catalogue, "admin", "train soft")["deals"]
    assert hits == sorted(["Software training", "Softtrain kit", "software-TRAINING day",
                           "Trainer for Software"])
    assert found(catalogue, "admin", "licence training")["deals"] == ["licence7training"]
    assert found(catalogue, "admin", "nothing training") == {
        "customers": [], "contacts": [], "deals": []}


def test_a_record_of_many_words_is_still_found(app):
    title = " ".join(f"Part{chr(97 + i)}x" for i in range(MAX_WORDS + 2)) + " gearbox valves"
    add(app, "Many Words Ltd", title)
    assert found(app, "admin", "gearbox valves")["deals"] == [title]
    assert found(app, "admin", "partax valves")["deals"] == [title]


def test_record_rules_apply_to_pair_searches(app):
    add(app, "Mine Ltd", "Boiler service", owner="seller")
    add(app, "Theirs Ltd", "Boiler service", owner="seller2")
    assert found(app, "seller", "boiler service")["deals"] == ["Boiler service"]
    assert found(app, "admin", "boiler service")["deals"] == ["Boiler service", "Boiler service"]


def test_the_pairs_and_the_vocabulary_follow_writes(app):
    add(app, "Quokka Holdings", "Wombat feeders")
    assert found(app, "admin", "wombat feeders")["deals"] == ["Wombat feeders"]
    with app.app_context():
        deal = db.session.query(Deal).filter_by(title="Wombat feeders").one()
        deal.title = "Platypus feeders"
        customer = db.session.query(Customer).filter_by(name="Quokka Holdings").one()
        customer.name = "Echidna Holdings"
        db.session.commit()
    assert found(app, "admin", "wombat feeders")["deals"] == []
    assert found(app, "admin", "platypus feeders")["deals"] == ["Platypus feeders"]
    assert found(app, "admin", "echidna holdings")["customers"] == ["Echidna Holdings"]
    with app.app_context():
        db.session.delete(db.session.query(Deal).filter_by(title="Platypus feeders").one())
        db.session.commit()
        kept = db.session.execute(text(
            "SELECT count(*) FROM search_words WHERE word IN ('platypus', 'echidna')")).scalar()
        assert kept == 2  # the vocabulary only grows: a word no record holds finds nothing
    assert found(app, "admin", "platypus feeders")["deals"] == []


def test_a_word_in_no_record_answers_without_reading_any_kind(catalogue, count_queries):
    client = client_as(catalogue, "admin")
    client.get("/api/v1/search?q=software+training")
    with count_queries() as seen:
        assert client.get("/api/v1/search?q=software+zanzibar").status_code == 200
    searched = [s for s in seen if "search_" in s]
    assert len(searched) == 1, searched  # the vocabulary, no kind's statement
    with count_queries() as seen:
        client.get("/api/v1/search?q=software+training")
    assert len([s for s in seen if "search_" in s]) == 4  # the vocabulary and three kinds


def test_a_word_in_too_many_words_is_searched_by_its_trigrams(app, count_queries):
    for i, letters in enumerate(itertools.islice(itertools.permutations("bcdfg", 3), 20)):
        add(app, f"Son Co {i}", f"{''.join(letters)}son supply")
    client = client_as(app, "admin")

    def pairs_read(q: str) -> tuple[int, int]:
        with count_queries() as seen:
            response = client.get("/api/v1/search", query_string={"q": q})
        deals = next(g for g in response.get_json()["groups"] if g["kind"] == "deals")
        return len(deals["hits"]), sum("pairs" in s for s in seen)

    assert pairs_read("son supply") == (10, 0)  # "son" widens to 20 words: trigrams answer
    assert pairs_read("bcdson supply") == (1, 3)


def test_postgresql_reads_words_as_python_does(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("PostgreSQL's functions")
    documents = ["Ivan PETROV ivan.petrov@mail.example +7 495 ab", "Обучение software2026x",
                 "abc abc ABC", "", "a_b zz zzz Zzzz", " ".join(f"w{c}{c}x" for c in
                                                               "abcdefghijklmnopq"),
                 "华为技术有限公司 Huawei tech 北京 张 𠀀𠀁", "ＡＢＣ公司，上海。",
                 "ЁЛКА Ёжик щука ООО «Ромашка» Zz"]
    with app.app_context():
        for document in documents:
            got = db.session.execute(text(
                "SELECT conveyor_search_words(:d), conveyor_search_pairs(:d), "
                "conveyor_search_tokens(:d)"), {"d": document}).one()
            assert list(got[0]) == words(document), document
            assert sorted(got[1]) == sorted(pair_document(document, ASCII_WORD).split())
            assert sorted(got[2]) == sorted(token_document(document).split()), document


def test_postgresql_reads_a_common_pair_newest_first_and_a_rare_one_at_once(app, monkeypatch,
                                                                             count_queries):
    """A pair among the column's most common elements is read down the newest records; one the
    statistics don't list (none holds it, or too few to be listed), through the GIN index at
    once — left to the planner, a pair no record holds was read down every record."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("PostgreSQL's statistics")
    for i in range(12):
        add(app, f"Gamma {i}", "Gamma widget")
    add(app, "Delta", "Delta widget")
    monkeypatch.setattr(engine, "COMMON_PAIR_ROWS", 5)
    with app.app_context():
        db.session.execute(text("ANALYZE deals"))
        db.session.commit()
        from conveyor.search.kinds import DEALS_INDEX

        assert engine.pairs_are_common(DEALS_INDEX, ("gamma_widget",))
        assert not engine.pairs_are_common(DEALS_INDEX, ("delta_gamma", "0many"))
    client = client_as(app, "admin")
    for q, hits, fenced in (("gamma widget", 10, False), ("widget delta", 1, True),
                            ("gamma delta", 0, True)):
        with count_queries() as seen:
            groups = client.get("/api/v1/search", query_string={"q": q}).get_json()["groups"]
        deals = next(g for g in groups if g["kind"] == "deals")
        statement = next(s for s in seen if "search_pairs_deals" in s)
        assert (len(deals["hits"]), "OFFSET" in statement) == (hits, fenced), q


# --- Chinese: two-character words through the bigrams ------------------------------------------


def test_a_document_lists_the_bigrams_of_its_chinese_runs():
    assert bigrams("华为技术 北京 张 Huawei") == ["为技", "北京", "华为", "技术"]
    assert bigrams("张 三 abc") == []
    assert token_document("Software 华为") == "software_software 华为"
    many = " ".join(f"w{chr(97 + i)}{chr(97 + i)}x" for i in range(MAX_WORDS + 1))
    assert token_document(many + " 北京") == f"{MANY} 北京"  # listed however many words
    assert query_bigrams(("北京", "张", "ab", "华为")) == ("北京", "华为")
    assert query_bigrams(("张", "ab", "北京市")) == ()


CHINESE = ("华为技术有限公司", "北京华为贸易", "上海物流", "华夏银行", "北京")


@pytest.fixture
def chinese(app):
    for name in CHINESE:
        add(app, name, f"{name} 合同", contact=f"张伟 {name}")
    return app


@pytest.mark.parametrize("q", ["华为", "北京", "合同", "张伟", "华为 北京", "技术", "华夏",
                               "上海 张伟", "银行 北京", "南京", "华 北京", "为技"])
def test_the_bigrams_find_what_a_scan_finds(chinese, q, monkeypatch):
    by_bigrams = found(chinese, "admin", q)
    with monkeypatch.context() as m:
        m.setattr(engine, "query_bigrams", lambda short: ())
        scanned = found(chinese, "admin", q)
    assert by_bigrams == scanned, q


def test_a_two_character_word_is_looked_up_in_the_bigrams(chinese, count_queries):
    assert found(chinese, "admin", "华为")["customers"] == ["北京华为贸易", "华为技术有限公司"]
    assert found(chinese, "admin", "北京")["deals"] == ["北京 合同", "北京华为贸易 合同"]
    client = client_as(chinese, "admin")
    with count_queries() as seen:
        client.get("/api/v1/search", query_string={"q": "南京"})
    statements = [s for s in seen if "search_" in s]
    assert len(statements) == 3 and all("pairs" in s for s in statements), statements


def test_the_bigrams_follow_writes_and_record_rules(app):
    add(app, "华为技术", "华为 服务器", owner="seller")
    add(app, "华为中国", "华为 交换机", owner="seller2")
    assert found(app, "seller", "华为")["deals"] == ["华为 服务器"]
    with app.app_context():
        customer = db.session.query(Customer).filter_by(name="华为技术").one()
        customer.name = "中兴通讯"
        db.session.commit()
    assert found(app, "admin", "华为")["customers"] == ["华为中国"]
    assert found(app, "admin", "中兴")["customers"] == ["中兴通讯"]
