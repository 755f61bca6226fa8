"""The writer's side of a cluster run: files go out in chunks, each read by a Ray task and encoded by the least busy
of a pool of encoder actors (the task's result goes from the worker to the actor, never through the writer); the
outcomes come back to the run in plan order, a bounded number of chunks ahead, so the writer commits the same
batches, ids and failure records as a local run of the same files.

Fault tolerance is Ray's: a read task whose worker dies runs again (up to 3 times), and an encoder actor that dies
is restarted and its call retried. What cannot be done after that ends the run with a ClusterError; every batch
committed before it stays, and running the same command again goes on from there. Videos are sampled and encoded
by the writer itself, as in a local run (their frames need the run's video child process and moment rules)."""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

from core.errors import ClusterError
from core.settings import RaySettings
from indexer.cluster.session import Cluster, require_ray
from indexer.cluster.work import (
    ChunkEncoder,
    EncoderRecipe,
    HashPrefixes,
    ReadRecipe,
    TowerCopy,
    read_files,
    with_item,
)
from indexer.ingest.pictures import OWN_PICTURES_CHECKED, OnnxPictures
from indexer.ingest.plan import PlannedFile
from indexer.ingest.read import Decoded, Failed, FileReader, ReadOutcome, Vanished
from indexer.selection import file_kind

if TYPE_CHECKING:
    from indexer.ingest.run import IndexRun, ReadSourceFactory

log = logging.getLogger(__name__)

READ_RETRIES = 3  # a read task whose worker died runs again this often (a file that kills its reader fails the run)
ENCODE_RETRIES = 3  # an encoder call whose actor died is retried on the restarted actor this often
ACTOR_START_SECONDS = 600.0  # loading the model (downloading its weights, on a first run) on every actor


def cluster_reads(cluster: Cluster, settings: RaySettings) -> ReadSourceFactory:
    """The run's read source on `cluster` (see indexer.ingest.run.IndexRun)."""

    def make(run: IndexRun, reader: FileReader) -> ClusterReads:
        return ClusterReads(cluster, settings, run, reader)

    return make


class ClusterReads:
    def __init__(self, cluster: Cluster, settings: RaySettings, run: IndexRun, reader: FileReader) -> None:
        self.ray = require_ray()
        self.cluster = cluster
        self.settings = settings
        self.run = run
        self.reader = reader  # the writer's own: videos, and the first pictures of a new library
        run.commit_size = max(run.settings.batch_size, settings.commit_batch)

    def upcoming(self) -> ReadOutcome | None:
        return None  # a video is hashed by the writer when the run reaches it

    def outcomes(self, todo: Sequence[PlannedFile]) -> Generator[ReadOutcome, None, None]:
        pictures = [at for at, item in enumerate(todo) if file_kind(item.file.path) != "video"]
        if not pictures:
            yield from (self.reader.read(item) for item in todo)
            return
        self._settle_runtime([todo[at] for at in pictures[: OWN_PICTURES_CHECKED * 2]])
        size = self.settings.decode_batch
        chunks = [pictures[start : start + size] for start in range(0, len(pictures), size)]
        chunk_of = {at: (number, position) for number, chunk in enumerate(chunks) for position, at in enumerate(chunk)}
        encoders = self._encoders()
        read_task = self.ray.remote(read_files).options(max_retries=READ_RETRIES)
        window = 2 * encoders + max(1, int(self.cluster.cpus - encoders * self.settings.cpus_per_encoder))
        sent: dict[int, Any] = {}  # chunk number -> the ref of its outcomes, sent in order
        held_number, held = -1, []  # the chunk being handed to the run, and its outcomes
        next_to_send = 0
        pool: EncoderPool | None = None
        try:
            recipe = self.ray.put(self._read_recipe())
            pool = EncoderPool(self.ray, self._encoder_recipe(), encoders, self.cluster, self.settings)
            for at, item in enumerate(todo):
                if at not in chunk_of:
                    yield self.reader.read(item)
                    continue
                number, position = chunk_of[at]
                if number != held_number:
                    while next_to_send < len(chunks) and len(sent) < window:  # chunks go out in order: this one too
                        files = [todo[i].file for i in chunks[next_to_send]]
                        sent[next_to_send] = pool.encode(next_to_send, read_task.remote(files, recipe))
                        next_to_send += 1
                    held_number = number
                    held = self._collect(pool, number, sent.pop(number), [todo[i] for i in chunks[number]])
                yield self._checked(with_item(held[position], item))
        finally:
            for ref in sent.values():
                self.ray.cancel(ref)  # a run that stops early leaves no work behind on a cluster that stays up
            if pool is not None:
                pool.close()

    def _checked(self, outcome: ReadOutcome) -> ReadOutcome:
        """A file a worker could not read, or found gone, is read by the writer too: workers that do not see the
        files (no shared mount) must not turn every file into a removal, and one that lacks a reader (HEIC, RAW) or
        a permission must not record a lasting failure for a file this machine reads."""
        if not isinstance(outcome, Failed | Vanished):
            return outcome
        here = self.reader.read(outcome.item)
        if isinstance(outcome, Vanished) and not isinstance(here, Vanished):
            raise ClusterError(
                f"the cluster's workers cannot see {outcome.item.file.path}, which is here",
                "every machine of the cluster must see the files at the same paths (a shared mount); nothing was "
                "removed, and what was indexed before is kept",
            )
        if isinstance(outcome, Failed) and not (isinstance(here, Failed) and here.reason == outcome.reason):
            path = outcome.item.file.path
            log.warning("a worker failed on %s (%s), the writer did not: the writer's reading is kept; check that "
                        "every machine has the same readers and permissions", path, outcome.reason)  # fmt: skip
            return here
        return outcome

    def _collect(self, pool: EncoderPool, number: int, ref: Any, items: list[PlannedFile]) -> list[ReadOutcome]:
        try:
            outcomes: list[ReadOutcome] = self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            first, last = items[0].file.path, items[-1].file.path
            raise ClusterError(
                f"the cluster could not read or encode the files from {first} to {last}: {exc}",
                "what was indexed before is kept; run the same command again to go on (a file that kills its "
                "reader every time can be left out by moving it away)",
            ) from exc
        finally:
            pool.done(number)
        return outcomes

    def _settle_runtime(self, first: Sequence[PlannedFile]) -> None:
        """A new library's pictures go through torch on a cluster with GPUs; elsewhere auto's int8 tower is checked
        on its first pictures (pictures.checked_on_own_pictures) before any actor encodes with it: the writer decodes
        those few itself."""
        if self.run.needs_own_pictures_check() and self.cluster.gpus >= 1:
            self.run.use_torch("the cluster has GPUs")  # fp16 on a GPU beats the int8 tower made for CPUs
        if self.run.needs_own_pictures_check() and isinstance(self.run.pictures, OnnxPictures):
            outcomes = [self.reader.read(item) for item in first]
            self.run.check_own_pictures([o.tensor for o in outcomes if isinstance(o, Decoded)][:OWN_PICTURES_CHECKED])
        self.run.record_runtime()  # before any actor encodes: every vector the run writes is of this runtime

    def _read_recipe(self) -> ReadRecipe:
        pictures = self.run.pictures
        prepare = (
            pictures.image_tensor if isinstance(pictures, OnnxPictures) else self.run.encoder.image_tower.preprocess
        )
        known = HashPrefixes(cast("Iterable[str]", self.reader.known_hashes))  # the plan's set of hashes
        return ReadRecipe(self.reader.limits, self.reader.image_size, prepare, known)

    def _encoder_recipe(self) -> EncoderRecipe:
        pictures = self.run.pictures
        tower = None
        if isinstance(pictures, OnnxPictures):
            tower = TowerCopy(pictures.tower_path.name, pictures.tower_path.read_bytes(), pictures.manifest)
        device = self.run.settings.device
        return EncoderRecipe(self.run.encoder.spec, pictures.runtime, device, self.run.settings.batch_size, tower)

    def _encoders(self) -> int:
        """The pool's size, checked against what the cluster has: actors that take every CPU (or more GPUs than
        there are) would leave the run waiting forever on Ray's scheduler."""
        encoders = self.settings.encoders or self.cluster.default_encoders()
        if self.cluster.gpus >= 1 and encoders > self.cluster.gpus:
            raise ClusterError(
                f"{encoders} encoder actors asked for, each with a GPU, on a cluster of {self.cluster.gpus:g} GPUs",
                "set ray.encoders to at most the GPUs (XMODAL_RAY__ENCODERS), or leave it unset",
            )
        if encoders * self.settings.cpus_per_encoder > self.cluster.cpus - 1:
            raise ClusterError(
                f"{encoders} encoder actors of {self.settings.cpus_per_encoder:g} CPUs leave none of the cluster's "
                f"{self.cluster.cpus:g} CPUs to read files",
                "lower ray.encoders or ray.cpus_per_encoder, or add machines to the cluster",
            )
        return encoders


class EncoderPool:
    """Encoder actors, each call given to the one with the fewest calls in hand."""

    def __init__(self, ray: Any, recipe: EncoderRecipe, size: int, cluster: Cluster, settings: RaySettings) -> None:
        self.ray = ray
        gpus = 1 if cluster.gpus >= 1 else 0
        actor = ray.remote(ChunkEncoder).options(
            num_cpus=settings.cpus_per_encoder, num_gpus=gpus, max_restarts=-1, max_task_retries=ENCODE_RETRIES
        )
        # An ONNX tower's bytes go to the object store once, not once per actor; the pool holds the reference as long
        # as its actors live, for a restarted actor to be built again from it.
        self._recipe = ray.put(recipe)
        self.actors = [actor.remote(self._recipe) for _ in range(size)]
        self.load = [0] * size
        self._actor_of: dict[int, int] = {}
        self._check(recipe)

    @property
    def size(self) -> int:
        return len(self.actors)

    def _check(self, recipe: EncoderRecipe) -> None:
        """Every actor loads the model now: a worker without xmodal, another version of it, or no way to the
        model's weights fails the run before any file is read, saying which."""
        from indexer import __version__

        try:
            described = self.ray.get([a.describe.remote() for a in self.actors], timeout=ACTOR_START_SECONDS)
        except self.ray.exceptions.RayError as exc:
            self.close()
            raise ClusterError(
                f"the cluster's encoder actors could not load {recipe.spec.describe()}: {exc}",
                "every machine of the cluster needs the same xmodal installed (pip install 'xmodal[ray]') and the "
                "model's weights reachable (a pretrained tag downloads on each; a checkpoint file must be at the "
                "same path on each)",
            ) from exc
        versions = {d["version"] for d in described}
        if versions != {__version__}:
            self.close()
            raise ClusterError(
                f"the cluster's workers run xmodal {', '.join(sorted(versions))}, this writer {__version__}",
                "install the same xmodal on every machine",
            )
        devices = ", ".join(sorted({f"{d['runtime']} on {d['device']}" for d in described}))
        log.info("%d encoder actors: %s", self.size, devices)

    def encode(self, number: int, outcomes_ref: Any) -> Any:
        chosen = min(range(self.size), key=self.load.__getitem__)
        self.load[chosen] += 1
        self._actor_of[number] = chosen
        return self.actors[chosen].encode.remote(outcomes_ref)

    def done(self, number: int) -> None:
        self.load[self._actor_of.pop(number)] -= 1

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
