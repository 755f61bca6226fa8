"""`xmodal index --ray` on a local Ray cluster that the tests start (2 CPUs, the tiny model): the library it makes is
the one a local run makes, and neither a killed worker nor a killed writer loses anything."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexer.cluster.work import ChunkEncoder, EncoderRecipe, HashPrefixes, ReadRecipe, read_files
from indexer.encoder import Encoder
from indexer.ingest.read import Decoded, Encoded, Failed, FileReader, ReadLimits
from indexer.model_spec import resolve
from indexer.scan import FoundFile
from tests.conftest import Cli, TinyModel, library_contents, make_photo_folder, write_picture
from tests.indexer.test_crash_and_scale import committed_vectors

ray = pytest.importorskip("ray", reason="the --ray path needs ray (pip install 'xmodal[ray]')")
REPO = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Ray's token authentication, as a cluster should run it: the head and every process that joins it share the token.
RAY_TOKEN = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A head node of 2 CPUs in a process group of its own, as `ray start` makes one on a cluster's first machine."""
    folder = tempfile.mkdtemp(prefix="xr", dir="/tmp")  # Ray's socket paths must stay short
    port = free_port()
    argv = [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", "--num-cpus", "2",
            "--port", str(port), "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", folder,
            "--object-store-memory", str(400 << 20)]  # fmt: skip
    # Ray starts workers at nice 15: on a machine busy with other work they would crawl, and these tests with them.
    env = {**os.environ, **RAY_TOKEN, "RAY_worker_niceness": "0"}
    head = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _reachable(port):
            assert head.poll() is None and time.monotonic() < deadline, "the Ray head did not start"
            time.sleep(0.5)
        yield address
    finally:
        head.terminate()
        try:
            head.wait(timeout=20)
        except subprocess.TimeoutExpired:
            head.kill()
        subprocess.run(["pkill", "-9", "-f", folder], check=False)  # its raylet and GCS, had they outlived it
        shutil.rmtree(folder, ignore_errors=True)


def _reachable(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def xmodal(library: Path, model: TinyModel, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "api.cli", "index", *args, "--library", str(library), *model.flags(), "-q"]
    return subprocess.Popen(argv, env={**os.environ, **RAY_TOKEN, **(env or {})}, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def finished(process: subprocess.Popen[str], timeout: float = 300) -> None:
    _, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err


def assert_same_library(got: Path, want: Path) -> None:
    mine, theirs = library_contents(got), library_contents(want)
    assert sorted(mine) == sorted(theirs)
    for path, (id_, status, error, digest, vector) in theirs.items():
        assert mine[path][:4] == (id_, status, error, digest), path
        if vector is None:
            assert mine[path][4] is None, path
        else:
            assert mine[path][4] is not None and np.abs(mine[path][4] - vector).max() <= 1e-5, path


def folder_of_everything(root: Path) -> Path:
    """JPEGs and PNGs in nested and unicode folders, a corrupt file, a truncated one, and a caption."""
    make_photo_folder(root / "trip", 30)
    for seed in range(5):
        write_picture(root / "家族 é" / f"p{seed}.png", 100 + seed, "PNG")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    whole = (root / "trip" / "photo-000.jpg").read_bytes()
    (root / "cut.jpg").write_bytes(whole[: len(whole) // 3])
    (root / "trip" / "photo-001.txt").write_text("a caption beside its photo")
    return root


TORCH = {"XMODAL_INDEX_RUNTIME": "torch", "XMODAL_WORKERS": "1"}


def test_a_cluster_run_makes_the_library_a_local_run_makes(
    tmp_path: Path, tiny_model: TinyModel, ray_address: str
) -> None:
    photos = folder_of_everything(tmp_path / "photos")
    finished(xmodal(tmp_path / "local", tiny_model, str(photos), env=TORCH))
    finished(xmodal(tmp_path / "ray", tiny_model, str(photos), "--ray-address", ray_address, env=TORCH))
    assert_same_library(tmp_path / "ray", tmp_path / "local")
    local, clustered = Cli(tmp_path / "local", tiny_model), Cli(tmp_path / "ray", tiny_model)
    assert clustered.stats()["failures"] == local.stats()["failures"]
    assert len(local.stats()["failures"]) == 2
    query = ("a caption", "-k", "3")
    assert [h["path"] for h in clustered.search_json(*query)] == [h["path"] for h in local.search_json(*query)]


def encoder_processes() -> list[int]:
    listing = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    return [int(line.split()[0]) for line in listing.splitlines() if "ray::ChunkEncoder" in line]


SMALL_BATCHES = {
    **TORCH,
    "XMODAL_BATCH_SIZE": "8",
    "XMODAL_RAY__DECODE_BATCH": "8",
    "XMODAL_RAY__COMMIT_BATCH": "8",  # the writer commits as often as a local run of batch 8: a kill lands mid-run
    "XMODAL_CHECKPOINT_SECONDS": "1000",
}


def stopped_midway(library: Path, model: TinyModel, photos: Path, ray_address: str) -> subprocess.Popen[str]:
    """`xmodal index --ray` of `photos`, its writer frozen (SIGSTOP) once a few batches are in: the tiny model runs
    out of work in seconds. The caller sends its signal, then SIGCONT or SIGKILL."""
    process = xmodal(library, model, str(photos), "--ray-address", ray_address, env=SMALL_BATCHES)
    deadline = time.monotonic() + 180
    while committed_vectors(library) < 24 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGSTOP)
    assert process.poll() is None and committed_vectors(library) < 200, "the run ended before the moment to stop it"
    return process


@pytest.fixture(scope="module")
def two_hundred(tmp_path_factory: pytest.TempPathFactory, tiny_model: TinyModel) -> tuple[Path, Path]:
    """200 photos, and the library a local run makes of them (the tests below only read it)."""
    root = tmp_path_factory.mktemp("two-hundred")
    make_photo_folder(root / "photos", 200)
    finished(xmodal(root / "local", tiny_model, str(root / "photos"), env=SMALL_BATCHES))
    return root / "photos", root / "local"


def test_an_encoder_killed_mid_run_loses_nothing(
    tmp_path: Path, tiny_model: TinyModel, ray_address: str, two_hundred: tuple[Path, Path]
) -> None:
    photos, local = two_hundred
    library = tmp_path / "ray"
    run = stopped_midway(library, tiny_model, photos, ray_address)
    victims = encoder_processes()
    assert victims, "the run's encoder actor should be alive"
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    run.send_signal(signal.SIGCONT)
    finished(run)
    assert_same_library(library, local)
    assert not set(encoder_processes()) & set(victims)


def test_a_writer_killed_mid_run_resumes_when_run_again(
    tmp_path: Path, tiny_model: TinyModel, ray_address: str, two_hundred: tuple[Path, Path]
) -> None:
    photos, local = two_hundred
    library = tmp_path / "ray"
    run = stopped_midway(library, tiny_model, photos, ray_address)
    done_before = committed_vectors(library)
    run.kill()
    run.wait()
    finished(xmodal(library, tiny_model, str(photos), "--ray-address", ray_address, env=SMALL_BATCHES))
    assert 0 < done_before < committed_vectors(library) == 200
    assert_same_library(library, local)


def test_an_unreachable_cluster_is_a_clear_error(tmp_path: Path, cli: Cli) -> None:
    write_picture(tmp_path / "photos" / "a.jpg", 1, "JPEG")
    output = cli("index", str(tmp_path / "photos"), *cli.model.flags(), "--ray-address", f"127.0.0.1:{free_port()}",
                 code=1)  # fmt: skip
    assert "cannot join the Ray cluster" in output and "ray start --head" in output


# -- the workers' side, without Ray -----------------------------------------------------------------------------


def test_hash_prefixes_know_what_the_library_holds() -> None:
    known = HashPrefixes(["0123456789abcdef" + "0" * 16, "fedcba9876543210" + "1" * 16])
    assert "0123456789abcdef" + "f" * 16 in known  # a prefix match: the writer checks the whole hash
    assert "0123456789abcdee" + "0" * 16 not in known
    assert "short" not in known and None not in known


def test_a_chunk_is_read_and_encoded_as_the_writer_would(tmp_path: Path, tiny_model: TinyModel) -> None:
    good = write_picture(tmp_path / "a.jpg", 1, "JPEG")
    bad = tmp_path / "b.jpg"
    bad.write_bytes(b"junk")
    spec = resolve(str(tiny_model.config), str(tiny_model.weights))
    encoder = Encoder(spec, "cpu")
    prepare = encoder.image_tower.preprocess
    recipe = ReadRecipe(ReadLimits(1 << 20, 1 << 24), encoder.image_size, prepare, HashPrefixes([]))
    files = [FoundFile(str(path), path.stat().st_size, 0) for path in (good, bad)]
    read = read_files(files, recipe)
    assert isinstance(read[0], Decoded) and isinstance(read[1], Failed)
    encoded = ChunkEncoder(EncoderRecipe(spec, "torch", "cpu", 8)).encode(read)
    assert isinstance(encoded[0], Encoded) and encoded[1] == read[1]
    with Image.open(good) as image:
        want = encoder.encode_images([image.convert("RGB")])[0]
    assert np.abs(encoded[0].vector - want).max() <= 1e-5


def test_an_index_rebuilt_on_the_cluster_in_shards_finds_what_a_local_one_finds(
    tmp_path: Path, tiny_model: TinyModel, ray_address: str
) -> None:
    photos = make_photo_folder(tmp_path / "photos", 120)
    ivf = {**TORCH, "XMODAL_IVF_THRESHOLD": "40", "XMODAL_RAY__INDEX_SHARDS": "3", "XMODAL_RAY__SERVE_SHARDS": "2"}
    finished(xmodal(tmp_path / "local", tiny_model, str(tmp_path / "photos"), "--rebuild-index", env=TORCH))
    ray_run = ("--rebuild-index", "--ray-address", ray_address)
    finished(xmodal(tmp_path / "ray", tiny_model, str(tmp_path / "photos"), *ray_run, env=ivf))
    local, clustered = Cli(tmp_path / "local", tiny_model), Cli(tmp_path / "ray", tiny_model)
    index = clustered.stats()["indexes"]["media"]
    assert (index["kind"], index["shards"], index["count"], index["delta"]) == ("ivf", 2, 120, 0)
    for photo in photos[:5]:
        query = ("--image", str(photo), "-k", "5")
        assert [h["path"] for h in clustered.search_json(*query)] == [h["path"] for h in local.search_json(*query)]


def test_the_writer_reads_again_what_a_worker_could_not(tmp_path: Path, tiny_model: TinyModel) -> None:
    """A worker that does not see the files must not turn them into removals, and one that lacks a reader must not
    record a lasting failure for a file the writer reads."""
    from core.errors import ClusterError
    from indexer.cluster.reads import ClusterReads
    from indexer.ingest.plan import PlannedFile
    from indexer.ingest.read import Vanished

    good = write_picture(tmp_path / "a.jpg", 1, "JPEG")
    bad = tmp_path / "b.jpg"
    bad.write_bytes(b"junk")
    encoder = Encoder(resolve(str(tiny_model.config), str(tiny_model.weights)), "cpu")
    reads = ClusterReads.__new__(ClusterReads)  # only its writer-side reader is used here
    reads.reader = FileReader(ReadLimits(1 << 20, 1 << 24), encoder.image_size, encoder.image_tower.preprocess, set())
    item_of = {path: PlannedFile(FoundFile(str(path), path.stat().st_size, 0), None) for path in (good, bad)}
    with pytest.raises(ClusterError, match="cannot see"):
        reads._checked(Vanished(item_of[good], 0.0))
    here = reads._checked(Failed(item_of[good], None, "cannot identify image file", 0.0))
    assert isinstance(here, Decoded)
    worker_says = reads.reader.read(item_of[bad])
    assert isinstance(worker_says, Failed) and reads._checked(worker_says) is worker_says
