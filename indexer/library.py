"""A library on disk: the catalog, the index generations, the writer lock, and the model record."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import LibraryNotFound, ModelError
from core.settings import Settings
from indexer.catalog import Catalog, Collection
from indexer.index_files import IndexFiles
from indexer.lock import WriterLock
from indexer.model_spec import ModelSpec, check_same_model, resolve
from indexer.vector_index import VectorIndex

if TYPE_CHECKING:  # torch is imported only by commands that encode: `stats` and `--help` stay fast
    from core.settings import Runtime
    from indexer.encoder import Encoder, QueryModel
    from indexer.model_cache import ModelCache

CATALOG_NAME = "catalog.sqlite"


class Library:
    def __init__(self, path: Path, catalog: Catalog, lock: WriterLock | None) -> None:
        self.path = path
        self.catalog = catalog
        self._lock = lock

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open_writer(cls, path: Path, purpose: str) -> Library:
        """Create the library if needed and take the single-writer lock."""
        path = path.expanduser().absolute()
        path.mkdir(parents=True, exist_ok=True)
        lock = WriterLock(path / "writer.lock", purpose)
        lock.acquire()
        try:
            catalog = Catalog(path / CATALOG_NAME, readonly=False)
        except BaseException:
            lock.release()
            raise
        return cls(path, catalog, lock)

    @classmethod
    def open_reader(cls, path: Path) -> Library:
        path = path.expanduser().absolute()
        if not (path / CATALOG_NAME).is_file():
            raise LibraryNotFound(
                f"no xmodal library at {path}",
                "index a folder first (xmodal index PATH), or point --library / XMODAL_LIBRARY at one",
            )
        return cls(path, Catalog(path / CATALOG_NAME, readonly=True), None)

    def close(self) -> None:
        self.catalog.close()
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- model --------------------------------------------------------------------------------

    def model_spec(self) -> ModelSpec | None:
        data = self.catalog.get_json("model")
        return None if data is None else ModelSpec.from_json(data)

    def dim(self) -> int:
        value = self.catalog.get_meta("dim")
        if value is None:
            raise ModelError(f"the library at {self.path} has no model yet", "index a folder first")
        return int(value)

    def writer_encoder(self, settings: Settings, *, reindex: bool = False) -> Encoder:
        """The model this writer encodes with, loaded. The first writer records it; a library that holds vectors
        refuses a different one, unless `reindex`: then, once the new model has loaded (a typo or a missing
        download must not cost the library its vectors), every vector is forgotten and re-encoded."""
        from indexer.encoder import Encoder

        recorded = self.model_spec()
        asked = settings.model is not None or settings.pretrained is not None
        spec = resolve(settings.model, settings.pretrained) if (recorded is None or asked) else recorded
        if not reindex and recorded is not None and recorded.identity() != spec.identity() and self._holds_vectors():
            check_same_model(recorded, spec, self.path)
        encoder = Encoder(spec, settings.device).load()  # fail now, not after scanning: weights, device
        if reindex:
            self.forget_vectors()
        self.catalog.prefer_precision(settings.vector_precision)  # for vector files this run starts
        if spec != recorded:  # a new model, or the same weights found at a new path
            self.catalog.set_json("model", spec.to_json())
            self.catalog.set_meta("dim", str(encoder.dim))
        self.export_towers(encoder)
        return encoder

    def export_towers(self, encoder: Encoder) -> None:
        """The model as ONNX in the library, so that queries need no torch (once per library and model)."""
        from indexer.tower_export import ensure_exported

        ensure_exported(self.path, encoder.spec, encoder.text_tower, encoder.image_tower)

    def forget_vectors(self) -> None:
        """Drop every stored vector, so that the next run re-encodes every file and caption (with a new model,
        if one is asked for: a library without vectors takes any model)."""
        self.catalog.drop_all_vectors()

    def _holds_vectors(self) -> bool:
        counts = self.catalog.counts()
        return counts["media_vectors"] + counts["text_vectors"] > 0

    def reader_encoder(
        self, device: str = "auto", models: ModelCache | None = None, runtime: Runtime = "auto", brief: bool = False
    ) -> QueryModel:
        """The library's model for queries; its towers load on first use. Through ONNX Runtime (no torch) where
        the library holds a checked export and the runtime allows it; a query on a GPU asked for by name, or a
        library without an export, goes through torch. `brief`: the process asks a query or two and exits, so
        quick to open beats quick per call (see indexer.onnx_encoder)."""
        spec = self.model_spec()
        if spec is None:
            raise ModelError(f"the library at {self.path} has no model yet", "index a folder first")

        def torch_model() -> Encoder:
            from indexer.encoder import Encoder

            return Encoder(spec, device, models)

        if runtime in ("onnx", "onnx-int8") or (runtime == "auto" and device in ("auto", "cpu")):
            from indexer.onnx_encoder import find_export

            found = find_export(self.path, spec)
            int8 = {"onnx": False, "onnx-int8": True}.get(runtime)
            if found is not None and not (int8 and found[1].text_int8_error is None):
                from indexer.onnx_encoder import OnnxEncoder

                return OnnxEncoder(spec, found[0], found[1], functools.cache(torch_model), int8=int8, brief=brief)
            if runtime != "auto":
                raise ModelError(
                    f"the library at {self.path} holds no usable ONNX export of {spec.describe()}",
                    "run any writer on it once (xmodal index PATH, xmodal watch) to make one, or use --runtime torch",
                )
        return torch_model()

    # -- vectors ------------------------------------------------------------------------------

    def index_files(self, collection: Collection) -> IndexFiles:
        return IndexFiles(self.path / "index", collection)

    def vector_index(self, collection: Collection, mapped: bool = False) -> VectorIndex:
        """`mapped`: for searching only, never for syncing or saving (see IndexFiles.load)."""
        return VectorIndex(self.catalog, self.index_files(collection), collection, self.dim(), mapped)
