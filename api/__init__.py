"""Adapters over the searcher and indexer: the CLI now, the web API later. No search logic here."""
