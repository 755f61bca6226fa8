"""The web API's endpoints, by concern: searches, media by id, and the service's own (health, stats, metrics)."""
