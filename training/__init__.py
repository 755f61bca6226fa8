"""Making and measuring models: `xmodal train` (contrastive training and fine-tuning), `xmodal eval`
(retrieval quality through the engine next to exact search), the image–caption pairs both read, and
seeded random weights for plumbing tests and benchmarks."""
