"""An indexing run, composed from its stages: scan → plan → read+decode (threads) → encode (batches) → write.

Decoding runs in a thread pool, a bounded window ahead of the encoder; each full batch is encoded in one
call (by torch or the library's ONNX export: pictures.py) and committed as one catalog transaction; the ANN
index is checkpointed every `checkpoint_seconds`. A video's frames are sampled in a child process
(indexer/video/isolated.py) as the run reaches it, a bounded number ahead of the encoder; they fill batches like
pictures, and the video, its frames and its moments are written together once its last frame is encoded.
Ctrl-C (and SIGTERM, which the CLI turns into it) finishes the batch in hand and writes the index.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from core.settings import Settings
from indexer.encoder import Encoder
from indexer.gpu_decode import for_run
from indexer.ingest.batch import Batch, FrameToEncode, ToEncode, VideoDone, WithoutVector, WithVector
from indexer.ingest.encode import encode_batch
from indexer.ingest.known_content import ContentMatcher, Copy, Move, ReadAgain, Touch
from indexer.ingest.pictures import checked_on_own_pictures, picture_encoder
from indexer.ingest.plan import Plan, PlannedFile, plan_run, split_existing
from indexer.ingest.read import (
    Decoded,
    Encoded,
    Failed,
    FileReader,
    KnownContent,
    ReadLimits,
    ReadOutcome,
    Vanished,
    VideoFound,
)
from indexer.ingest.reads import ReadSource, ThreadedReads
from indexer.ingest.records import failed_record, ok_record
from indexer.ingest.report import IndexReport
from indexer.ingest.sidecars import sync_sidecars
from indexer.ingest.video_frames import FrameStream, PreparedFrame
from indexer.ingest.videos import MomentRule, PendingVideo
from indexer.ingest.write import LibraryWriter
from indexer.library import Library
from indexer.progress import ProgressReporter
from indexer.scan import SkippedFile, scan
from indexer.selection import file_kind
from indexer.unindexed import VIDEOS_OFF
from indexer.vector_index import IndexPolicy
from indexer.video.isolated import IsolatedSampler, SamplingPlan
from indexer.video.probe import VideoDecodeError, VideoLimits, VideoOverLimit, VideoTruncated

# Settings that name each video limit, for the reason a video over it is recorded with.
VIDEO_LIMIT_SETTINGS = {
    "max_pixels": "XMODAL_VIDEO__MAX_PIXELS",
    "max_duration_seconds": "XMODAL_VIDEO__MAX_DURATION_SECONDS",
    "max_wall_seconds": "XMODAL_VIDEO__MAX_WALL_SECONDS",
}

log = logging.getLogger(__name__)

KeepMissing = Callable[[str], bool]  # path -> keep its row for now (it may be half of a move)
ReadSourceFactory = Callable[["IndexRun", FileReader], ReadSource]


class IndexRun:
    def __init__(
        self,
        library: Library,
        encoder: Encoder,
        settings: Settings,
        *,
        settle_seconds: float = 0.0,
        keep_missing: KeepMissing | None = None,
        read_source: ReadSourceFactory | None = None,
    ) -> None:
        """`read_source` makes where the run's files are read (and perhaps encoded): decode threads of this process
        unless given (indexer.cluster gives a Ray cluster's)."""
        self.library = library
        self.catalog = library.catalog
        self.encoder = encoder
        self.settings = settings
        self.settle_seconds = settle_seconds
        self.keep_missing = keep_missing
        earlier = self.catalog.image_runtimes()
        self._fresh_library = not earlier  # no picture vectors yet: auto's int8 tower is checked on the first batch
        self.pictures = picture_encoder(library.path, encoder, settings.index_runtime, earlier)
        self.report = IndexReport(image_runtime=self.pictures.runtime)
        self.times = self.report.stages
        self.writer = LibraryWriter(
            self.catalog,
            [library.vector_index(name) for name in ("media", "texts")],
            IndexPolicy.of(settings),
            settings.checkpoint_seconds,
        )
        self._batch = Batch()
        self._runtime_recorded = False
        video = settings.video
        self.moment_rule = MomentRule(video.every_seconds, video.moment_similarity, video.max_moment_seconds)
        self._sampler: IsolatedSampler | None = None  # started by the first video
        self._read_source = read_source
        # Items per catalog transaction: a batch to encode locally; more where vectors arrive made (a cluster's
        # source raises it), as each commit costs a transaction and an fdatasync whatever its size.
        self.commit_size = settings.batch_size
        self._reads: ReadSource | None = None  # set by run()
        self._next_stream: FrameStream | None = None  # the next video's frames, already being sampled

    def run(self, paths: Iterable[str | Path], progress: ProgressReporter, gone: Iterable[str] = ()) -> IndexReport:
        """Bring the catalog in line with the disk under `paths` and `gone`. A path that does not exist is gone:
        what the catalog holds there moves (its content shows up elsewhere) or leaves."""
        started = time.monotonic()
        plan = self._plan(paths, gone)
        reader = FileReader(
            ReadLimits(self.settings.max_file_bytes, self.settings.max_image_pixels),
            self.encoder.image_size,
            self.pictures.image_tensor,
            plan.known_hashes,
            for_run(self.settings.gpu_decode, self.encoder, self.pictures),
        )
        matcher = ContentMatcher(self.catalog, plan.missing, self.encoder.dim)
        if self._read_source is not None:
            reads = self._read_source(self, reader)
        else:
            reads = ThreadedReads(reader, self.settings.workers, self.settings.batch_size * 2 + self.settings.workers)
        self._reads = reads
        try:
            progress.start("indexing", len(plan.todo))
            self._read_all(plan, reads, reader, matcher, progress)
            self._flush()
            self._remove_missing(plan)
            self._record_pairs_and_skipped(plan)
            with self.times.measure("sidecars"):
                self.report.texts = sync_sidecars(
                    self.catalog, self.encoder.encode_texts, [*plan.roots, *plan.gone], plan.sidecars
                )
        except KeyboardInterrupt:
            self.report.interrupted = True
            self._flush()
        finally:
            if self._next_stream is not None:
                self._next_stream.close()
            if self._sampler is not None:
                self._sampler.close()
            with self.times.measure("checkpoint"):
                if self.writer.building() and not self.report.interrupted:
                    log.info("waiting for the search index's training to finish")
                self.writer.checkpoint(final=not self.report.interrupted)
        self.report.seconds = time.monotonic() - started
        log.info("stage seconds: %s", self.times.describe())
        return self.report

    # -- stages -------------------------------------------------------------------------------

    def _plan(self, paths: Iterable[str | Path], gone: Iterable[str]) -> Plan:
        roots, gone_paths, vanished = split_existing(paths, gone)
        with self.times.measure("scan"):
            found = scan(roots, exclude=str(self.library.path))
        if not self.settings.video.enabled:
            videos = [file for file in found.media if file_kind(file.path) == "video"]
            found.media = [file for file in found.media if file_kind(file.path) != "video"]
            found.skipped += [SkippedFile(file.path, file.size, file.mtime_ns, VIDEOS_OFF) for file in videos]
        with self.times.measure("plan"):
            plan = plan_run(self.catalog, found, roots, gone_paths, self.settle_seconds, time.time())
        self.report.scanned = len(found.media)
        self.report.companions = len(found.companions)
        self.report.skipped = len(found.skipped)
        self.report.unreadable_dirs = found.unreadable_dirs
        self.report.unchanged = plan.unchanged
        self.report.settling = plan.settling
        self.report.vanished = vanished
        return plan

    def _read_all(
        self, plan: Plan, reads: ReadSource, reader: FileReader, matcher: ContentMatcher, progress: ProgressReporter
    ) -> None:
        outcomes = reads.outcomes(plan.todo)
        try:
            while True:
                with self.times.measure("read_wait"):
                    outcome = next(outcomes, None)
                if outcome is None:
                    return
                self.times.add("read_decode", outcome.seconds)
                self._take(outcome, plan, reader, matcher, progress)
                progress.advance()
        finally:
            outcomes.close()  # its cleanup (cancelling reads ahead) runs now, not when it is collected

    def _take(
        self,
        outcome: ReadOutcome,
        plan: Plan,
        reader: FileReader,
        matcher: ContentMatcher,
        progress: ProgressReporter | None = None,
    ) -> None:
        item = outcome.item
        if isinstance(outcome, Failed):
            self._batch.items.append(WithoutVector(failed_record(item, outcome.content_hash, outcome.reason)))
            self.report.failed += 1
        elif isinstance(outcome, Decoded | Encoded):
            record = ok_record(item, outcome.content_hash, outcome.info)
            if isinstance(outcome, Decoded):
                self._batch.items.append(ToEncode(record, outcome.tensor))
            else:  # encoded on a cluster, whose source recorded the runtime before any actor encoded
                self._batch.items.append(WithVector(record, outcome.vector))
                self.times.add("encode", outcome.encode_seconds)
            if item.known is None:
                self.report.added += 1
            else:
                self.report.updated += 1
        elif isinstance(outcome, KnownContent):
            self._take_known(item, outcome.content_hash, plan, reader, matcher)
        elif isinstance(outcome, VideoFound):
            self._take_video(outcome, plan, progress)
        elif isinstance(outcome, Vanished) and item.known is not None:  # went away while the run was reading
            plan.missing.add(item.known)
        if len(self._batch) >= self.commit_size:
            self._flush()

    def _take_video(self, found: VideoFound, plan: Plan, progress: ProgressReporter | None) -> None:
        """Sample the video's frames into batches (encoding as they fill), then mark it done; a video that cannot
        be indexed is recorded as failed, and what it had put into the batch in hand is dropped. A video broken
        off partway keeps the moments before the break, and says where in its record."""
        item = found.item
        video = PendingVideo(item, found.content_hash)
        name = os.path.basename(item.file.path)
        reason: str | None = None
        started = time.perf_counter()
        stream = self._stream(item.file.path)
        try:
            self._start_next_video(stream)
            for sample in stream:
                if not isinstance(sample, PreparedFrame):
                    video.info = sample
                    continue
                video.times.append(sample.time)
                video.cuts.append(sample.cut)
                self._batch.items.append(FrameToEncode(video, sample.tensor))
                if len(self._batch) >= self.settings.batch_size:
                    self.times.add("read_decode", time.perf_counter() - started)
                    self._start_next_video(stream)
                    self._flush()
                    started = time.perf_counter()
                    if progress is not None:
                        progress.status(f"{name} at {sample.time:.0f} s")
        except VideoTruncated as exc:
            video.note = f"indexed up to {exc.seconds:.1f} s only: {exc}"
        except VideoOverLimit as exc:
            setting = VIDEO_LIMIT_SETTINGS.get(exc.limit)
            reason = f"{exc} (raise {setting} to index it)" if setting else str(exc)
        except FileNotFoundError:
            self._batch.drop_frames(video)
            if item.known is not None:
                plan.missing.add(item.known)
            return
        except (VideoDecodeError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
        finally:
            stream.close()  # at once, not when a traceback that holds it is let go
            self.times.add("read_decode", time.perf_counter() - started)
            if progress is not None:
                progress.status(None)
        if reason is None and not video.times:
            reason = "no frame could be decoded"
        if reason is not None:
            self._batch.drop_frames(video)
            self._batch.items.append(WithoutVector(failed_record(item, found.content_hash, reason)))
            self.report.failed += 1
            return
        self._batch.items.append(VideoDone(video))
        self.report.videos += 1
        self.report.frames += len(video.times)
        if item.known is None:
            self.report.added += 1
        else:
            self.report.updated += 1

    def _stream(self, path: str) -> FrameStream:
        """This video's frames: started already, if the previous video's run saw it coming, else now."""
        ahead, self._next_stream = self._next_stream, None
        if ahead is not None and ahead.path == path:
            return ahead
        if ahead is not None:
            ahead.close()
        return self._frames(path)

    def _frames(self, path: str, after: FrameStream | None = None) -> FrameStream:
        return FrameStream(self._video_sampler(), path, self.pictures.image_tensor, self.settings.batch_size * 2, after)

    def _start_next_video(self, current: FrameStream) -> None:
        """If the next file the run will take is a video read already, start sampling it once `current` has
        finished: its first frames are then decoded while this video's last batch is encoded, not after."""
        if self._next_stream is not None or self._reads is None:
            return
        if isinstance(found := self._reads.upcoming(), VideoFound):
            self._next_stream = self._frames(found.item.file.path, after=current)

    def _video_sampler(self) -> IsolatedSampler:
        if self._sampler is None:
            video = self.settings.video
            limits = VideoLimits(video.max_pixels, video.max_duration_seconds, video.max_wall_seconds)
            plan = SamplingPlan(limits, video.every_seconds, video.scene_threshold, memory_bytes=video.max_memory_bytes)
            self._sampler = IsolatedSampler(plan, video.stall_seconds)
        return self._sampler

    def _take_known(
        self, item: PlannedFile, content_hash: str, plan: Plan, reader: FileReader, matcher: ContentMatcher
    ) -> None:
        resolution = matcher.resolve(item, content_hash, self._batch.moving())
        if isinstance(resolution, Touch):
            self._batch.touches.append(resolution)
            self.report.unchanged += 1
        elif isinstance(resolution, Move):
            self._batch.moves.append(resolution)
            self.report.moved += 1
        elif isinstance(resolution, Copy):
            self._batch.items.append(WithVector(resolution.record, resolution.vector))
            self.report.duplicates += 1
        elif isinstance(resolution, ReadAgain):
            outcome = reader.read(resolution.item, reuse_known=False)
            self.times.add("read_decode", outcome.seconds)
            self._take(outcome, plan, reader, matcher)

    def _flush(self) -> None:
        """Encode and commit the batch in hand. Interrupted midway, it stays in hand for the next call to finish
        (its moves and touches are idempotent; its records were rolled back)."""
        batch = self._batch
        if batch.tensors() and not self._runtime_recorded:
            self.check_own_pictures(batch.tensors())
            self.record_runtime()
        with self.times.measure("encode"):
            encoded = encode_batch(self.pictures, batch, self.moment_rule, self.settings.batch_size)
        with self.times.measure("write"):
            self.writer.write(encoded)
        self._batch = Batch()
        if batch.tensors():
            self.report.encode_batches += 1
        self.report.moments += sum(len(video.moments) for video in encoded.videos)
        if self.writer.checkpoint_due():
            with self.times.measure("checkpoint"):
                self.writer.checkpoint()

    def needs_own_pictures_check(self) -> bool:
        """A library's first pictures, where auto chose the int8 image tower: checked against torch once (see
        pictures.checked_on_own_pictures); a tower that strays gives the run, and the library, to torch."""
        return self.settings.index_runtime == "auto" and self._fresh_library and not self._runtime_recorded

    def use_torch(self, why: str) -> None:
        """Give a new library's pictures to torch before any is encoded (a cluster with GPUs)."""
        if self.pictures is not self.encoder:
            log.info("pictures go through torch: %s", why)
            self.pictures = self.encoder
            self.report.image_runtime = self.encoder.runtime

    def check_own_pictures(self, tensors: list[torch.Tensor]) -> None:
        if not self.needs_own_pictures_check():
            return
        checked = checked_on_own_pictures(self.library.path, self.pictures, self.encoder, tensors)
        if checked is not self.pictures:
            self.pictures = checked
            self.report.image_runtime = checked.runtime

    def record_runtime(self) -> None:
        """Say in the catalog what encodes this run's pictures, before its first vectors are written (a crash in
        between records one runtime too many, never one too few)."""
        runtime = self.pictures.runtime
        earlier = self.catalog.add_image_runtime(runtime)
        if earlier and runtime not in earlier:
            self.report.mixes_with = earlier
            log.info("this library's pictures now mix vectors from %s and %s", ", ".join(earlier), runtime)
        self._runtime_recorded = True

    def _remove_missing(self, plan: Plan) -> None:
        """Rows still missing at the end are removed, except those the caller keeps a while: a move reported in
        pieces (the watcher's) may bring their content back at another path in a later run."""
        keep = self.keep_missing or (lambda _path: False)
        kept = [row for row in plan.missing.movable() if keep(row.path)]
        kept_ids = {row.id for row in kept}
        leaving = [*plan.missing.movable(), *plan.missing.unmovable(), *plan.absorbed]
        removed = [row.id for row in leaving if row.id not in kept_ids]
        with self.times.measure("write"):
            self.writer.remove(removed)
        self.report.removed = len(removed)
        self.report.kept_missing = [row.path for row in kept]

    def _record_pairs_and_skipped(self, plan: Plan) -> None:
        """Which photos have a companion RAW, and which files were skipped and why, as found under the run's
        paths (indexer.pairs, indexer.unindexed): rows only, nothing to encode."""
        scopes = [*plan.roots, *plan.gone]
        with self.times.measure("write"):
            self.catalog.sync_companions(scopes, {path: raw.path for path, raw in plan.companions.items()})
            self.catalog.sync_skipped(scopes, [(f.path, f.size, f.mtime_ns, f.reason) for f in plan.skipped])


def index_paths(
    library: Library,
    encoder: Encoder,
    paths: Iterable[str | Path],
    settings: Settings,
    quiet: bool = False,
    gone: Iterable[str] = (),
    *,
    settle_seconds: float = 0.0,
    keep_missing: KeepMissing | None = None,
    read_source: ReadSourceFactory | None = None,
) -> IndexReport:
    """Index the images (and sidecar captions) under `paths`; `gone` names paths known to have disappeared.

    `settle_seconds` leaves files modified that recently for a later run (a copy in progress); `keep_missing`
    keeps the rows of missing files it answers True for, instead of removing them; `read_source` reads (and
    perhaps encodes) elsewhere (see IndexRun)."""
    with ProgressReporter(quiet=quiet or settings.quiet) as progress:
        run = IndexRun(
            library,
            encoder,
            settings,
            settle_seconds=settle_seconds,
            keep_missing=keep_missing,
            read_source=read_source,
        )
        return run.run(paths, progress, gone=gone)
