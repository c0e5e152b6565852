import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep the tests' cached files (Gaussian fits) out of the user's cache folder."""
    mp = pytest.MonkeyPatch()
    mp.setenv("PULSE_TEACH_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()
