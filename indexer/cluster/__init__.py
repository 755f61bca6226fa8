"""Indexing on a Ray cluster: the plan and every write stay in the one writer process; files are read and decoded in
Ray tasks and encoded by a pool of actors that each hold the model, and their outcomes come back in plan order to
the same run (indexer.ingest.run) that a local index uses. Ray is imported only here, and only when asked for."""
