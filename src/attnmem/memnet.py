"""End-to-end memory networks (Sukhbaatar, Szlam, Weston & Fergus 2015, "End-to-end memory networks").

The model stores each sentence of a story as a memory vector, and answers a question by attending over the
memories in K *hops*. One hop (Section 2.1):

- input memories   m_i = sum_j l_j * A x_ij + T_A(i)      (Eq. 1 with position encoding, Section 4.1)
- output memories  c_i = sum_j l_j * C x_ij + T_C(i)
- attention        p_i = softmax(u^T m_i)                   (Eq. 1)
- read             o   = sum_i p_i c_i                      (Eq. 2)
- next query       u^{k+1} = u^k + o^k   (or H u^k + o^k with layer-wise tying, Section 2.2)

and the answer is softmax(W (o^K + u^K)) (Eq. 3). ``u^1 = B q`` embeds the question.

Choices of the paper, all here: bag-of-words (``encoding="bow"``) or position encoding (``"position"``, l_kj =
(1 - j/J) - (k/d)(1 - 2 j/J)); temporal encoding (learned T_A, T_C indexed by how long ago a sentence was said);
adjacent tying (A^{k+1} = C^k, W^T = C^K, B = A^1) or layer-wise tying (one A, one C, a matrix H); linear start
(the memory softmaxes removed until the validation loss stops falling); random noise (10% empty memories inserted
while training, so the model cannot lean on exact time indices). ``forward`` returns each hop's attention as data.

One choice comes from the authors' released code rather than the paper's equations: there, a story shorter than
the memory is padded with empty sentences that embed to zero and still take part in every softmax, with score 0.
``empty_memory=True`` keeps one such slot: p = softmax over (u^T m_1, ..., u^T m_n, 0), and the empty slot reads
nothing. The attention over the sentences then sums to less than one when none of them matches the query well, so
the size of the read says how well something matched -- which is what a yes/no question needs (task 6, trained
with SGD: 39% test error without it, 12-16% with it).
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from attnmem import checks
from attnmem.attention import masked_softmax
from attnmem.tasks.babi import BabiBatch, Sample, Vocabulary, vectorize

__all__ = ["MemNetOutput", "MemN2N", "position_encoding", "softmax_with_empty_memory", "Answered", "answer_question"]

ENCODINGS = ("bow", "position")
TYINGS = ("adjacent", "layerwise")


class MemNetOutput(NamedTuple):
    """What the memory network returns: answer scores and every hop's attention over the memory slots."""

    logits: Tensor  # (B, V) scores over the vocabulary; the answer is the argmax
    attention: Tensor  # (B, K, M) hop k's weights over the M memory slots (zero on empty slots)


def position_encoding(lengths: Tensor, max_length: int, dim: int) -> Tensor:
    """Weights l_kj = (1 - j/J) - (k/d)(1 - 2j/J) of Sukhbaatar et al. Section 4.1, shape (..., max_length, dim).

    ``lengths`` holds each sentence's real word count J; positions j are 1-based, k = 1..d. Positions past a
    sentence's end get weight 0 (their embeddings are zero anyway). Sentences of length 0 get all-zero weights.
    """
    j = torch.arange(1, max_length + 1, dtype=torch.float32).view(*([1] * lengths.dim()), max_length, 1)
    k = torch.arange(1, dim + 1, dtype=torch.float32) / dim
    big_j = lengths.clamp(min=1).to(torch.float32).unsqueeze(-1).unsqueeze(-1)
    weights = (1 - j / big_j) - k * (1 - 2 * j / big_j)
    inside = j <= lengths.unsqueeze(-1).unsqueeze(-1)
    return weights * inside


def softmax_with_empty_memory(scores: Tensor, mask: Tensor) -> Tensor:
    """Softmax over the visible slots and one more, always-present empty memory of score 0, which is dropped.

    This is the nil-padded memory of Sukhbaatar et al.'s released code: the weights on the sentences sum to
    Z / (Z + 1), Z = sum_i exp(score_i), instead of 1; a row with no sentence gets zeros.
    """
    return masked_softmax(F.pad(scores, (0, 1)), F.pad(mask, (0, 1), value=True))[..., :-1]


def _check_batch(memory: Tensor, memory_mask: Tensor, times: Tensor, query: Tensor, model: Tensor,
                 vocab_size: int, models: int) -> None:
    if memory.dim() != 3:
        raise ValueError(f"memory must be (batch, slots, words) word indices, got shape {tuple(memory.shape)}")
    batch, slots, _ = memory.shape
    if memory_mask.shape != (batch, slots) or memory_mask.dtype != torch.bool:
        raise ValueError(f"memory_mask must be a bool tensor of shape {(batch, slots)}, got "
                         f"{tuple(memory_mask.shape)} {memory_mask.dtype}")
    if times.shape != (batch, slots):
        raise ValueError(f"times must have shape {(batch, slots)} like the memory slots, got {tuple(times.shape)}")
    if query.dim() != 2 or query.shape[0] != batch:
        raise ValueError(f"query must be (batch, words) with batch {batch}, got shape {tuple(query.shape)}")
    for name, t in (("memory", memory), ("query", query)):
        if t.dtype != torch.long:
            raise TypeError(f"{name} must hold word indices (torch.long), got {t.dtype}")
        checks.token_ids(name, t, vocab_size, "model's")
    if model.shape != (batch,) or (model.numel() and (int(model.min()) < 0 or int(model.max()) >= models)):
        raise ValueError(f"model_index must be a (batch,) tensor of model numbers 0..{models - 1}, got "
                         f"{tuple(model.shape)}")


class MemN2N(nn.Module):
    """An end-to-end memory network with K hops (Sukhbaatar et al. 2015).

    ``vocab_size`` words (index 0 is padding), embedding size ``dim``, ``hops`` K, temporal tables for
    ``memory_size`` slots. ``encoding`` is "bow" or "position"; ``tying`` is "adjacent" or "layerwise".
    Set ``linear_start = True`` to remove the memory softmaxes (the linear start of Section 4.2).
    ``empty_memory`` adds the always-present empty slot of the authors' code to every softmax (module docstring).

    ``models`` > 1 keeps that many independent networks side by side (every weight has a leading model axis);
    ``forward`` then takes ``model_index``, the network that answers each question. This is how restarts and the
    20 per-task networks train together in one loop: with Adam, a sum of independent losses trains each network
    exactly as if it were alone.
    """

    def __init__(self, vocab_size: int, dim: int = 20, hops: int = 3, memory_size: int = 50,
                 encoding: str = "position", temporal: bool = True, tying: str = "adjacent", models: int = 1,
                 empty_memory: bool = False) -> None:
        super().__init__()
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
        if tying not in TYINGS:
            raise ValueError(f"tying must be one of {TYINGS}, got {tying!r}")
        checks.positive_sizes(vocab_size=vocab_size, dim=dim, hops=hops, memory_size=memory_size, models=models)
        self.vocab_size, self.dim, self.hops, self.memory_size = vocab_size, dim, hops, memory_size
        self.encoding, self.temporal, self.tying, self.models = encoding, temporal, tying, models
        self.empty_memory = empty_memory
        self.linear = torch.zeros(models, dtype=torch.bool)  # linear start, per network
        # Adjacent: K+1 matrices, E_0 = B = A^1, E_k = C^k = A^{k+1}, E_K = W^T. Layer-wise: B, A, C (and W, H).
        self.tables = hops + 1 if tying == "adjacent" else 3
        self.embeddings = nn.Parameter(torch.empty(models, self.tables, vocab_size, dim))
        self.times = nn.Parameter(torch.empty(models, self.tables, memory_size, dim)) if temporal else None
        if tying == "layerwise":
            self.hop_map = nn.Parameter(torch.empty(models, dim, dim))  # H
            self.output = nn.Parameter(torch.empty(models, vocab_size, dim))  # W
        self.reset_parameters()

    @property
    def linear_start(self) -> bool:
        """True while any network runs without its memory softmaxes."""
        return bool(self.linear.any())

    @linear_start.setter
    def linear_start(self, on: bool) -> None:
        self.linear = torch.full((self.models,), bool(on))

    def reset_parameters(self) -> None:
        """Gaussian N(0, 0.1^2) initialisation of every matrix (Section 4.2); padding (index 0) embeds to zero."""
        for parameter in self.parameters():
            nn.init.normal_(parameter, std=0.1)
        with torch.no_grad():
            self.embeddings[:, :, 0].zero_()

    def _tables(self, hop: int) -> tuple[int, int]:
        """Indices (into ``embeddings`` and ``times``) of A^hop and C^hop, hops counted from 1."""
        return (hop - 1, hop) if self.tying == "adjacent" else (1, 2)

    def _memory_tables(self) -> list[int]:
        """The tables the memories are embedded with: every E_k with adjacent tying, A and C with layer-wise."""
        return list(range(self.tables)) if self.tying == "adjacent" else [1, 2]

    def _encode(self, words: Tensor, model: Tensor, tables: Sequence[int]) -> Tensor:
        """Sentence vectors sum_j l_j * E_t x_j for every table t in ``tables``, shape (B, ..., len(tables), d).

        ``words`` is (B, ..., L) word indices and ``model[b]`` the network of row b. Only the real words are
        looked up (padding embeds to zero), all tables in one lookup: most of a padded story is padding.
        """
        length = words.shape[-1]
        present = words != 0
        positions = present.reshape(-1).nonzero().squeeze(1)
        owner = model.view(-1, *([1] * (words.dim() - 1))).expand_as(words).reshape(-1)[positions]
        table = torch.tensor(list(tables), dtype=torch.long)
        index = (owner.unsqueeze(1) * self.tables + table) * self.vocab_size + words.reshape(-1)[positions, None]
        vectors = F.embedding(index, self.embeddings.reshape(-1, self.dim))  # (words, tables, d)
        if self.encoding == "position":
            weights = position_encoding(present.sum(-1), length, self.dim)[present]  # (words, d)
            vectors = vectors * weights.unsqueeze(1)
        sentences = vectors.new_zeros(words.numel() // length, len(table), self.dim)
        sentences = sentences.index_add(0, positions // length, vectors)
        return sentences.view(*words.shape[:-1], len(table), self.dim)

    def _temporal(self, model: Tensor, clock: Tensor, tables: Sequence[int]) -> Tensor:
        """T_t(i) for each slot's time index ``clock`` (B, M) and each table t in ``tables``: (B, M, tables, d)."""
        assert self.times is not None
        table = torch.tensor(list(tables), dtype=torch.long)
        index = (model.view(-1, 1, 1) * self.tables + table) * self.memory_size + clock.unsqueeze(-1)
        return F.embedding(index, self.times.reshape(-1, self.dim))

    def forward(self, memory: Tensor, memory_mask: Tensor, times: Tensor, query: Tensor,
                model_index: Tensor | None = None) -> MemNetOutput:
        """Answer scores and per-hop attention for a batch (see ``BabiBatch`` for the shapes)."""
        model = torch.zeros(memory.shape[0], dtype=torch.long) if model_index is None else model_index
        _check_batch(memory, memory_mask, times, query, model, self.vocab_size, self.models)
        u = self._encode(query, model, [0])[:, 0]  # u^1 = B q
        tables = self._memory_tables()
        column = {table: i for i, table in enumerate(tables)}  # with adjacent tying, C^k = A^{k+1}: one column
        encoded = self._encode(memory, model, tables)  # (B, M, tables, d)
        if self.times is not None:
            encoded = encoded + self._temporal(model, times.clamp(0, self.memory_size - 1), tables)
        by_table = encoded.movedim(2, 0).contiguous()  # (tables, B, M, d): each hop reads contiguous memories
        linear = self.linear[model].unsqueeze(1)
        softmax = softmax_with_empty_memory if self.empty_memory else masked_softmax
        attention = []
        for hop in range(1, self.hops + 1):
            a, c = self._tables(hop)
            m, out = by_table[column[a]], by_table[column[c]]
            scores = torch.einsum("bmd,bd->bm", m, u)
            p = torch.where(linear, scores * memory_mask, softmax(scores, memory_mask))
            o = torch.einsum("bm,bmd->bd", p, out)
            u = (torch.einsum("bij,bj->bi", self.hop_map[model], u) if self.tying == "layerwise" else u) + o
            attention.append(p)
        return MemNetOutput(self._answer_scores(u, model), torch.stack(attention, dim=1))

    def _answer_scores(self, u: Tensor, model: Tensor) -> Tensor:
        """W u for each question (Eq. 3) with its own network's W, as one batched matmul over the networks used.

        Questions are grouped by network (padded to the largest group), so the cost is one (groups x rows x d) by
        (groups x d x V) product instead of a (B x V x d) table of answer embeddings per question.
        """
        output = self.embeddings[:, -1] if self.tying == "adjacent" else self.output  # W^T = C^K, (models, V, d)
        if model.numel() == 0:
            return u.new_zeros(0, self.vocab_size)
        used, group = torch.unique(model, return_inverse=True)
        counts = torch.bincount(group, minlength=len(used))
        order = torch.argsort(group, stable=True)
        starts = counts.cumsum(0) - counts
        row = torch.empty_like(group)
        row[order] = torch.arange(len(group)) - starts[group[order]]
        grouped = u.new_zeros(len(used), int(counts.max()), self.dim).index_put((group, row), u)
        scores = torch.bmm(grouped, output[used].transpose(1, 2))  # (groups, rows, V)
        return scores[group, row]

    def run(self, batch: BabiBatch, model_index: Tensor | int | None = None) -> MemNetOutput:
        """``forward`` on a ``BabiBatch``; an int ``model_index`` picks one network for every question."""
        if isinstance(model_index, int):
            model_index = torch.full((batch.size,), model_index, dtype=torch.long)
        return self(batch.memory, batch.memory_mask, batch.times, batch.query, model_index)

    def pick(self, indices: Sequence[int]) -> "MemN2N":
        """A new ``MemN2N`` holding copies of the networks at ``indices`` (say, the best restart of each task)."""
        chosen = MemN2N(self.vocab_size, self.dim, self.hops, self.memory_size, self.encoding, self.temporal,
                        self.tying, models=len(indices), empty_memory=self.empty_memory)
        index = torch.tensor(list(indices), dtype=torch.long)
        chosen.load_state_dict({k: v[index].clone() for k, v in self.state_dict().items()})
        chosen.linear = self.linear[index].clone()
        return chosen


class Answered(NamedTuple):
    """One question answered by a memory network, with what it read."""

    answer: str  # the predicted answer word
    probability: float  # its softmax probability
    sentences: tuple[str, ...]  # the memories (the story's most recent sentences, oldest first)
    attention: Tensor  # (K, len(sentences)) each hop's weights over the sentences
    support: tuple[int, ...]  # indices into ``sentences`` of the supporting facts still in memory


def answer_question(model: MemN2N, vocab: Vocabulary, sample: Sample, model_index: int = 0) -> Answered:
    """Answer one ``Sample`` (a story and a question) with network ``model_index``; unknown words are an error."""
    if not sample.context:
        raise ValueError("the story is empty: give at least one statement before the question")
    batch = vectorize([sample._replace(answer=(vocab.words[1],))], vocab, model.memory_size)
    with torch.no_grad():
        out = model.run(batch, model_index)
    probabilities = out.logits[0].softmax(-1)
    best = int(probabilities.argmax())
    kept = sample.context[-model.memory_size:]
    count = len(kept)
    return Answered(vocab.words[best], float(probabilities[best]), tuple(kept), out.attention[0, :, :count],
                    tuple(int(i) for i in batch.support[0, :count].nonzero().flatten()))
