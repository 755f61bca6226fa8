"""Bringing files into a library: plan → read+decode → encode → write, each a small module with typed items,
composed and timed in run.py; corpus.py adds text files to the image→text corpus."""

from indexer.ingest.corpus import add_texts
from indexer.ingest.report import IndexReport, StageTimes
from indexer.ingest.run import IndexRun, index_paths

__all__ = ["IndexReport", "IndexRun", "StageTimes", "add_texts", "index_paths"]
