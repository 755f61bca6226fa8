"""What every other package builds on: the one settings object, the errors a user can act on, the
declaration of the search options, and atomic file writes. Imports nothing else of xmodal."""
