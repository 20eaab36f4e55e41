import pytest


@pytest.fixture(autouse=True)
def one_thread():
    """The zoo's forwards on one thread: on a machine shared with other jobs,
    torch's two threads wait on each other (a 64x64 MobileNetV2 forward took
    2 to 7 s instead of 0.06 s)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
