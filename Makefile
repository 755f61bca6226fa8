# Two entry points for a new machine: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The tested torch pair; on a GPU-less machine elsewhere, e.g.
#   make TORCH_SPEC="torch torchvision --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
DEMO_LIBRARY ?= demo-library
XMODAL := $(BIN)/xmodal

.PHONY: install system browser demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# What the system must provide (Debian's packages; needs root): Tesseract's English and Simplified Chinese data for
# reading words in pictures, fonts the OCR tests render words with, and chromium for the page's browser test
# (Playwright drives it; its own browser download cannot run here).
SYSTEM_PACKAGES := chromium tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim fonts-dejavu-core fonts-wqy-microhei
system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "== installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

browser: system

demo: install
	@echo "== index 30 held-out scenes (never seen in training) with the shipped demo model"
	rm -rf $(DEMO_LIBRARY)
	$(XMODAL) index data/samples/images --library $(DEMO_LIBRARY) --model demo
	$(XMODAL) stats --library $(DEMO_LIBRARY)
	@echo "== text -> image"
	$(XMODAL) search "a red circle" --library $(DEMO_LIBRARY) -k 4
	$(XMODAL) search "green squares" --library $(DEMO_LIBRARY) -k 4
	@echo "== the model alone (no names or captions): the same red circles"
	$(XMODAL) search "a red circle" --no-hybrid --library $(DEMO_LIBRARY) -k 4
	@echo "== in Chinese: red circles, two blue squares"
	$(XMODAL) search "红色的圆" --library $(DEMO_LIBRARY) -k 4
	$(XMODAL) search "两个蓝色方块" --library $(DEMO_LIBRARY) -k 4
	@echo "== the query language: red things, but not circles"
	$(XMODAL) search "2:red - circle" --library $(DEMO_LIBRARY) -k 4
	@echo "== image -> text: what describes scene-7-00023.png (two blue squares on sand)?"
	$(XMODAL) search --image data/samples/images/scene-7-00023.png --texts --library $(DEMO_LIBRARY) -k 3
	@echo "== image -> image: pictures like scene-7-00009.png (a red circle)"
	$(XMODAL) search --image data/samples/images/scene-7-00009.png --library $(DEMO_LIBRARY) -k 4
	@echo "== quality on these pairs, through the engine and exactly"
	$(XMODAL) eval --pairs data/samples/pairs.csv --model demo --stages
	@echo "== the demo world in motion: 3 new videos in which scenes appear, move and leave at known times"
	rm -rf $(DEMO_LIBRARY)-videos
	$(BIN)/python -m data.scene_videos $(DEMO_LIBRARY)-videos --count 3 --heldout --seed 7
	$(XMODAL) index $(DEMO_LIBRARY)-videos/videos --library $(DEMO_LIBRARY)
	@echo "== text -> video moment: three yellow squares are on screen in video-7-0001.mp4 from 15.0 s to 19.8 s"
	$(XMODAL) search "three yellow squares" --type video --library $(DEMO_LIBRARY) -k 3
	@echo "== localisation on those videos: does each caption's top moment overlap its true interval?"
	$(XMODAL) eval --moments $(DEMO_LIBRARY)-videos/moments.csv --model demo
	@echo "== words in pictures: receipts, slides, signs and screenshots, in English and Chinese (Tesseract: make system)"
	rm -rf $(DEMO_LIBRARY)-words
	$(BIN)/python -m data.text_pictures $(DEMO_LIBRARY)-words --count 10 --seed 7 --kinds receipt,slide,sign,screenshot
	$(XMODAL) index $(DEMO_LIBRARY)-words/images --library $(DEMO_LIBRARY)
	@echo "== a receipt by its words: the invoice of the shop Cheboun is 图像-0005.png"
	$(XMODAL) search "invoice 2024 cheboun" --library $(DEMO_LIBRARY) -k 3
	@echo "== a Chinese word inside a line: 停车场 (car park) is on the receipt pic-0000.jpg"
	$(XMODAL) search "停车场" --library $(DEMO_LIBRARY) -k 3
	@echo "== a second run reads nothing again"
	$(XMODAL) index data/samples/images $(DEMO_LIBRARY)-videos/videos $(DEMO_LIBRARY)-words/images --library $(DEMO_LIBRARY)
	@echo "== browse it: $(XMODAL) serve --library $(DEMO_LIBRARY)   (then open http://127.0.0.1:8000/)"

# Each step says how long it took, and pytest lists its slowest tests: where the time goes.
lint: install
	@start=$$(date +%s); $(BIN)/ruff check . && $(BIN)/ruff format --check .; status=$$?; \
	  echo "== ruff: $$(( $$(date +%s) - start ))s"; exit $$status
	@start=$$(date +%s); $(BIN)/mypy; status=$$?; echo "== mypy: $$(( $$(date +%s) - start ))s"; exit $$status

test: lint
	@start=$$(date +%s); $(BIN)/python -m pytest -q --durations=15; status=$$?; \
	  echo "== pytest: $$(( $$(date +%s) - start ))s"; exit $$status

bench: install
	$(BIN)/python -m bench.index_throughput
	$(BIN)/python -m bench.query_latency
	$(BIN)/python -m bench.demo_quality
	$(BIN)/python -m bench.demo_generalisation
	$(BIN)/python -m bench.watch_latency
	$(BIN)/python -m bench.serve_load

clean:
	rm -rf $(DEMO_LIBRARY) $(DEMO_LIBRARY)-videos $(DEMO_LIBRARY)-words .cache .pytest_cache .mypy_cache .ruff_cache test-artifacts
