# Two entry points for a new machine: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The tested torch pair; on a GPU-less machine elsewhere, e.g.
#   make TORCH_SPEC="torch torchvision --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
DEMO_LIBRARY ?= demo-library
DEMO_WEIGHTS ?= .cache/demo-model/tiny-clip-random.pt
XMODAL := $(BIN)/xmodal

.PHONY: install demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	@echo "== model: tiny open_clip architecture, seeded random weights (text queries carry no meaning yet)"
	$(BIN)/python data/make_demo_model.py $(DEMO_WEIGHTS)
	@echo "== index the sample pictures and their sidecar captions"
	$(XMODAL) index data/samples --library $(DEMO_LIBRARY) --model data/models/tiny-clip.json --pretrained $(DEMO_WEIGHTS)
	$(XMODAL) stats --library $(DEMO_LIBRARY)
	@echo "== image -> image: pictures like red-circle.jpg (itself first, score 1.000)"
	$(XMODAL) search --image data/samples/red-circle.jpg --library $(DEMO_LIBRARY) -k 5
	@echo "== image -> text: captions for blue-square.jpg"
	$(XMODAL) search --image data/samples/blue-square.jpg --texts --library $(DEMO_LIBRARY) -k 3
	@echo "== text -> image (plumbing only with random weights)"
	$(XMODAL) search "a red circle" --library $(DEMO_LIBRARY) -k 3
	@echo "== a second run reads nothing again"
	$(XMODAL) index data/samples --library $(DEMO_LIBRARY)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/index_throughput.py
	$(BIN)/python bench/query_latency.py

clean:
	rm -rf $(DEMO_LIBRARY) .cache .pytest_cache .mypy_cache .ruff_cache
