"""Alembic histories: the core's and each plugin's, run by one shared env.

Runs on SQLite, and on PostgreSQL when CONVEYOR_TEST_DATABASE_URL is set (the database is wiped
before and after each test). Throwaway plugins written into a temporary folder test the mechanism
that the built-in plugins' own revisions rely on.
"""
from __future__ import annotations

import importlib
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text

from conveyor import create_app, migrate
from conveyor.cli import db_cli
from conveyor.extensions import db
from conveyor.plugin_loading import installed_plugins
from conveyor.schema import core_tables
from conveyor.stages import DEFAULT_STAGES

TEST_DB_ENV = "CONVEYOR_TEST_DATABASE_URL"

NOTES_MODELS = '''
from sqlalchemy import Boolean, ForeignKey, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from conveyor.extensions import NAMING_CONVENTION


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Folder(Base):
    __tablename__ = "{name}_folders"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    pinned: Mapped[bool] = mapped_column(Boolean, server_default="0")


class Note(Base):
    __tablename__ = "{name}_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    folder_id: Mapped[int] = mapped_column(ForeignKey("{name}_folders.id", ondelete="CASCADE"),
                                           index=True)
    body: Mapped[str] = mapped_column(Text)
'''
NOTES_PLUGIN = '''
from conveyor import Manifest, hookimpl

manifest = Manifest(title="{name}")


@hookimpl
def register_models():
    from .models import Folder, Note

    return [Folder, Note]
'''
# Revision 1: the tables as first released, ``title`` 40 characters, no ``pinned``.
NOTES_REV1 = '''
import sqlalchemy as sa
from alembic import op

revision = "{name}0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "{name}_folders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_{name}_folders")),
    )
    op.create_table(
        "{name}_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("folder_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["folder_id"], ["{name}_folders.id"],
                                name=op.f("fk_{name}_items_folder_id_{name}_folders"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_{name}_items")),
    )
    op.create_index(op.f("ix_{name}_items_folder_id"), "{name}_items", ["folder_id"])


def downgrade():
    op.drop_table("{name}_items")
    op.drop_table("{name}_folders")
'''
# Revision 2: widening a column makes SQLite rebuild the referenced table (copy, drop, rename).
NOTES_REV2 = '''
import sqlalchemy as sa
from alembic import op

revision = "{name}0002"
down_revision = "{name}0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("{name}_folders") as batch:
        batch.add_column(sa.Column("pinned", sa.Boolean(), server_default="0", nullable=False))
        batch.alter_column("title", type_=sa.String(length=120), existing_nullable=False)


def downgrade():
    with op.batch_alter_table("{name}_folders") as batch:
        batch.alter_column("title", type_=sa.String(length=40), existing_nullable=False)
        batch.drop_column("pinned")
'''


def write_plugin(root: Path, package: str, name: str, revisions: list[str]) -> Any:
    """A plugin package on sys.path with the notes models and the given revision sources."""
    pkg = root / package
    (pkg / "migrations" / "versions").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(NOTES_MODELS.format(name=name))
    (pkg / "plugin.py").write_text(NOTES_PLUGIN.format(name=name))
    for number, source in enumerate(revisions, 1):
        path = pkg / "migrations" / "versions" / f"{number:04d}_{name}.py"
        path.write_text(textwrap.dedent(source.format(name=name)))
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    return importlib.import_module(f"{package}.plugin")


@pytest.fixture(scope="session")
def plugins_root(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("migration_plugins")
    yield root
    if str(root) in sys.path:
        sys.path.remove(str(root))


@pytest.fixture(scope="session")
def notes(plugins_root: Path) -> Any:
    """A plugin 'notes' with two revisions."""
    return write_plugin(plugins_root, "cvtest_notes", "notes", [NOTES_REV1, NOTES_REV2])


@pytest.fixture
def make(tmp_path: Path) -> Any:
    """Apps on one database (SQLite in tmp_path, or the test PostgreSQL wiped around the test)."""
    url = os.environ.get(TEST_DB_ENV) or f"sqlite:///{tmp_path}/migrations.db"
    made: list[Any] = []

    def factory(plugins: list[str] = (), extra: list[tuple[str, Any]] = ()) -> Any:
        app = create_app(config={"database_url": url, "secret_key": "test", "testing": True,
                                 "ratelimit_enabled": False},
                         plugins=list(plugins), extra_plugins=list(extra),
                         instance_path=str(tmp_path / "instance"))
        if not made and os.environ.get(TEST_DB_ENV):
            migrate.wipe(app)
        made.append(app)
        return app

    yield factory
    if made and os.environ.get(TEST_DB_ENV):
        migrate.wipe(made[0])
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def tables(app: Any) -> set[str]:
    """The database's tables, without SQLite's search index (FTS5 tables and their shadow
    tables: conveyor.search.index), which no model declares."""
    with migrate.connection(app) as conn:
        return {t for t in inspect(conn).get_table_names() if not t.startswith("search_")}


def scalar(app: Any, sql: str) -> Any:
    with migrate.connection(app) as conn:
        return conn.execute(text(sql)).scalar()


def test_upgrade_on_an_empty_database_gives_exactly_the_core_models(make):
    app = make()
    migrate.upgrade_all(app)
    assert tables(app) == {t.name for t in core_tables()} | {"alembic_version"}
    assert migrate.drift(app) == []


def test_the_first_revision_holds_the_default_pipeline_and_no_user(make):
    app = make()
    migrate.upgrade_all(app)
    with migrate.connection(app) as conn:
        stages = conn.execute(text(
            "SELECT s.name, s.percent, s.is_won, s.is_lost FROM stages s JOIN pipelines p "
            "ON p.id = s.pipeline_id WHERE p.is_default ORDER BY s.position")).all()
        users = conn.execute(text("SELECT count(*) FROM users")).scalar()
    assert [(n, p, bool(w), bool(lost)) for n, p, w, lost in stages] == DEFAULT_STAGES
    assert users == 0  # no default account, so no default password


def test_upgrade_twice_changes_nothing(make):
    app = make()
    migrate.upgrade_all(app)
    before = (tables(app), scalar(app, "SELECT count(*) FROM stages"),
              scalar(app, "SELECT version_num FROM alembic_version"))
    lines: list[str] = []
    migrate.upgrade_all(app, lines.append)
    assert lines == [f"core: up to date at {before[2]}"]
    assert (tables(app), scalar(app, "SELECT count(*) FROM stages"),
            scalar(app, "SELECT version_num FROM alembic_version")) == before


BUILTIN = [name for name, ep in installed_plugins().items()
           if ep.value.startswith("conveyor.plugins.")]


def test_builtin_plugin_migrations_match_their_models(make):
    """Every built-in plugin that ships revisions: upgraded, its tables equal its models.

    A plugin author who changes a model without a revision (or writes one that drifts) is told
    here, with Alembic's list of differences."""
    app = make(plugins=BUILTIN)
    migrate.upgrade_all(app)
    drifted = {h.name: migrate.drift(app, h.name) for h in migrate.histories(app)}
    assert {name: diffs for name, diffs in drifted.items() if diffs} == {}
    assert [p for h in migrate.histories(app) for p in migrate.portability_problems(h)] == []
    state = app.extensions["conveyor"]
    for history in migrate.histories(app)[1:]:
        assert f"alembic_version_{history.name}" in tables(app)
        assert {t.__tablename__ for t in state.models.get(history.name, [])} <= tables(app)


def test_an_older_database_is_brought_up_without_loss(make, notes):
    app = make(extra=[("notes", notes)])
    migrate.upgrade(app)
    migrate.upgrade(app, "notes", "notes0001")
    with migrate.connection(app) as conn:
        conn.execute(text("INSERT INTO notes_folders (id, title) VALUES (1, 'Ideas')"))
        conn.execute(text("INSERT INTO notes_items (folder_id, body) VALUES (1, 'a'), (1, 'b')"))
    migrate.upgrade_all(app)
    with migrate.connection(app) as conn:
        folders = conn.execute(text("SELECT id, title, pinned FROM notes_folders")).all()
        bodies = conn.execute(text("SELECT body FROM notes_items ORDER BY body")).scalars().all()
    assert [(i, t, bool(p)) for i, t, p in folders] == [(1, "Ideas", False)]
    assert bodies == ["a", "b"]  # the folders table was rebuilt; its notes were not cascaded away
    assert migrate.drift(app, "notes") == []
    with app.app_context(), db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":  # foreign keys are back on for the app's connections
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_enabling_a_plugin_later_creates_only_its_tables(make, notes):
    core_app = make()
    migrate.upgrade_all(core_app)
    before = tables(core_app)
    core_version = scalar(core_app, "SELECT version_num FROM alembic_version")
    migrate.upgrade_all(make(extra=[("notes", notes)]))
    assert tables(core_app) - before == {"notes_folders", "notes_items", "alembic_version_notes"}
    assert scalar(core_app, "SELECT version_num FROM alembic_version") == core_version


def test_disabling_a_plugin_keeps_its_tables_and_rows(make, notes):
    with_notes = make(extra=[("notes", notes)])
    migrate.upgrade_all(with_notes)
    with migrate.connection(with_notes) as conn:
        conn.execute(text("INSERT INTO notes_folders (title) VALUES ('Kept')"))
    without = make()
    lines: list[str] = []
    migrate.upgrade_all(without, lines.append)
    assert [line.split(":")[0] for line in lines] == ["core"]
    assert scalar(without, "SELECT title FROM notes_folders") == "Kept"
    rows = {row["name"]: row for row in migrate.status(without)}
    assert rows["notes"]["enabled"] is False and rows["notes"]["current"] == ("notes0002",)


def test_downgrading_a_plugin_to_base_drops_only_its_tables(make, notes):
    app = make(extra=[("notes", notes)])
    migrate.upgrade_all(app)
    result = CliRunner().invoke(db_cli, ["downgrade", "--plugin", "notes", "base"],
                                obj=_script_info(app))
    assert result.exit_code == 0, result.output
    assert not {"notes_folders", "notes_items"} & tables(app)
    assert {t.name for t in core_tables()} <= tables(app)


def test_a_plugin_without_revisions_is_skipped_and_reported(make, plugins_root):
    bare = write_plugin(plugins_root, "cvtest_bare", "bare", [])
    app = make(extra=[("bare", bare)])
    lines: list[str] = []
    migrate.upgrade_all(app, lines.append)
    assert [h.name for h in migrate.histories(app)] == ["core"]
    assert "bare_folders" not in tables(app)
    assert any("'bare' declares tables but ships no migrations" in line for line in lines)


def test_revision_autogenerate_for_a_plugin_covers_only_its_tables(make, plugins_root, notes):
    """What a plugin author runs: conveyor db revision --plugin NAME -m MSG --autogenerate."""
    memo = write_plugin(plugins_root, "cvtest_memo", "memo", [])
    app = make(extra=[("notes", notes), ("memo", memo)])
    migrate.upgrade_all(app)
    result = CliRunner().invoke(db_cli, ["revision", "--plugin", "memo", "-m", "memo tables",
                                         "--autogenerate"], obj=_script_info(app))
    assert result.exit_code == 0, result.output
    files = [p for p in migrate.history_of(app, "memo").versions.iterdir() if p.suffix == ".py"]
    assert len(files) == 1
    source = files[0].read_text()
    assert "memo_folders" in source and "memo_items" in source
    assert "down_revision: str | Sequence[str] | None = None" in source
    assert "notes_" not in source and "'customers'" not in source
    assert "conveyor" not in source  # revisions import nothing of ours
    migrate.upgrade_all(app)
    assert migrate.drift(app, "memo") == []
    again = CliRunner().invoke(db_cli, ["revision", "--plugin", "memo", "-m", "nothing",
                                        "--autogenerate"], obj=_script_info(app))
    assert "No changes" in again.output
    check = CliRunner().invoke(db_cli, ["check"], obj=_script_info(app))
    assert check.exit_code == 0, check.output


def test_db_commands_name_a_plugin_that_is_not_enabled(make):
    app = make()
    result = CliRunner().invoke(db_cli, ["upgrade", "--plugin", "nosuch"], obj=_script_info(app))
    assert result.exit_code == 1
    assert "plugin 'nosuch' is not enabled" in result.output


def _script_info(app: Any) -> Any:
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)


def test_existing_users_get_a_session_stamp_each(make):
    """e5a1c0b7d3f4 on a database with users: each gets its own stamp, the column is then NOT
    NULL, and the users (and their roles) survive the rebuilt table."""
    app = make()
    migrate.upgrade(app, None, "d7a3c9e1f2b8")
    with migrate.connection(app) as conn:
        for name in ("ann", "bob"):
            conn.execute(text("INSERT INTO users (username, display_name, active, created_at) "
                              "VALUES (:n, '', :a, '2026-01-01 00:00:00')"),
                         {"n": name, "a": True})
        conn.execute(text("INSERT INTO user_roles (user_id, role) SELECT id, 'seller' FROM users"))
    migrate.upgrade_all(app)
    with migrate.connection(app) as conn:
        stamps = conn.execute(text("SELECT username, session_stamp FROM users ORDER BY username")
                              ).all()
        roles = conn.execute(text("SELECT count(*) FROM user_roles")).scalar()
    assert [u for u, _s in stamps] == ["ann", "bob"] and roles == 2
    assert all(s and len(s) == 32 for _u, s in stamps) and stamps[0][1] != stamps[1][1]
    assert "audit_log" in tables(app) and migrate.drift(app) == []


# A plugin revision rebuilding the core's searched tables, as a batch migration of them would
# on SQLite (copy, drop, rename), and renaming a customer meanwhile.
REBUILD_SEARCHED = '''
import sqlalchemy as sa
from alembic import op

revision = "{name}0002"
down_revision = "{name}0001"
branch_labels = None
depends_on = None

TABLES = ("customers", "contacts", "deals")


def upgrade():
    recreate = "always" if op.get_bind().dialect.name == "sqlite" else "auto"
    for table in TABLES:
        with op.batch_alter_table(table, recreate=recreate) as batch:
            batch.add_column(sa.Column("{name}_probe", sa.String(20)))
    op.execute("UPDATE customers SET name = 'Renamed Ltd' WHERE name = 'Before Ltd'")


def downgrade():
    recreate = "always" if op.get_bind().dialect.name == "sqlite" else "auto"
    for table in TABLES:
        with op.batch_alter_table(table, recreate=recreate) as batch:
            batch.drop_column("{name}_probe")
'''


def test_a_batch_migration_of_searched_tables_keeps_the_search_index(make, plugins_root):
    """SQLite refused the rebuild (the index's view named the dropped table) and would have lost
    the index's triggers; the shared env sets the views aside and repairs the index after."""
    from conveyor import crm
    from conveyor.models import User
    from conveyor.stages import ensure_default_pipeline
    from conveyor.testing import client_as

    plugin = write_plugin(plugins_root, "cvtest_rebuild", "rebuild",
                          [NOTES_REV1, REBUILD_SEARCHED])
    app = make(extra=[("rebuild", plugin)])
    migrate.upgrade(app)
    with app.app_context():
        ensure_default_pipeline(db.session)
        admin = User(username="root", roles=["admin"])
        db.session.add(admin)
        db.session.flush()
        before = crm.create_customer({"name": "Before Ltd"}, admin)
        crm.create_deal({"customer_id": before.id, "title": "Old pumps"}, admin)
        db.session.commit()
        app.config["TEST_USER_IDS"] = {"root": admin.id}
        admin_id = admin.id

    def add_records(name: str, phone: str, title: str) -> None:
        from conveyor.models import Contact

        with app.app_context():
            user = db.session.get(User, admin_id)
            customer = crm.create_customer({"name": name}, user)
            db.session.add(Contact(customer_id=customer.id, name=f"{name} person", phone=phone))
            crm.create_deal({"customer_id": customer.id, "title": title}, user)
            db.session.commit()

    def found(q: str) -> dict[str, list[str]]:
        response = client_as(app, "root").get("/api/v1/search", query_string={"q": q})
        assert response.status_code == 200, response.get_json()
        return {g["kind"]: [h["title"] for h in g["hits"]] for g in response.get_json()["groups"]}

    migrate.upgrade_all(app)  # the plugin's revisions: the three tables rebuilt
    assert scalar(app, "SELECT version_num FROM alembic_version_rebuild") == "rebuild0002"
    add_records("After Ltd", "+7 (495) 765-43-21", "New boilers")
    assert found("After Ltd")["customers"] == ["After Ltd"]  # the triggers are back
    assert found("84957654321")["contacts"] == ["After Ltd person"]
    assert found("boilers")["deals"] == ["New boilers"]
    assert found("Renamed")["customers"] == ["Renamed Ltd"]  # changed inside the migration
    assert found("Before").get("customers", []) == []
    assert found("Old pumps")["deals"] == ["Old pumps"]  # rows from before the rebuild
    migrate.downgrade(app, "rebuild", "rebuild0001")  # rebuilt once more, the other way
    add_records("Later Ltd", "+7 (495) 111-22-33", "Later valves")
    assert found("Later Ltd")["customers"] == ["Later Ltd"]
    assert found("valves")["deals"] == ["Later valves"]
    assert found("Later valves")["deals"] == ["Later valves"]  # by the word pairs
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert scalar(app, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND "
                           "name LIKE 'search_%' AND tbl_name <> 'search_words'") == 9
        assert scalar(app, "SELECT count(*) FROM sqlite_master WHERE type = 'view' AND "
                           "name LIKE 'search_%_source'") == 6  # trigram documents and pairs


def test_the_tokens_come_with_their_revision_and_go_with_its_downgrade(make):
    """A database whose word pairs were made before the tokens (what the downgrade leaves: ASCII
    words' pairs alone) is searched for two Chinese characters by a scan and for two Russian
    words by their trigrams, then both from the tokens once upgraded — with the same hits."""
    from conveyor import crm
    from conveyor.models import User
    from conveyor.search.index import has_tokens, has_pairs
    from conveyor.search.kinds import CUSTOMERS_INDEX, DEALS_INDEX
    from conveyor.stages import ensure_default_pipeline
    from conveyor.testing import client_as

    app = make()
    migrate.upgrade_all(app)
    with app.app_context():
        ensure_default_pipeline(db.session)
        admin = User(username="root", roles=["admin"])
        db.session.add(admin)
        db.session.flush()
        for name in ("华为技术", "北京华为", "上海物流", "ООО Ромашка"):
            customer = crm.create_customer({"name": name}, admin)
            crm.create_deal({"customer_id": customer.id, "title": f"{name} 合同"}, admin)
        db.session.commit()
        admin_id = admin.id

    def state(app: Any) -> list[tuple[bool, bool]]:
        with migrate.connection(app) as conn:
            return [(has_pairs(conn, i), has_tokens(conn, i)) for i in (CUSTOMERS_INDEX,
                                                                          DEALS_INDEX)]

    def found(q: str) -> tuple[dict[str, list[str]], bool]:
        fresh = make()  # an app learns once whether an index lists the bigrams
        fresh.config["TEST_USER_IDS"] = {"root": admin_id}
        seen: list[str] = []
        from sqlalchemy import event

        with fresh.app_context():
            engine = db.engine
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        response = client_as(fresh, "root").get("/api/v1/search", query_string={"q": q})
        event.remove(engine, "before_cursor_execute", listener)
        assert response.status_code == 200, response.get_json()
        hits = {g["kind"]: sorted(h["title"] for h in g["hits"])
                for g in response.get_json()["groups"]}
        return hits, any("pairs" in s for s in seen)

    assert state(app) == [(True, True)] * 2
    upgraded = found("华为")
    assert upgraded == ({"customers": ["北京华为", "华为技术"], "contacts": [],
                         "deals": ["北京华为 合同", "华为技术 合同"]}, True)
    migrate.downgrade(app, None, "e7b3f9a1c5d2")
    assert state(app) == [(True, False)] * 2
    assert found("华为") == (upgraded[0], False)  # scanned
    assert found("华为技术")[0]["customers"] == ["华为技术"]  # three characters: the trigrams
    assert found("ромашка ООО") == ({"customers": ["ООО Ромашка"], "contacts": [],
                                     "deals": ["ООО Ромашка 合同"]}, False)  # Russian: trigrams
    migrate.upgrade_all(app)
    assert state(app) == [(True, True)] * 2
    assert found("华为") == upgraded
    assert found("ромашка ООО") == ({"customers": ["ООО Ромашка"], "contacts": [],
                                     "deals": ["ООО Ромашка 合同"]}, True)  # and now its pairs
