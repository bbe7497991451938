"""Choosing the defaults of the corpus command (``python -m attnmem.training.translation``) at a CPU budget.

Nothing is downloaded. The corpus is written here, in the Tatoeba/Anki format (``English<TAB>Zeta<TAB>attribution``),
by a small grammar made to look like the public English-French pairs at the scale that matters for a budget:

- **size and lengths**: ``--sentences`` lines (70,000 by default, near Tatoeba's 76,000), so in 600 CPU seconds a
  model sees each pair at most a few times; sentences are mostly 3-12 words (subject, verb, optional object, adverb,
  place), with a tail to about 40 tokens (3% over 16) from more clauses joined by "and", "but" or "because";
- **vocabulary**: thousands of nouns, verbs and adjectives of made-up words drawn with Zipf's law (frequency
  proportional to 1 / rank), so, as in real text, many words occur once or twice and become <unk>; names (written
  the same in both languages) must be copied;
- **a French-like target**: articles and adjectives agree in gender and number with the noun, adjectives follow
  the noun, verbs end in one of six person endings, the past is two words (auxiliary + participle) and the future
  one word for English's two, negation wraps the verb (``ne ... pa``), object pronouns move before the verb, an
  adverb moves right after it, questions start with ``eske``;
- **more than one right translation**, as Tatoeba has: "you" is either singular (``tu``) or plural (``vu``) in the
  target and the verb agrees with it (such a source is written with both 60% of the time, else with one), and 300
  nouns have a synonym used half the time. No model can tell which one a reference holds, so, as on real data,
  BLEU has a ceiling below 100.

The lexicon and the sentences are fixed by ``--corpus-seed``. The corpus is split BY SOURCE SENTENCE
(``attnmem.tasks.translation.split_indices``, seed 0): ``--valid`` of the pairs (1,000 of 70,000) are held out, and
every candidate trains on the rest and is judged on them; there is no test split here, and no test set of any
corpus is read. The command's candidates run through the command itself (``--test`` pointed at the held-out file,
so the scores it prints are on this validation split), greedy and beam 5.

The peer is a plain ``torch.nn.Transformer`` (d_model 192, 4 heads, 2 + 2 layers, feed-forward 768, dropout 0.1,
the module's own post-norm; sinusoidal positions, embeddings times sqrt(d_model)) on the same tokens and
vocabularies, trained the plain way: Adam (betas 0.9, 0.98) at a constant 5e-4, shuffled batches of 64 sentences,
cross-entropy without label smoothing; greedy and beam-5 decoding by log-probability, as ``attnmem.seq2seq``'s;
its <unk> outputs stay <unk>. These are synthetic numbers: they rank recipes for a budget, they do not measure
real language. Every run uses one thread and CPU seconds (``time.process_time``). Finished runs are appended to
``--log`` and reused, so an interrupted session keeps them.

    python benchmarks/translation_corpus.py --seconds 600 --out benchmarks/results/translation_corpus.md
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from attnmem.checkpoint import read_manifest
from attnmem.tasks.translation import Pair, Vocab, load_parallel, split_indices
from attnmem.training.translation import main as corpus_command
from attnmem.training.translation import score
from attnmem.transformer import sinusoidal_encoding

sys.path.insert(0, str(Path(__file__).parent))
from _publish import publish  # noqa: E402

PEER = "torch.nn.Transformer d192 2+2 (peer, plain recipe)"
CANDIDATES: dict[str, list[str]] = {
    "transformer d192 2+2 (default)": [],
    PEER: [],
    "transformer d128 2+2": ["--hidden", "128"],
    "transformer d256 3+3": ["--hidden", "256", "--layers", "3"],
    "bahdanau GRU 128": ["--model", "bahdanau", "--hidden", "128"],
}
BEAM = 5


# --- the corpus ---------------------------------------------------------------------------------------------------
class Lexicon:
    """Made-up words of both languages, drawn once from ``seed``; each class ranked for Zipf sampling."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        taken: set[str] = set(FUNCTION_WORDS)

        def words(n: int, syllables: tuple[int, int], letters: tuple[str, str], closed: bool = False) -> list[str]:
            out = []
            while len(out) < n:
                word = "".join(rng.choice(letters[0]) + rng.choice(letters[1])
                               for _ in range(rng.randint(*syllables)))
                word += rng.choice(letters[0]) if closed else ""
                if word not in taken:
                    taken.add(word)
                    out.append(word)
            return out

        english, zeta = ("bcdfghklmnprstvw", "aeiouy"), ("bdfgklmnprstvz", "aeiou")
        self.nouns = list(zip(words(3000, (1, 2), english, True), words(3000, (2, 3), zeta),
                              (rng.choice("mf") for _ in range(3000))))
        synonyms = words(300, (2, 3), zeta)
        self.synonym = {self.nouns[rng.randrange(3000)][1]: s for s in synonyms}
        self.adjectives = list(zip(words(500, (1, 2), english, True), words(500, (2, 3), zeta)))
        self.transitive = list(zip(words(800, (1, 2), english, True), words(800, (1, 2), zeta)))
        self.intransitive = list(zip(words(300, (1, 2), english, True), words(300, (1, 2), zeta)))
        self.adverbs = list(zip(words(150, (2, 3), english, True), words(150, (2, 3), zeta)))
        self.names = [w.capitalize() for w in words(200, (2, 2), zeta)]

    @staticmethod
    def zipf(rng: random.Random, items: Sequence[Any]) -> Any:
        """An item drawn with probability proportional to 1 / rank."""
        return items[min(len(items) - 1, int(math.exp(rng.random() * math.log(len(items) + 1))) - 1)]


# person: 0 I, 1 you (one), 2 he/she/it, 3 we, 4 you (several), 5 they
SUBJECTS = {"I": ("jo", 0), "he": ("il", 2), "she": ("ela", 2), "we": ("nu", 3), "they": ("lor", 5)}
OBJECTS = {"me": "me", "him": "lo", "her": "la", "us": "nos", "them": "li"}
ENDINGS = ("o", "i", "a", "amo", "ate", "ano")
PREPOSITIONS = {"in": "en", "on": "sur", "with": "kon", "near": "prés", "under": "sot", "for": "por", "behind": "dré"}
CONJUNCTIONS = {"and": "e", "but": "ma", "because": "porke"}
POSSESSIVES = {"my": "m", "his": "s", "her": "s", "our": "nostr", "their": "lor"}
#: words the grammar writes itself, kept out of the made-up lexicon
FUNCTION_WORDS = {*SUBJECTS, "you", *OBJECTS, *PREPOSITIONS, *CONJUNCTIONS, *POSSESSIVES, "the", "a", "some", "do",
                  "does", "did", "will", "not", *(z for z, _ in SUBJECTS.values()), "tu", "vu", "te", "ve",
                  *OBJECTS.values(), *PREPOSITIONS.values(), *CONJUNCTIONS.values(), "lo", "la", "lei", "un", "una",
                  "dei", "ne", "pa", "eske", *(p + e for p in POSSESSIVES.values() for e in "ioa")}


def noun_phrase(lex: Lexicon, rng: random.Random) -> tuple[list[str], list[str], bool]:
    """English determiner, adjectives, noun -> Zeta determiner, noun, adjectives, all agreeing in gender and number;
    and whether it is plural."""
    noun, zeta, gender = lex.zipf(rng, lex.nouns)
    zeta = lex.synonym[zeta] if zeta in lex.synonym and rng.random() < 0.5 else zeta
    plural = rng.random() < 0.25
    adjectives = [lex.zipf(rng, lex.adjectives) for _ in range(rng.choice((0, 0, 0, 1, 1, 2)))]
    kind = rng.choice(("the", "the", "a", "possessive"))
    if kind == "possessive":
        english = rng.choice(sorted(POSSESSIVES))
        determiner = POSSESSIVES[english] + ("i" if plural else "o" if gender == "m" else "a")
    else:
        english = "some" if kind == "a" and plural else kind
        determiner = {("the", False): "lo" if gender == "m" else "la", ("the", True): "lei",
                      ("a", False): "un" if gender == "m" else "una", ("a", True): "dei"}[kind, plural]
    suffix = ("" if gender == "m" else "a") + ("s" if plural else "")
    return ([english, *(a for a, _ in adjectives), noun + ("s" if plural else "")],
            [determiner, zeta + ("n" if plural else ""), *(z + suffix for _, z in adjectives)], plural)


def clause(lex: Lexicon, rng: random.Random, plural_you: bool, question: bool) -> tuple[list[str], list[str]]:
    """One clause: subject, verb in one of three tenses, perhaps negated, with an optional object, adverb, place."""
    draw = rng.random()
    if draw < 0.5:
        english = rng.choice(["I", "you", "you", *SUBJECTS])
        subject, person = ("vu", 4) if english == "you" and plural_you else ("tu", 1) if english == "you" \
            else SUBJECTS[english]
        subject_en, subject_zt = [english], [subject]
    elif draw < 0.65:
        name = rng.choice(lex.names)
        subject_en, subject_zt, person = [name], [name], 2
    else:
        subject_en, subject_zt, plural = noun_phrase(lex, rng)
        person = 5 if plural else 2
    transitive = rng.random() < 0.65
    verb, stem = lex.zipf(rng, lex.transitive if transitive else lex.intransitive)
    tense, negated = rng.choice(("present", "present", "past", "future")), not question and rng.random() < 0.2
    third = person == 2
    if question or negated:
        auxiliary = {"present": "does" if third else "do", "past": "did", "future": "will"}[tense]
        verb_en = [verb] if question else [auxiliary, "not", verb]
        lead = [auxiliary] if question else []
    else:
        lead, verb_en = [], [{"present": verb + ("s" if third else ""), "past": verb + "ed",
                              "future": "will " + verb}[tense]]
    if tense == "past":
        finite, participle = ["av" + ENDINGS[person]], [stem + "ato"]
    else:
        finite, participle = [stem + ("er" if tense == "future" else "") + ENDINGS[person]], []
    object_en, object_zt, clitic = [], [], []
    if transitive:
        kind = rng.random()
        if kind < 0.2:
            pronoun = rng.choice(["you", *OBJECTS])
            object_en = [pronoun]
            clitic = [("ve" if plural_you else "te") if pronoun == "you" else OBJECTS[pronoun]]
        elif kind < 0.3:
            name = rng.choice(lex.names)
            object_en, object_zt = [name], [name]
        else:
            object_en, object_zt, _ = noun_phrase(lex, rng)
    adverb_en, adverb_zt = lex.zipf(rng, lex.adverbs) if rng.random() < 0.2 else ("", "")
    place_en, place_zt = [], []
    if rng.random() < 0.3:
        preposition = rng.choice(sorted(PREPOSITIONS))
        phrase_en, phrase_zt, _ = noun_phrase(lex, rng)
        place_en, place_zt = [preposition, *phrase_en], [PREPOSITIONS[preposition], *phrase_zt]
    english = lead + subject_en + " ".join(verb_en).split() + object_en + ([adverb_en] if adverb_en else []) + place_en
    zeta = (["eske"] if question else []) + subject_zt + (["ne"] if negated else []) + clitic + finite + \
        (["pa"] if negated else []) + ([adverb_zt] if adverb_zt else []) + participle + object_zt + place_zt
    return english, zeta


def sentence(lex: Lexicon, rng: random.Random) -> tuple[list[str], list[list[str]], bool]:
    """An English sentence, its Zeta translations (two when "you" leaves a choice), and whether it is a question."""
    question = rng.random() < 0.2
    seed = rng.getrandbits(64)
    versions = []
    for plural_you in (False, True):
        draw = random.Random(seed)  # the same sentence, only the "you" differs
        english, zeta = clause(lex, draw, plural_you, question)
        while not question and draw.random() < 0.12:
            conjunction = draw.choice(sorted(CONJUNCTIONS))
            more_en, more_zt = clause(lex, draw, plural_you, False)
            english, zeta = english + [conjunction] + more_en, zeta + [CONJUNCTIONS[conjunction]] + more_zt
        versions.append((english, zeta))
    english = versions[0][0]
    targets = [versions[0][1]] if versions[0][1] == versions[1][1] else [v[1] for v in versions]
    return english, targets, question


def text(words: list[str], question: bool) -> str:
    line = " ".join(words)
    return line[0].upper() + line[1:] + ("?" if question else ".")


def write_corpus(path: Path, lines: int, seed: int) -> None:
    """``lines`` pairs in the Tatoeba format; a source with two translations is written with both 60% of the time,
    else with one of them."""
    lex, rng, out = Lexicon(seed), random.Random(seed + 1), []
    while len(out) < lines:
        english, targets, question = sentence(lex, rng)
        chosen = targets if len(targets) == 1 or rng.random() < 0.6 else [rng.choice(targets)]
        out += [f"{text(english, question)}\t{text(t, question)}\tCC-BY 2.0 (synthetic)" for t in chosen]
    path.write_text("\n".join(out[:lines]) + "\n", encoding="utf-8")


def split_corpus(corpus: Path, folder: Path, valid: float) -> tuple[Path, Path]:
    """The corpus's lines split by source sentence into a training file and a validation file."""
    lines = corpus.read_text(encoding="utf-8").splitlines()
    pairs = load_parallel(corpus, lowercase=False).pairs
    train_at, valid_at, _ = split_indices([p.source for p in pairs], valid, 0.0, seed=0)
    paths = folder / "train.txt", folder / "valid.txt"
    for path, part in zip(paths, (train_at, valid_at)):
        path.write_text("\n".join(lines[i] for i in part) + "\n", encoding="utf-8")
    return paths


# --- the peer: a plain torch.nn.Transformer -----------------------------------------------------------------------
class Peer(nn.Module):
    """``torch.nn.Transformer`` between two embedding tables (times sqrt(d_model), sinusoidal positions added) and
    an output layer (Vaswani et al. 2017, Sec. 3.4-3.5)."""

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 192, heads: int = 4, layers: int = 2) -> None:
        super().__init__()
        self.d_model = d_model
        self.src_embedding = nn.Embedding(src_vocab, d_model, padding_idx=Vocab.PAD)
        self.tgt_embedding = nn.Embedding(tgt_vocab, d_model, padding_idx=Vocab.PAD)
        self.register_buffer("positions", sinusoidal_encoding(256, d_model), persistent=False)
        self.dropout = nn.Dropout(0.1)
        self.transformer = nn.Transformer(d_model, heads, layers, layers, 4 * d_model, 0.1, batch_first=True)
        self.out = nn.Linear(d_model, tgt_vocab)

    def embed(self, table: nn.Embedding, ids: Tensor) -> Tensor:
        return self.dropout(table(ids) * math.sqrt(self.d_model) + self.positions[:ids.shape[1]])

    def encode(self, src: Tensor) -> Tensor:
        return self.transformer.encoder(self.embed(self.src_embedding, src), src_key_padding_mask=src == Vocab.PAD)

    def decode(self, tgt_in: Tensor, memory: Tensor, src: Tensor) -> Tensor:
        causal = torch.ones(tgt_in.shape[1], tgt_in.shape[1], dtype=torch.bool).triu(1)  # True: may not look
        return self.out(self.transformer.decoder(self.embed(self.tgt_embedding, tgt_in), memory, tgt_mask=causal,
                                                 tgt_is_causal=True, tgt_key_padding_mask=tgt_in == Vocab.PAD,
                                                 memory_key_padding_mask=src == Vocab.PAD))


def _encoded(sentences: Sequence[Sequence[str]], vocab: Vocab) -> Tensor:
    return nn.utils.rnn.pad_sequence([torch.tensor(vocab.encode(list(s), unknown="unk")) for s in sentences],
                                     batch_first=True, padding_value=Vocab.PAD)


def train_peer(model: Peer, pairs: Sequence[Pair], src_vocab: Vocab, tgt_vocab: Vocab, seconds: float,
               seed: int = 0) -> dict[str, Any]:
    """Adam at a constant 5e-4, shuffled batches of 64 sentences, plain cross-entropy, until ``seconds`` CPU s."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4, betas=(0.9, 0.98), eps=1e-9)
    loss_of = nn.CrossEntropyLoss(ignore_index=Vocab.PAD)
    start, step, order, losses = time.process_time(), 0, [], []
    model.train()
    while time.process_time() - start < seconds:
        if not order:
            order = list(range(len(pairs)))
            rng.shuffle(order)
        batch, order = [pairs[i] for i in order[:64]], order[64:]
        src = _encoded([p.source for p in batch], src_vocab)
        tgt = nn.utils.rnn.pad_sequence([torch.tensor([Vocab.BOS, *tgt_vocab.encode(p.target, unknown="unk")])
                                         for p in batch], batch_first=True, padding_value=Vocab.PAD)
        logits = model.decode(tgt[:, :-1], model.encode(src), src)
        loss = loss_of(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        step += 1
    model.eval()
    return {"steps": step, "cpu_seconds": round(time.process_time() - start, 1),
            "final_loss": round(sum(losses[-50:]) / max(1, len(losses[-50:])), 4)}


@torch.no_grad()
def peer_greedy(model: Peer, sentences: Sequence[Sequence[str]], src_vocab: Vocab, tgt_vocab: Vocab,
                batch_size: int = 200) -> list[list[str]]:
    out = []
    for i in range(0, len(sentences), batch_size):
        src = _encoded(sentences[i:i + batch_size], src_vocab)
        memory, ids = model.encode(src), torch.full((src.shape[0], 1), Vocab.BOS)
        for _ in range(2 * src.shape[1] + 10):
            ids = torch.cat([ids, model.decode(ids, memory, src)[:, -1].argmax(-1, keepdim=True)], 1)
            if (ids == Vocab.EOS).any(1).all():
                break
        out += [tgt_vocab.decode(row[1:]) for row in ids.tolist()]
    return out


@torch.no_grad()
def peer_beam(model: Peer, sentence: Sequence[str], src_vocab: Vocab, tgt_vocab: Vocab, beam: int) -> list[str]:
    """Beam search ranked by log-probability, stopping once ``beam`` hypotheses have ended (as ``attnmem.seq2seq``)."""
    src = _encoded([sentence], src_vocab)
    memory = model.encode(src)
    live, scores, finished = [[Vocab.BOS]], torch.zeros(1), []
    for _ in range(2 * src.shape[1] + 10):
        ids = torch.tensor(live)
        logits = model.decode(ids, memory.expand(len(live), -1, -1), src.expand(len(live), -1))[:, -1]
        total = (scores.unsqueeze(1) + logits.log_softmax(-1)).flatten()
        top_scores, top = total.topk(min(2 * beam, total.numel()))
        keep = []
        for value, row, token in zip(top_scores.tolist(), (top // logits.shape[-1]).tolist(),
                                     (top % logits.shape[-1]).tolist()):
            if token == Vocab.EOS:
                finished.append((value, live[row][1:]))
            else:
                keep.append((value, live[row] + [token]))
            if len(finished) >= beam or len(keep) == beam:
                break
        if len(finished) >= beam or not keep:
            break
        scores, live = torch.tensor([v for v, _ in keep]), [h for _, h in keep]
    best = max(finished) if finished else (float(scores[0]), live[0][1:])
    return tgt_vocab.decode(best[1])


def run_peer(train_file: Path, valid_file: Path, seconds: float) -> dict[str, Any]:
    """The peer on the command's tokens and vocabularies (case kept, ``--max-length`` 30, ``--min-count`` 2)."""
    corpus = load_parallel(train_file, max_length=30, on_error="skip", lowercase=False)
    valid = load_parallel(valid_file, on_error="skip", lowercase=False)
    src_vocab = Vocab.build((p.source for p in corpus.pairs), min_count=2)
    tgt_vocab = Vocab.build((p.target for p in corpus.pairs), min_count=2)
    torch.manual_seed(0)
    model = Peer(len(src_vocab), len(tgt_vocab))
    info = train_peer(model, corpus.pairs, src_vocab, tgt_vocab, seconds)
    sources, references = [p.source for p in valid.pairs], [t for _, t in valid.texts]
    greedy = score(peer_greedy(model, sources, src_vocab, tgt_vocab), references, False)
    beam = score([peer_beam(model, s, src_vocab, tgt_vocab, BEAM) for s in sources], references, False)
    return {**info, "greedy": greedy, "beam": beam, "parameters": sum(p.numel() for p in model.parameters())}


def run_command(extra: list[str], train_file: Path, valid_file: Path, seconds: float, folder: Path) -> dict[str, Any]:
    """The corpus command on the training file, scored on the held-out file (``--test``), greedy and beam."""
    out = folder / f"model-{os.getpid()}.pt"
    corpus_command([str(train_file), "--out", str(out), "--test", str(valid_file), "--seconds", str(seconds),
                    "--threads", "1", "--beam", str(BEAM), "--quiet", *extra])
    manifest = read_manifest(out)
    held = manifest["scores"]["test"]  # the command's name for the file given with --test: here, validation
    return {**{k: manifest["training"][k] for k in ("steps", "cpu_seconds", "final_loss")},
            "greedy": held["greedy"], "beam": held[f"beam{BEAM}"], "parameters": manifest["parameters"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600, help="CPU seconds of training per candidate")
    parser.add_argument("--sentences", type=int, default=70000, help="lines of the synthetic corpus")
    parser.add_argument("--corpus-seed", type=int, default=1)
    parser.add_argument("--valid", type=float, default=1 / 70, help="fraction of the pairs held out for validation")
    parser.add_argument("--only", action="append", help="run only candidates whose name contains this")
    parser.add_argument("--table-only", action="store_true", help="train nothing; write the table from --log")
    parser.add_argument("--log", default="benchmarks/results/translation_corpus.jsonl")
    parser.add_argument("--out")
    args = parser.parse_args()
    torch.set_num_threads(1)
    setting = {"seconds": args.seconds, "sentences": args.sentences, "corpus_seed": args.corpus_seed,
               "valid": args.valid}
    log = Path(args.log)
    done = [r for r in map(json.loads, log.read_text().splitlines() if log.exists() else [])
            if all(r.get(k) == v for k, v in setting.items())]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write_corpus(folder / "synthetic.txt", args.sentences, args.corpus_seed)
        train_file, valid_file = split_corpus(folder / "synthetic.txt", folder, args.valid)
        for candidate, extra in CANDIDATES.items():
            if args.table_only or any(r["candidate"] == candidate for r in done) or \
                    (args.only and not any(part in candidate for part in args.only)):
                continue
            result = run_peer(train_file, valid_file, args.seconds) if candidate == PEER else \
                run_command(extra, train_file, valid_file, args.seconds, folder)
            row = {"candidate": candidate, **setting, **result, "load": os.getloadavg()[0]}
            done.append(row)
            with log.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(row, flush=True)
        sizes = (len(load_parallel(train_file, max_length=30, on_error="skip").pairs),
                 len(valid_file.read_text().splitlines()))
    order = list(CANDIDATES)
    rows = [f"| {r['candidate']} | {r['parameters']:,} | {r['steps']} | {r['cpu_seconds']:.0f} | "
            f"{r['greedy']['bleu']:.1f} | {r['beam']['bleu']:.1f} | {r['greedy']['exact_match']:.3f} | "
            f"{r['beam']['exact_match']:.3f} |" for r in sorted(done, key=lambda r: order.index(r["candidate"]))]
    signature = done[0]["greedy"]["signature"] if done else "no runs yet"
    publish("\n".join([
        f"# Corpus command: candidates at {args.seconds:g} CPU seconds (synthetic Tatoeba-like corpus)", "",
        f"`python benchmarks/translation_corpus.py --seconds {args.seconds:g}`: {args.sentences:,} synthetic "
        f"English -> Zeta lines in the Tatoeba format (the script's docstring says how they are made; corpus seed "
        f"{args.corpus_seed}), split by source sentence into {sizes[0]:,} training and {sizes[1]:,} validation "
        f"pairs. Scores are on this VALIDATION split; no test set is read. One thread per run, CPU seconds "
        f"(`time.process_time`), on a {platform.machine()} machine with {os.cpu_count()} cores shared with other "
        f"jobs; torch {torch.__version__}.", "",
        f"BLEU: sacreBLEU on detokenized text, {signature}", "",
        "| candidate | parameters | steps | CPU s | BLEU greedy | BLEU beam 5 | exact greedy | exact beam 5 |",
        "|---|---|---|---|---|---|---|---|", *rows, ""]), args.out)


if __name__ == "__main__":
    main()
