import pytest


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(plugins=["leads", "discussions"],
                    config={"discussions": {"storage_dir": str(tmp_path / "files")}})
