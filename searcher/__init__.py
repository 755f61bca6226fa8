"""The reading side of xmodal: query encoding, ANN candidates, exact rescoring, hits."""
