# Attention & Memory. The two commands a reader needs: `make book` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2
BOOK   := $(BIN)/jupyter-book build . --toc book/_toc.yml -W -n --keep-going
# The book's models are small: one torch thread per process is faster than two fighting over two cores, and the
# test run has several processes (two pytest workers, their notebook kernels, the book build).
export OMP_NUM_THREADS ?= 1

.PHONY: setup book book-graded test test-fast lab colab retarget bench assignments clean

setup: $(STAMP)

# torch==2.13.0 goes in first, so the package's lower bound (torch>=2.2) is already met and no CUDA build is pulled.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[book,test,course]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (attnmem)" >/dev/null
	touch $(STAMP)

# Executes every notebook, $(JOBS) at a time, into the build's cache (_build/.jupyter_cache; an unchanged chapter is
# not run again), then builds the HTML book into _build/html.
book: setup
	tools/offline $(BIN)/python tools/execute_chapters.py --jobs $(JOBS)
	tools/offline $(BOOK)

# Unit, learning, course-kit and book + browser tests, with the network off where the machine allows it. The book
# build executes every chapter once (allow_errors is off, so a cell that raises fails it); nothing runs them twice.
test: setup
	tools/offline $(BIN)/python -m pytest -n $(JOBS) --dist loadfile --no-loadscope-reorder -p no:cacheprovider \
		--durations=15 tests

# Package tests only (no notebooks, no book): about a minute.
test-fast: setup
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile -p no:cacheprovider -m "not book" tests

# JupyterLab with jupyterlab-myst (book extra), so exercises, solutions, citations and math render as in the book.
lab: setup
	$(BIN)/jupyter lab notebooks/

# The Colab edition of every chapter (colab/, tracked): MyST made plain, solutions folded in <details>.
colab: setup
	$(BIN)/python tools/colab.py

# Point the book at a fork: `make retarget URL=https://github.com/OWNER/REPO` writes the address into _config.yml and
# every copy of it (setup cells, Colab links and editions, course notebooks). Without URL: re-sync after a version bump.
retarget: setup
	$(BIN)/python tools/retarget.py $(URL)

# Every benchmark script writes its markdown table to benchmarks/results/ (benchmarks/_*.py are their shared helpers).
bench: setup
	for script in benchmarks/[!_]*.py; do \
		name=$$(basename $$script .py); \
		$(BIN)/python $$script --out benchmarks/results/$$name.md || exit 1; \
	done

# For every chapter with exercises: a student notebook (course/, tracked, so Colab can open it) and an
# otter-grader autograder with the solution notebook (assignments/, git-ignored). Grade one submission with
# `otter run -a assignments/NN_topic/autograder/NN_topic-autograder_*.zip -o results/ submission.ipynb`.
assignments: setup
	$(BIN)/python tools/assignments.py

# The book for a graded course: the same pages with every exercise's solution removed (not hidden), in
# _build/graded/_build/html. It reuses the book's execution cache, so after `make book` it only renders.
book-graded: setup
	$(BIN)/python tools/graded_config.py _build/graded/_config.yml
	tools/offline $(BIN)/jupyter-book build . --toc book/_toc.yml --config _build/graded/_config.yml \
		--path-output _build/graded -W -n --keep-going

clean:
	rm -rf _build .pytest_cache .hypothesis
