"""`xmodal index --ray`: a local run whose files are read and encoded on a Ray cluster."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from core.settings import Settings
from indexer.cluster.reads import cluster_reads
from indexer.cluster.session import joined
from indexer.encoder import Encoder
from indexer.ingest.report import IndexReport
from indexer.ingest.run import index_paths
from indexer.library import Library


def index_on_cluster(
    library: Library, encoder: Encoder, paths: Iterable[str | Path], settings: Settings, quiet: bool = False
) -> IndexReport:
    """Index `paths` as index_paths does, on the cluster at settings.ray.address (a local Ray when unset). The
    workers read the files by the paths found here: they must see them at the same paths (a shared filesystem)."""
    with joined(settings.ray.address) as cluster:
        return index_paths(library, encoder, paths, settings, quiet, read_source=cluster_reads(cluster, settings.ray))
