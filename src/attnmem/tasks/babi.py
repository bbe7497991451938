"""bAbI question answering (Weston et al. 2015): generate the 20 task families, read and write the public format,
and turn stories into tensors for a memory network.

- ``generate(task, n_questions, seed)`` tells stories from the simulated world in ``babi_world`` until it has asked
  ``n_questions`` questions; ``generate_split(task, "1k" | "10k", seed)`` gives a training and a test set
  (1,000 or 10,000 training questions and 1,000 test questions, the sizes of the public files).
- ``write_babi`` / ``write_tasks`` write the public text format; ``read_babi`` / ``parse_babi`` read it back, and
  ``load_public(directory, task)`` reads a task of the public release (``tasks_1-20_v1-2/en/``), which one
  command fetches and unpacks (``PUBLIC_COMMAND``)::

      curl -L http://www.thespermwhale.com/jaseweston/babi/tasks_1-20_v1-2.tar.gz | tar xz
- ``samples(stories)`` makes one ``Sample`` per question (the statements before it are its context);
  ``Vocabulary`` and ``vectorize`` turn samples into a ``BabiBatch`` of padded index tensors.

The public format, line by line: ``ID text``. IDs count from 1 and restart at 1 when a new story begins.
A statement is ``ID sentence.``; a question is ``ID question?<TAB>answer<TAB>supporting ids``, often with a space
before the first tab. Answers may be comma lists (``apple,milk``, ``s,e``); supporting ids are space separated and
name earlier lines of the same story (question lines take ids too).
"""
from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

import torch
from torch import Tensor

from attnmem.tasks import check_examples
from attnmem.tasks.babi_world import FAMILIES, TASK_NAMES, Line, lexicon, tokenize

__all__ = [
    "Line", "Story", "Sample", "BabiSplit", "BabiBatch", "BabiFormatError", "Vocabulary", "TASKS", "TASK_NAMES",
    "SIZES", "PUBLIC_COMMAND", "task_number", "generate", "generate_split", "format_stories", "write_babi",
    "write_tasks", "parse_babi", "read_babi", "public_files", "load_public", "samples", "answer_word", "vectorize", "tokenize",
    "lexicon",
]

Story = tuple[Line, ...]
TASKS: tuple[int, ...] = tuple(FAMILIES)
SIZES: dict[str, int] = {"1k": 1000, "10k": 10000}
TEST_QUESTIONS = 1000
#: the one command that downloads and unpacks the public release into ./tasks_1-20_v1-2 (about 15 MB)
PUBLIC_COMMAND = "curl -L http://www.thespermwhale.com/jaseweston/babi/tasks_1-20_v1-2.tar.gz | tar xz"


class BabiFormatError(ValueError):
    """A file (or string) that is not in the public bAbI format; the message names the file and the line."""


class BabiSplit(NamedTuple):
    train: list[Story]
    test: list[Story]


class Sample(NamedTuple):
    """One question with everything before it in its story."""

    context: tuple[str, ...]  # the statements before the question, oldest first
    context_ids: tuple[int, ...]  # their line ids
    question: str
    answer: tuple[str, ...]
    support: tuple[int, ...]  # line ids of the supporting facts


# --- generating ------------------------------------------------------------------------------------------------
def task_number(task: int | str) -> int:
    """Accept ``3``, ``"qa3"``, ``"qa3_three-supporting-facts"`` or ``"three-supporting-facts"``; return 3."""
    if isinstance(task, int) and not isinstance(task, bool) and task in FAMILIES:
        return task
    if isinstance(task, str):
        for number, stem in TASK_NAMES.items():
            if task in (stem, f"qa{number}", FAMILIES[number][0]):
                return number
    raise ValueError(
        f"unknown bAbI task {task!r}; use a number 1-20, 'qa1'...'qa20' or a name such as "
        f"'single-supporting-fact' (all names: {', '.join(name for name, _ in FAMILIES.values())})"
    )


def generate(task: int | str, n_questions: int, seed: int) -> list[Story]:
    """Stories of one task family holding exactly ``n_questions`` questions; the same seed gives the same stories."""
    number = task_number(task)
    check_examples("n_questions", n_questions)
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    rng = random.Random(seed * 1000 + number)
    tell = FAMILIES[number][1]
    stories: list[Story] = []
    asked = 0
    while asked < n_questions:
        lines = tell(rng)
        questions = [i for i, line in enumerate(lines) if line.is_question]
        keep = questions[: n_questions - asked]
        stories.append(tuple(lines[: keep[-1] + 1]))
        asked += len(keep)
    return stories


def generate_split(task: int | str, size: str = "1k", seed: int = 0) -> BabiSplit:
    """Training stories (``size`` "1k" or "10k" questions) and 1,000 test questions from a separate stream."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    return BabiSplit(generate(task, SIZES[size], 2 * seed), generate(task, TEST_QUESTIONS, 2 * seed + 1))


# --- writing ---------------------------------------------------------------------------------------------------
def format_stories(stories: Iterable[Story]) -> str:
    """The public text format of ``stories`` (with the space before the tab that most public tasks have)."""
    out = []
    for story in stories:
        for line in story:
            if line.is_question:
                support = " ".join(str(i) for i in line.support)
                out.append(f"{line.id} {line.text} \t{','.join(line.answer or ())}\t{support}")
            else:
                out.append(f"{line.id} {line.text}")
    return "\n".join(out) + "\n"


def write_babi(stories: Iterable[Story], path: str | Path) -> Path:
    """Write ``stories`` to ``path`` in the public format; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_stories(stories))
    return path


def write_tasks(directory: str | Path, size: str = "1k", seed: int = 0,
                tasks: Sequence[int | str] = TASKS) -> list[Path]:
    """Write ``qaN_name_train.txt`` and ``qaN_name_test.txt`` for each task, named like the public release."""
    written = []
    for task in tasks:
        number = task_number(task)
        split = generate_split(number, size, seed)
        for part, stories in zip(("train", "test"), split):
            written.append(write_babi(stories, Path(directory) / f"{TASK_NAMES[number]}_{part}.txt"))
    return written


# --- reading ---------------------------------------------------------------------------------------------------
_LINE = re.compile(r"(\d+) (.*)")
_ANSWER = re.compile(r"[^\s,]+(,[^\s,]+)*")
_SUPPORT = re.compile(r"\d+( \d+)*")


def _parse_line(raw: str, where: str, story: list[Line]) -> Line:
    if raw.endswith("\r"):
        raise BabiFormatError(f"{where}: the line ends with a carriage return (Windows line ending); "
                              f"convert the file to plain newlines (e.g. with dos2unix)")
    found = _LINE.fullmatch(raw)
    if not found:
        raise BabiFormatError(f"{where}: expected 'ID text' (a number, one space, the text), got {raw!r}")
    number, text = int(found.group(1)), found.group(2)
    expected = len(story) + 1
    if number not in (1, expected):
        raise BabiFormatError(f"{where}: line id {number} should be {expected} (the next line of this story) "
                              f"or 1 (the start of a new story)")
    if "\t" not in text:
        if not text.endswith(".") or not tokenize(text):
            raise BabiFormatError(f"{where}: a statement must be a non-empty sentence ending with '.', got {text!r}; "
                                  f"a question needs '<TAB>answer<TAB>supporting ids' after it")
        return Line(number, text)
    fields = text.split("\t")
    if len(fields) != 3:
        raise BabiFormatError(f"{where}: a question line has exactly two tabs (question, answer, supporting ids); "
                              f"found {len(fields) - 1}")
    question, answer, support = fields
    question = question[:-1] if question.endswith(" ") else question
    if not question.endswith("?") or not tokenize(question):
        raise BabiFormatError(f"{where}: the question {question!r} must be non-empty and end with '?'")
    if not _ANSWER.fullmatch(answer):
        raise BabiFormatError(f"{where}: the answer {answer!r} must be a word or a comma list without spaces "
                              f"(like 'kitchen' or 'apple,milk')")
    if not _SUPPORT.fullmatch(support):
        raise BabiFormatError(f"{where}: supporting ids {support!r} must be line numbers separated by single spaces")
    ids = tuple(int(i) for i in support.split())
    later = [i for i in ids if not 1 <= i < number]
    if later:
        raise BabiFormatError(f"{where}: supporting id(s) {later} do not name an earlier line of this story "
                              f"(lines 1..{number - 1})")
    return Line(number, question, tuple(answer.split(",")), ids)


def parse_babi(text: str, source: str = "<string>") -> list[Story]:
    """Parse text in the public bAbI format into stories; ``source`` names the file in error messages."""
    if not isinstance(text, str):
        raise TypeError(f"parse_babi needs the file's text as a str, got {type(text).__name__}")
    rows = text.split("\n")
    if rows and rows[-1] == "":
        rows.pop()  # the newline that ends the last line
    if not rows:
        raise BabiFormatError(f"{source}: the file is empty; a bAbI file has at least one story")
    stories: list[list[Line]] = []
    for number, raw in enumerate(rows, start=1):
        where = f"{source}, line {number}"
        if raw == "":
            raise BabiFormatError(f"{where}: blank line; bAbI files have no blank lines (stories restart at id 1)")
        current = stories[-1] if stories else []
        line = _parse_line(raw, where, current if raw.split(" ", 1)[0] != "1" else [])
        if line.id == 1:
            stories.append([line])
        else:
            current.append(line)
    return [tuple(story) for story in stories]


def read_babi(path: str | Path) -> list[Story]:
    """Read a bAbI file (public or written by ``write_babi``) into stories; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no bAbI file at {path}; download the public tasks with `{PUBLIC_COMMAND}` "
                                f"or write generated ones with write_tasks")
    try:
        text = path.read_bytes().decode("utf-8")  # bytes, so a Windows line ending is seen and reported
    except UnicodeDecodeError as error:
        raise BabiFormatError(f"{path}: not UTF-8 text ({error}); bAbI files are plain UTF-8 text") from None
    return parse_babi(text, str(path))


_TASK_FILE = re.compile(r"qa([1-9]|1[0-9]|20)(_[a-z-]+)?_(train|valid|test)\.txt")


def public_files(directory: str | Path, task: int | str) -> dict[str, Path]:
    """The files of task ``task`` in a folder of the public release: ``{"train": ..., "test": ...}``, plus
    ``"valid"`` where the folder has one.

    Both layouts of the release are read: ``en`` and ``en-10k`` name files ``qa1_single-supporting-fact_train.txt``;
    ``en-valid`` and ``en-valid-10k`` name them ``qa1_train.txt``, ``qa1_valid.txt``, ``qa1_test.txt``. A folder
    that is not one of these, and a folder that lacks one of the task's files, are told apart in the error.
    """
    number = task_number(task)
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"no folder {directory}; download and unpack the public tasks with "
                                f"`{PUBLIC_COMMAND}` and point at tasks_1-20_v1-2/en (or en-10k, en-valid)")
    found = [match for p in directory.iterdir() if (match := _TASK_FILE.fullmatch(p.name))]
    if not found:
        raise FileNotFoundError(f"{directory} holds no bAbI task files (such as {TASK_NAMES[number]}_train.txt); "
                                f"point at the folder of the release that holds them, tasks_1-20_v1-2/en (or "
                                f"en-10k, en-valid), which `{PUBLIC_COMMAND}` creates")
    short_names = all(match.group(2) is None for match in found)  # the en-valid layout
    stem = f"qa{number}" if short_names else TASK_NAMES[number]
    files = {part: directory / f"{stem}_{part}.txt" for part in ("train", "valid", "test")}
    if not short_names:  # only the en-valid folders hold validation files
        del files["valid"]
    missing = [path.name for part, path in files.items() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"{directory} is a folder of bAbI files but lacks {' and '.join(missing)} (task "
                                f"{number}); the download may be incomplete: unpack it again with `{PUBLIC_COMMAND}`"
                                f", or leave task {number} out")
    return files


def load_public(directory: str | Path, task: int | str) -> BabiSplit:
    """Read task ``task`` from a folder of the public release, e.g. ``tasks_1-20_v1-2/en`` (or ``en-10k``).

    In the ``en-valid`` folders the training file is the 1k (or 10k) set less its validation file, which
    ``public_files`` finds.
    """
    files = public_files(directory, task)
    return BabiSplit(read_babi(files["train"]), read_babi(files["test"]))


# --- vectorizing -----------------------------------------------------------------------------------------------
def samples(stories: Iterable[Story]) -> list[Sample]:
    """One ``Sample`` per question: its context is every statement of the story before it."""
    out = []
    for story in stories:
        context: list[Line] = []
        for line in story:
            if line.is_question:
                out.append(Sample(tuple(s.text for s in context), tuple(s.id for s in context), line.text,
                                  tuple(line.answer or ()), line.support))
            else:
                context.append(line)
    return out


def answer_word(answer: Sequence[str]) -> str:
    """The single output word for an answer, lower-cased: a comma list is one word (``("apple", "milk")`` -> ``apple,milk``)."""
    return ",".join(answer).lower()


class Vocabulary:
    """Words <-> indices; index 0 is the padding word ``<pad>``, which embeds to zero in the model.

    With ``unknown=True`` index 1 is ``<unk>``, which stands for every word the vocabulary was not built with
    (a test answer never seen in training is then simply a wrong answer); otherwise such a word is an error.
    """

    PAD = "<pad>"
    UNK = "<unk>"

    def __init__(self, words: Iterable[str], unknown: bool = False):
        unique = sorted(set(words) - {self.PAD, self.UNK})
        if not unique:
            raise ValueError("a vocabulary needs at least one word")
        self.unknown = unknown
        self.words: list[str] = [self.PAD, *([self.UNK] if unknown else []), *unique]
        self.index: dict[str, int] = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def from_samples(cls, data: Iterable[Sample], unknown: bool = False) -> "Vocabulary":
        """Every word of the contexts, questions and answers of ``data`` (for the public files).

        Build it from the training files with ``unknown=True`` so that test words never seen in training map to
        ``<unk>`` (task 8's test set has answers such as ``football,apple,milk`` that no training answer has).
        """
        words: set[str] = set()
        for sample in data:
            for sentence in (*sample.context, sample.question):
                words.update(tokenize(sentence))
            words.add(answer_word(sample.answer))
        return cls(words, unknown)

    @classmethod
    def generator(cls) -> "Vocabulary":
        """The fixed vocabulary of every word the generator can write (``babi_world.lexicon()``)."""
        return cls(lexicon())

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, word: str) -> int:
        if word in self.index and word != self.UNK:
            return self.index[word]
        if self.unknown:
            return self.index[self.UNK]
        raise KeyError(f"unknown word {word!r}: it is not among the {len(self)} words of this vocabulary; build "
                       f"the vocabulary from data that contains it, or with unknown=True to map such words to "
                       f"{self.UNK} (Vocabulary.from_samples(train, unknown=True))")

    def sentence(self, text: str) -> list[int]:
        words = tokenize(text)
        if not words:
            raise ValueError(f"empty sentence {text!r}: every statement and question needs at least one word")
        return [self.encode(w) for w in words]


class BabiBatch(NamedTuple):
    """Padded tensors for a batch of questions (B questions, M memory slots, L words per sentence)."""

    memory: Tensor  # (B, M, L) word indices of the stored sentences, oldest first, 0 = padding
    memory_mask: Tensor  # (B, M) True where a slot holds a sentence
    times: Tensor  # (B, M) temporal index of each slot: 0 = the most recent sentence (Sukhbaatar et al. Sec. 4.1)
    query: Tensor  # (B, L) word indices of the question
    answer: Tensor  # (B,) index of the answer word
    support: Tensor  # (B, M) True on the supporting facts that are still in memory

    @property
    def size(self) -> int:
        """The number of questions."""
        return int(self.answer.shape[0])

    def select(self, index: Tensor) -> "BabiBatch":
        """The questions at ``index`` (a LongTensor or a slice), as a smaller batch."""
        return BabiBatch(*(t[index] for t in self))


def vectorize(data: Sequence[Sample], vocab: Vocabulary, memory_size: int = 50,
              sentence_length: int | None = None) -> BabiBatch:
    """Index tensors for ``data``: the ``memory_size`` most recent statements, each padded to ``sentence_length``.

    ``sentence_length`` defaults to the longest sentence in ``data``; a longer sentence is an error. The temporal
    index counts back from the question (0 = last statement), as in the temporal encoding of Sukhbaatar et al.
    """
    if not data:
        raise ValueError("vectorize needs at least one sample; got an empty list")
    if memory_size < 1:
        raise ValueError(f"memory_size must be at least 1, got {memory_size}")
    encoded = []
    for sample in data:
        keep = slice(max(0, len(sample.context) - memory_size), None)
        memory = [vocab.sentence(s) for s in sample.context[keep]]
        ids = sample.context_ids[keep]
        encoded.append((memory, ids, vocab.sentence(sample.question), vocab.encode(answer_word(sample.answer)),
                        set(sample.support)))
    longest = max(len(s) for memory, _, query, _, _ in encoded for s in [*memory, query])
    length = sentence_length or longest
    if longest > length:
        raise ValueError(f"a sentence has {longest} words but sentence_length is {length}; raise sentence_length")
    slots = max(1, max(len(m) for m, *_ in encoded))
    n = len(encoded)
    memory_t = torch.zeros(n, slots, length, dtype=torch.long)
    mask = torch.zeros(n, slots, dtype=torch.bool)
    times = torch.zeros(n, slots, dtype=torch.long)
    query_t = torch.zeros(n, length, dtype=torch.long)
    answer_t = torch.zeros(n, dtype=torch.long)
    support_t = torch.zeros(n, slots, dtype=torch.bool)
    for b, (memory, ids, query, answer, support) in enumerate(encoded):
        for slot, (sentence, line_id) in enumerate(zip(memory, ids)):
            memory_t[b, slot, : len(sentence)] = torch.tensor(sentence)
            mask[b, slot] = True
            times[b, slot] = len(memory) - 1 - slot
            support_t[b, slot] = line_id in support
        query_t[b, : len(query)] = torch.tensor(query)
        answer_t[b] = answer
    return BabiBatch(memory_t, mask, times, query_t, answer_t, support_t)
