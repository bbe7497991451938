# Attention & Memory — the two commands a reader needs are `make book` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2

.PHONY: setup book test test-fast lab bench assignments clean

setup: $(STAMP)

# torch==2.13.0 first, so the package's lower bound (torch>=2.2) is already met and no CUDA build is pulled.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (attnmem)" >/dev/null
	touch $(STAMP)

book: setup
	$(BIN)/jupyter-book build . --toc book/_toc.yml -W -n --keep-going

test: setup
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile -p no:cacheprovider tests notebooks --nbval-lax

test-fast: setup
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile -m "not book and not browser" tests

lab: setup
	$(BIN)/jupyter lab notebooks/

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf _build .pytest_cache .hypothesis
