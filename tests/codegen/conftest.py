import pytest

from archgen.codegen import formatting


@pytest.fixture
def user_cache_dir(tmp_path, monkeypatch):
    """ARCHGEN_CACHE_DIR at a fresh path (not made yet), and this process's
    memory of any earlier cache folder gone."""
    monkeypatch.delenv("ARCHGEN_NO_CACHE", raising=False)
    monkeypatch.setenv("ARCHGEN_CACHE_DIR", str(tmp_path / "cache"))
    formatting._layout_folder.cache_clear()
    formatting._black_cached.cache_clear()
    yield tmp_path / "cache"
    formatting._layout_folder.cache_clear()
    formatting._black_cached.cache_clear()
