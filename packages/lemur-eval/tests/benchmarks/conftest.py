import pytest


@pytest.fixture(scope="session")
def local_sandbox():
    """Skip unless the local (bubblewrap) sandbox can run here; its message says why not."""
    from lemur.envs.sandbox import SandboxUnavailableError, get_backend

    try:
        get_backend("local").check_available()
    except SandboxUnavailableError as error:
        pytest.skip(f"local sandbox unavailable: {error}")
    return "local"
