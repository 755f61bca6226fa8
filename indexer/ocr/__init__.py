"""Words in pictures: Tesseract reads them in worker processes after a picture is embedded, and the lexical stage
searches them (screenshots, receipts, signs, slides, scans)."""
