"""Translation data for chapters 2–4: a synthetic language pair, vocabularies, batches, and a corpus loader.

The synthetic pair is made by this module's own small grammar, so every source sentence has exactly one correct
translation and the alignment between the two is known. The target language ("Zeta") differs from the
English-like source in ways that make attention necessary and its alignments worth looking at:

- **reordering**: each clause is verb-final (subject, object, verb, as in Japanese), and inside a noun phrase the
  noun comes first, then its adjectives, then the article (``the big dog`` -> ``kano grun ke``);
- **one word becomes two**: each adverb turns into a two-word phrase (``quickly`` -> ``pli rapid``);
- **agreement that looks far back**: the verb ends in ``-a`` or ``-o`` to agree with the noun class of the clause's
  *subject*, which in Zeta sits at the other end of the clause, beyond the whole object phrase.

Sentences are clauses joined by ``and``; ``sample_source(length, rng)`` builds a sentence of exactly ``length``
words, so accuracy can be measured against length (Bahdanau et al. 2015, Figure 2). By default clause lengths are
drawn one after another, so the number of clauses grows with the length (about one per 7.5 words);
``clause_counts="even"`` first draws the number of clauses evenly from all that can make the length, so short
sentences made of many short clauses are as common as any (a training distribution whose 30-word sentences have
from 3 to 7 clauses, as many as most 45-word ones). ``order="monotone"`` gives a
word-by-word variant without reordering, for the reversed-source experiment of Sutskever et al. (2014).

For real data, ``load_parallel`` reads the tab-separated format of the Tatoeba/Anki files (``fra.txt``: one
``source<TAB>target<TAB>attribution`` pair a line).
"""
from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Sequence

import torch
from torch import Tensor

from attnmem.tasks import check_examples

__all__ = [
    "NOUNS",
    "ADJECTIVES",
    "TRANSITIVE_VERBS",
    "INTRANSITIVE_VERBS",
    "ADVERBS",
    "ORDERS",
    "CLAUSE_COUNTS",
    "GrammarError",
    "Clause",
    "possible_clause_counts",
    "sample_clauses",
    "sample_source",
    "parse",
    "translate",
    "alignment",
    "Pair",
    "sample_pairs",
    "Vocab",
    "source_vocab",
    "target_vocab",
    "Batch",
    "make_batch",
    "SyntheticTranslation",
    "CorpusError",
    "ParallelCorpus",
    "Split",
    "normalize",
    "tokenize",
    "detokenize",
    "load_parallel",
    "split_indices",
    "split_pairs",
]

# --- the lexicon: source word -> Zeta word ------------------------------------------------------------------------
#: noun -> (Zeta noun, noun class). The class is the noun's last letter, and the verb of a clause agrees with it.
NOUNS: dict[str, tuple[str, str]] = {
    "dog": ("kano", "o"), "bird": ("piro", "o"), "horse": ("belo", "o"), "owl": ("buho", "o"),
    "cat": ("mina", "a"), "fox": ("rusa", "a"), "cow": ("vaka", "a"), "frog": ("rana", "a"),
}
ADJECTIVES: dict[str, str] = {"big": "grun", "small": "lit", "red": "rof", "old": "alt", "happy": "fel", "quiet": "sil"}
DETERMINERS: dict[str, str] = {"the": "ke", "a": "un"}
#: verb -> Zeta stem; the inflected verb is stem + "a" or stem + "o".
TRANSITIVE_VERBS: dict[str, str] = {"sees": "vid", "chases": "kas", "likes": "am", "feeds": "nut", "finds": "trov"}
INTRANSITIVE_VERBS: dict[str, str] = {"runs": "kur", "sleeps": "dorm", "sings": "kant"}
#: adverb -> its two-word Zeta phrase.
ADVERBS: dict[str, tuple[str, str]] = {"quickly": ("pli", "rapid"), "slowly": ("pli", "lent"), "often": ("mult", "fojo")}
CONJUNCTION = ("and", "kaj")
ORDERS = ("reordered", "monotone")
CLAUSE_COUNTS = ("natural", "even")
MAX_ADJECTIVES = 2  # per noun phrase


class GrammarError(ValueError):
    """A sentence the synthetic grammar cannot produce (or a length it cannot reach)."""


@dataclass(frozen=True)
class NounPhrase:
    determiner: str
    adjectives: tuple[str, ...]
    noun: str

    def source(self) -> list[str]:
        return [self.determiner, *self.adjectives, self.noun]

    def zeta(self, order: str) -> list[str]:
        words = [DETERMINERS[self.determiner], *(ADJECTIVES[a] for a in self.adjectives), NOUNS[self.noun][0]]
        return words if order == "monotone" else [words[-1], *words[1:-1], words[0]]


@dataclass(frozen=True)
class Clause:
    """One clause: ``subject [adverb] verb [object]``; the verb is transitive exactly when there is an object."""

    subject: NounPhrase
    verb: str
    adverb: str | None = None
    object: NounPhrase | None = None

    def source(self) -> list[str]:
        words = self.subject.source() + ([self.adverb] if self.adverb else []) + [self.verb]
        return words + (self.object.source() if self.object else [])

    def zeta(self, order: str = "reordered") -> list[str]:
        stem = TRANSITIVE_VERBS.get(self.verb) or INTRANSITIVE_VERBS[self.verb]
        verb = stem + NOUNS[self.subject.noun][1]  # agreement with the subject's noun class
        adverb = list(ADVERBS[self.adverb]) if self.adverb else []
        obj = self.object.zeta(order) if self.object else []
        if order == "monotone":
            return self.subject.zeta(order) + adverb + [verb] + obj
        return self.subject.zeta(order) + obj + adverb + [verb]


def _check_order(order: str) -> None:
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")


# --- sampling sentences of an exact length ------------------------------------------------------------------------
def _clause_shapes() -> dict[int, list[tuple[int, bool, bool, int]]]:
    """Every clause shape (subject adjectives, adverb?, object?, object adjectives) grouped by its word count."""
    shapes: dict[int, list[tuple[int, bool, bool, int]]] = {}
    for subject_adjectives in range(MAX_ADJECTIVES + 1):
        for adverb in (False, True):
            for has_object in (False, True):
                for object_adjectives in range(MAX_ADJECTIVES + 1) if has_object else [0]:
                    words = 2 + subject_adjectives + adverb + 1 + (2 + object_adjectives if has_object else 0)
                    shapes.setdefault(words, []).append((subject_adjectives, adverb, has_object, object_adjectives))
    return shapes


_SHAPES = _clause_shapes()
MIN_CLAUSE, MAX_CLAUSE = min(_SHAPES), max(_SHAPES)  # 3 and 10 words


def _noun_phrase(adjectives: int, rng: random.Random) -> NounPhrase:
    return NounPhrase(rng.choice(sorted(DETERMINERS)), tuple(rng.sample(sorted(ADJECTIVES), adjectives)),
                      rng.choice(sorted(NOUNS)))


def _clause(words: int, rng: random.Random) -> Clause:
    subject_adjectives, adverb, has_object, object_adjectives = rng.choice(_SHAPES[words])
    verbs = TRANSITIVE_VERBS if has_object else INTRANSITIVE_VERBS
    return Clause(
        subject=_noun_phrase(subject_adjectives, rng),
        verb=rng.choice(sorted(verbs)),
        adverb=rng.choice(sorted(ADVERBS)) if adverb else None,
        object=_noun_phrase(object_adjectives, rng) if has_object else None,
    )


def possible_clause_counts(length: int) -> range:
    """How many clauses a sentence of ``length`` words can have (k clauses of 3-10 words joined by k - 1 ``and``)."""
    return range(-(-(length + 1) // (MAX_CLAUSE + 1)), (length + 1) // (MIN_CLAUSE + 1) + 1)


def _clauses_of_count(length: int, count: int, rng: random.Random) -> list[Clause]:
    """``count`` clauses, lengths drawn one by one from what still leaves the rest a possible length."""
    clauses, remaining = [], length - (count - 1)  # words left for clauses, the ``and``s taken out
    for left in range(count - 1, -1, -1):
        shortest = max(MIN_CLAUSE, remaining - MAX_CLAUSE * left)
        words = rng.randint(shortest, min(MAX_CLAUSE, remaining - MIN_CLAUSE * left))
        clauses.append(_clause(words, rng))
        remaining -= words
    return clauses


def sample_clauses(length: int, rng: random.Random, clause_counts: str = "natural") -> list[Clause]:
    """Clauses whose source sentence (clauses joined by ``and``) has exactly ``length`` words.

    ``clause_counts="natural"`` draws clause lengths one after another (3-10 words, the last takes the rest);
    ``"even"`` first draws the number of clauses evenly from ``possible_clause_counts(length)``.
    """
    if not isinstance(length, int) or length < MIN_CLAUSE:
        raise GrammarError(f"the shortest sentence has {MIN_CLAUSE} words ('the dog runs'); got length {length!r}")
    if clause_counts not in CLAUSE_COUNTS:
        raise ValueError(f"clause_counts must be one of {CLAUSE_COUNTS}, got {clause_counts!r}")
    if clause_counts == "even":
        return _clauses_of_count(length, rng.choice(possible_clause_counts(length)), rng)
    clauses, remaining = [], length
    while remaining > MAX_CLAUSE:
        # leave room for "and" plus at least one more clause of MIN_CLAUSE words
        words = rng.randint(MIN_CLAUSE, min(MAX_CLAUSE, remaining - 1 - MIN_CLAUSE))
        clauses.append(_clause(words, rng))
        remaining -= words + 1
    clauses.append(_clause(remaining, rng))
    return clauses


def _join(parts: list[list[str]], conjunction: str) -> list[str]:
    words: list[str] = []
    for i, part in enumerate(parts):
        words += ([conjunction] if i else []) + part
    return words


def sample_source(length: int, rng: random.Random) -> list[str]:
    """A random source sentence of exactly ``length`` words."""
    return _join([c.source() for c in sample_clauses(length, rng)], CONJUNCTION[0])


# --- parsing and translating --------------------------------------------------------------------------------------
def _parse_noun_phrase(words: list[str], at: int, sentence: str) -> tuple[NounPhrase, int]:
    if at >= len(words) or words[at] not in DETERMINERS:
        found = words[at] if at < len(words) else "the end of the clause"
        raise GrammarError(f"expected 'the' or 'a' to start a noun phrase at word {at + 1} of {sentence!r}, "
                           f"found {found!r}")
    determiner, at = words[at], at + 1
    adjectives = []
    while at < len(words) and words[at] in ADJECTIVES:
        adjectives.append(words[at])
        at += 1
    if len(adjectives) > MAX_ADJECTIVES:
        raise GrammarError(f"at most {MAX_ADJECTIVES} adjectives per noun in {sentence!r}")
    if at >= len(words) or words[at] not in NOUNS:
        found = words[at] if at < len(words) else "the end of the clause"
        raise GrammarError(f"expected a noun ({', '.join(sorted(NOUNS))}) at word {at + 1} of {sentence!r}, "
                           f"found {found!r}")
    return NounPhrase(determiner, tuple(adjectives), words[at]), at + 1


def _parse_clause(words: list[str], sentence: str) -> Clause:
    subject, at = _parse_noun_phrase(words, 0, sentence)
    adverb = None
    if at < len(words) and words[at] in ADVERBS:
        adverb, at = words[at], at + 1
    if at >= len(words) or (words[at] not in TRANSITIVE_VERBS and words[at] not in INTRANSITIVE_VERBS):
        found = words[at] if at < len(words) else "nothing"
        verbs = ", ".join(sorted(TRANSITIVE_VERBS) + sorted(INTRANSITIVE_VERBS))
        raise GrammarError(f"expected a verb ({verbs}) after the subject in {sentence!r}, found {found!r}")
    verb, at = words[at], at + 1
    obj = None
    if verb in TRANSITIVE_VERBS:
        obj, at = _parse_noun_phrase(words, at, sentence)
    if at != len(words):
        raise GrammarError(f"unexpected {' '.join(words[at:])!r} after the verb {verb!r} in {sentence!r}; "
                           f"join clauses with 'and'")
    return Clause(subject, verb, adverb, obj)


def parse(sentence: str | Sequence[str]) -> list[Clause]:
    """Parse a source sentence of the synthetic grammar into clauses; a clear ``GrammarError`` if it is not one."""
    words = sentence.split() if isinstance(sentence, str) else list(sentence)
    text = " ".join(words)
    if not words:
        raise GrammarError("the sentence is empty; try e.g. 'the big dog often sees a cat'")
    known = set(NOUNS) | set(ADJECTIVES) | set(DETERMINERS) | set(TRANSITIVE_VERBS) | set(INTRANSITIVE_VERBS)
    unknown = [w for w in words if w not in known | set(ADVERBS) | {CONJUNCTION[0]}]
    if unknown:
        raise GrammarError(f"unknown word(s) {unknown} in {text!r}; the grammar knows: {', '.join(sorted(known))}, "
                           f"{', '.join(sorted(ADVERBS))} and 'and'")
    clauses, current = [], []
    for word in words + [CONJUNCTION[0]]:
        if word == CONJUNCTION[0]:
            if not current:
                raise GrammarError(f"'and' must join two clauses in {text!r}")
            clauses.append(_parse_clause(current, text))
            current = []
        else:
            current.append(word)
    return clauses


def translate(sentence: str | Sequence[str], order: str = "reordered") -> list[str]:
    """The one correct Zeta translation of a source sentence (the reference the models are scored against)."""
    _check_order(order)
    return _join([c.zeta(order) for c in parse(sentence)], CONJUNCTION[1])


def alignment(sentence: str | Sequence[str], order: str = "reordered") -> list[int]:
    """The known alignment: for each word of ``translate(sentence, order)``, the position of the source word it
    translates (both words of an adverb's phrase point at the adverb, ``kaj`` at ``and``)."""
    _check_order(order)

    def phrase(start: int, words: int) -> list[int]:
        positions = list(range(start, start + words))
        return positions if order == "monotone" else [positions[-1], *positions[1:-1], positions[0]]

    aligned, at = [], 0
    for i, clause in enumerate(parse(sentence)):
        if i:
            aligned, at = aligned + [at], at + 1
        subject, at = phrase(at, len(clause.subject.source())), at + len(clause.subject.source())
        adverb, at = ([at, at], at + 1) if clause.adverb else ([], at)
        verb, at = [at], at + 1
        obj = phrase(at, len(clause.object.source())) if clause.object else []
        at += len(obj)
        aligned += subject + adverb + verb + obj if order == "monotone" else subject + obj + adverb + verb
    return aligned


class Pair(NamedTuple):
    source: list[str]
    target: list[str]


def sample_pairs(n: int, min_length: int, max_length: int, seed: int, order: str = "reordered",
                 clause_counts: str = "natural") -> list[Pair]:
    """``n`` sentence pairs with source lengths uniform in ``[min_length, max_length]``; the same seed, the same pairs.

    ``clause_counts`` says how the clauses of a sentence are drawn (see ``sample_clauses``).
    """
    _check_order(order)
    check_examples("n", n)
    if not MIN_CLAUSE <= min_length <= max_length:
        raise GrammarError(f"need {MIN_CLAUSE} <= min_length <= max_length, got {min_length} and {max_length}")
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        clauses = sample_clauses(rng.randint(min_length, max_length), rng, clause_counts)
        pairs.append(Pair(_join([c.source() for c in clauses], CONJUNCTION[0]),
                          _join([c.zeta(order) for c in clauses], CONJUNCTION[1])))
    return pairs


# --- vocabularies -------------------------------------------------------------------------------------------------
class Vocab:
    """Token <-> id, with ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2 and ``<unk>`` = 3 first."""

    PAD, BOS, EOS, UNK = 0, 1, 2, 3
    SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")

    def __init__(self, tokens: Iterable[str]) -> None:
        self.itos: list[str] = list(self.SPECIALS)
        for token in tokens:
            if not isinstance(token, str) or not token or token.isspace():
                raise ValueError(f"vocabulary tokens must be non-empty strings, got {token!r}")
            if token not in self.itos:
                self.itos.append(token)
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 1, max_size: int | None = None) -> "Vocab":
        """The words of ``sentences`` that occur at least ``min_count`` times, most frequent first."""
        counts = Counter(word for sentence in sentences for word in sentence)
        ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(ranked[:max_size] if max_size is not None else ranked)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and other.itos == self.itos

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {' '.join(self.itos[4:12])}{' …' if len(self) > 12 else ''})"

    def encode(self, words: Sequence[str], add_eos: bool = True, unknown: str = "error") -> list[int]:
        """Ids of ``words`` (plus ``<eos>``). ``unknown="error"`` raises on unknown words, ``"unk"`` maps them."""
        if isinstance(words, str):
            raise TypeError(f"encode takes a list of words, not a string; use vocab.encode({words!r}.split())")
        if unknown not in ("error", "unk"):
            raise ValueError(f"unknown must be 'error' or 'unk', got {unknown!r}")
        if len(words) == 0:
            raise ValueError("cannot encode an empty sentence: give at least one word")
        missing = [w for w in words if w not in self.stoi]
        if missing and unknown == "error":
            raise KeyError(f"unknown word(s) {missing[:5]} not in the vocabulary of {len(self)} tokens; "
                           f"check the spelling, or map them to <unk> with vocab.encode(words, unknown='unk'); to "
                           f"translate text with unknown words, use attnmem.training.translation.translate")
        ids = [self.stoi.get(w, self.UNK) for w in words]
        return ids + [self.EOS] if add_eos else ids

    def decode(self, ids: Iterable[int], strip: bool = True) -> list[str]:
        """Words of ``ids``; with ``strip`` it stops at the first ``<eos>`` and drops ``<pad>``/``<bos>``."""
        words = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self):
                raise IndexError(f"id {i} is outside this vocabulary of {len(self)} tokens")
            if strip and i == self.EOS:
                break
            if strip and i in (self.PAD, self.BOS):
                continue
            words.append(self.itos[i])
        return words


def source_vocab() -> Vocab:
    """The source vocabulary of the synthetic task (fixed by the grammar, so every model shares it)."""
    words = [*DETERMINERS, *ADJECTIVES, *NOUNS, *ADVERBS, *TRANSITIVE_VERBS, *INTRANSITIVE_VERBS, CONJUNCTION[0]]
    return Vocab(sorted(words))


def target_vocab() -> Vocab:
    """The Zeta vocabulary of the synthetic task."""
    stems = [*TRANSITIVE_VERBS.values(), *INTRANSITIVE_VERBS.values()]
    words = [*DETERMINERS.values(), *ADJECTIVES.values(), *(n for n, _ in NOUNS.values()),
             *(w for phrase in ADVERBS.values() for w in phrase), *(s + c for s in stems for c in "ao"),
             CONJUNCTION[1]]
    return Vocab(sorted(set(words)))


# --- batches ------------------------------------------------------------------------------------------------------
class Batch(NamedTuple):
    """Padded id tensors for a list of pairs. Sources end in ``<eos>``; targets are shifted for teacher forcing."""

    src: Tensor  # (B, S) source ids + <eos>, padded with <pad>
    src_lengths: Tensor  # (B,) true lengths including <eos>
    src_mask: Tensor  # (B, S) bool, True at real (non-pad) positions
    tgt_in: Tensor  # (B, T) <bos> + target ids: what the decoder is fed
    tgt_out: Tensor  # (B, T) target ids + <eos>: what it must predict
    tgt_mask: Tensor  # (B, T) bool, True at real positions of tgt_out


def _pad(rows: list[list[int]]) -> Tensor:
    out = torch.full((len(rows), max(len(r) for r in rows)), Vocab.PAD, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


def make_batch(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], src_vocab: Vocab, tgt_vocab: Vocab,
               reverse_source: bool = False, unknown: str = "error") -> Batch:
    """Encode and pad ``pairs``. ``reverse_source`` feeds each source backwards (Sutskever et al. 2014, Sec. 3.3)."""
    if len(pairs) == 0:
        raise ValueError("make_batch needs at least one pair")
    sources, targets = [], []
    for source, target in pairs:
        words = list(reversed(source)) if reverse_source else list(source)
        sources.append(src_vocab.encode(words, unknown=unknown))
        targets.append(tgt_vocab.encode(list(target), add_eos=False, unknown=unknown))
    src = _pad(sources)
    tgt_in = _pad([[Vocab.BOS] + t for t in targets])
    tgt_out = _pad([t + [Vocab.EOS] for t in targets])
    return Batch(src, torch.tensor([len(s) for s in sources]), src != Vocab.PAD, tgt_in, tgt_out,
                 tgt_out != Vocab.PAD)


@dataclass(frozen=True)
class SyntheticTranslation:
    """The synthetic task as a batch source for ``attnmem.training.fit``: ``fit(model, loss, task.batches(64))``."""

    min_length: int = 3
    max_length: int = 30
    order: str = "reordered"
    reverse_source: bool = False
    clause_counts: str = "natural"

    def __post_init__(self) -> None:
        _check_order(self.order)
        if self.clause_counts not in CLAUSE_COUNTS:
            raise ValueError(f"clause_counts must be one of {CLAUSE_COUNTS}, got {self.clause_counts!r}")
        if not MIN_CLAUSE <= self.min_length <= self.max_length:
            raise GrammarError(f"need {MIN_CLAUSE} <= min_length <= max_length, got {self.min_length}, "
                               f"{self.max_length}")

    @property
    def src_vocab(self) -> Vocab:
        return source_vocab()

    @property
    def tgt_vocab(self) -> Vocab:
        return target_vocab()

    def pairs(self, n: int, seed: int, min_length: int | None = None, max_length: int | None = None) -> list[Pair]:
        return sample_pairs(n, min_length or self.min_length, max_length or self.max_length, seed, self.order,
                            self.clause_counts)

    def batch(self, pairs: Sequence[Pair]) -> Batch:
        return make_batch(pairs, self.src_vocab, self.tgt_vocab, self.reverse_source)

    def batches(self, batch_size: int, window: int | None = 4) -> Callable[[torch.Generator], Batch]:
        """A function ``generator -> Batch`` drawing fresh random pairs each call (seeded through ``fit``).

        With ``window`` each batch takes its lengths from ``window + 1`` neighbouring lengths from a random
        start (each length is covered by ``window + 1`` starts), so little time goes into padding; ``None`` draws
        every sentence from the whole range.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if window is not None and window < 0:
            raise ValueError(f"window must be a non-negative int or None, got {window}")
        src_vocab, tgt_vocab = self.src_vocab, self.tgt_vocab

        def draw(generator: torch.Generator) -> Batch:
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
            low, high = self.min_length, self.max_length
            if window is not None:
                start = random.Random(seed).randint(self.min_length - window, self.max_length)
                low, high = max(self.min_length, start), min(self.max_length, start + window)
            pairs = sample_pairs(batch_size, low, high, seed, self.order, self.clause_counts)
            return make_batch(pairs, src_vocab, tgt_vocab, self.reverse_source)

        return draw


# --- real parallel corpora ----------------------------------------------------------------------------------------
class CorpusError(ValueError):
    """A parallel-corpus file that cannot be read; the message names the file and line."""


@dataclass
class ParallelCorpus:
    """Tokenized pairs read from a tab-separated file, with counts of what was skipped and why."""

    path: str
    pairs: list[Pair]
    lines: int
    skipped: dict[str, int] = field(default_factory=dict)
    texts: list[tuple[str, str]] = field(default_factory=list)  # each pair's (source, target) as the file has it

    def __repr__(self) -> str:
        skipped = ", ".join(f"{k} {v}" for k, v in self.skipped.items()) or "none"
        return f"ParallelCorpus({self.path!r}: {len(self.pairs)} pairs from {self.lines} lines; skipped: {skipped})"


class Split(NamedTuple):
    train: list[Pair]
    valid: list[Pair]
    test: list[Pair]


_PUNCTUATION = re.compile(r"([.!?,;:¿¡«»\"()])")


def normalize(text: str, lowercase: bool = True) -> str:
    """Unicode NFKC, lower case (unless ``lowercase=False``), curly apostrophes made straight, punctuation split off,
    spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u202f", " ")
    text = text.lower() if lowercase else text
    return " ".join(_PUNCTUATION.sub(r" \1 ", text).split())


def tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Words of a normalized sentence (split on white space)."""
    return normalize(text, lowercase).split()


_NO_SPACE_BEFORE = re.compile(r" ([.!?,;:)»])")
_NO_SPACE_AFTER = re.compile(r"([(«¿¡]) ")


def detokenize(words: Sequence[str]) -> str:
    """Words back to text: punctuation joined to the word before it (after it for opening marks)."""
    return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", " ".join(words)))


def _read_line(raw: bytes) -> tuple[str, list[str], str | None]:
    """Decode one line of a tab-separated corpus: (text, columns, what is wrong with it or None)."""
    try:
        line = raw.decode("utf-8").rstrip("\n").rstrip("\r")
    except UnicodeDecodeError as error:
        return raw.decode("utf-8", "replace"), [], f"is not valid UTF-8 ({error.reason})"
    columns = line.split("\t")
    if not line.strip():
        return line, columns, None
    if len(columns) < 2:
        return line, columns, "has no tab between source and target"
    if len(columns) > 3:
        return line, columns, f"has {len(columns)} tab-separated columns; expected 2 or 3"
    if not tokenize(columns[0]) or not tokenize(columns[1]):
        return line, columns, "has an empty source or target"
    return line, columns, None


def load_parallel(
    path: str | Path,
    *,
    max_length: int | None = None,
    prefixes: Sequence[str] | None = None,
    swap: bool = False,
    on_error: str = "raise",
    lowercase: bool = True,
) -> ParallelCorpus:
    """Read ``source<TAB>target[<TAB>attribution]`` lines (the Tatoeba/Anki ``fra.txt`` format).

    Each side is normalized and tokenized. Filters (counted in ``skipped``, never an error): ``max_length`` drops
    pairs with either side longer than that many words; ``prefixes`` keeps only sources that start with one of
    them (as in the classic "i am ..., he is ..." subset). ``swap`` makes the second column the source;
    ``lowercase=False`` keeps the case. Blank lines are skipped and counted. Malformed lines (not UTF-8, no tab,
    more than three columns, an empty side) raise a ``CorpusError`` naming the file and line with
    ``on_error="raise"``; ``on_error="skip"`` skips and counts them, and still raises if no line was well formed.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"no such file: {path}; download a tab-separated corpus (e.g. fra.txt from "
                          f"manythings.org/anki) and pass its path")
    wanted = tuple(normalize(p) for p in prefixes) if prefixes else None
    pairs: list[Pair] = []
    texts: list[tuple[str, str]] = []
    skipped: Counter[str] = Counter()
    first_problem = ""
    lines = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            lines = number
            line, columns, problem = _read_line(raw)
            if problem is None and not line.strip():
                skipped["blank"] += 1
                continue
            if problem:
                message = (f"{path}:{number}: line {problem}: {line.strip()[:60]!r} (format: UTF-8, "
                           f"source<TAB>target[<TAB>attribution]")
                if on_error == "raise":
                    raise CorpusError(f"{message}; pass on_error='skip' to skip)")
                first_problem = first_problem or message + ")"
                skipped["malformed"] += 1
                continue
            source, target = tokenize(columns[0], lowercase), tokenize(columns[1], lowercase)
            text = (columns[0].strip(), columns[1].strip())
            if swap:
                source, target, text = target, source, text[::-1]
            if max_length is not None and max(len(source), len(target)) > max_length:
                skipped["too long"] += 1
                continue
            if wanted is not None and not " ".join(source).startswith(wanted):
                skipped["prefix"] += 1
                continue
            pairs.append(Pair(source, target))
            texts.append(text)
    if not pairs and skipped["malformed"]:
        raise CorpusError(f"none of the {lines} lines of {path} is a source<TAB>target pair; the first: "
                          f"{first_problem.split(': line ', 1)[1]}")
    return ParallelCorpus(str(path), pairs, lines, dict(skipped), texts)


def split_indices(sources: Sequence[Sequence[str]], valid: float = 0.1, test: float = 0.1, seed: int = 0
                  ) -> tuple[list[int], list[int], list[int]]:
    """Train/valid/test positions of ``sources``, split BY SOURCE SENTENCE: every pair with the same source lands in
    the same part, so no held-out source is seen in training (Tatoeba gives one English sentence several French
    translations). Sentences are shuffled (seeded) and a sentence joins test, else valid, while that part stays
    within its fraction of the pairs; the rest is training."""
    if not (0 <= valid < 1 and 0 <= test < 1 and valid + test < 1):
        raise ValueError(f"valid and test must be fractions with valid + test < 1, got {valid} and {test}")
    if len(sources) < 3:
        raise ValueError(f"need at least 3 pairs to split, got {len(sources)}")
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, source in enumerate(sources):
        groups.setdefault(tuple(source), []).append(i)
    order = list(groups.values())
    random.Random(seed).shuffle(order)
    room = {"valid": round(len(sources) * valid), "test": round(len(sources) * test)}
    parts: dict[str, list[int]] = {"train": [], "valid": [], "test": []}
    for group in order:
        part = next((p for p in ("test", "valid") if len(parts[p]) + len(group) <= room[p]), "train")
        parts[part] += group
    return parts["train"], parts["valid"], parts["test"]


def split_pairs(pairs: Sequence[Pair], valid: float = 0.1, test: float = 0.1, seed: int = 0) -> Split:
    """Split into train/valid/test by the given fractions of pairs, by source sentence (``split_indices``)."""
    train, valid_at, test_at = split_indices([p.source for p in pairs], valid, test, seed)
    return Split(*([pairs[i] for i in part] for part in (train, valid_at, test_at)))
