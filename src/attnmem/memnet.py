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
the size of the read says how well something matched -- which is what a yes/no question needs
(``tests/test_memnet.py`` trains task 6 with and without it).

A second choice from the released code is the *size* of the position weights. ``position_encoding`` is the paper's
printed l_kj; the released code (MemN2N-babi-matlab, ``build_model.m``) uses 1 + 4 (k - (d+1)/2)(j - (J+1)/2) / (d J),
which is about 2 l_kj. The paper's Table 1 comes from that code, so ``MemN2N`` multiplies l_kj by
``position_scale`` = 2 unless told otherwise (1 gives the printed equation). With the printed weights every
restart on the generator's basic induction (task 16) settles on counting the story's colours (about 30% test
error); with twice them every restart of three seeds learns the chain of facts the task needs
(``benchmarks/results/memnet_history.md``, 3 December).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from attnmem import checks
from attnmem.attention import masked_softmax
from attnmem.tasks.babi import BabiBatch, Sample, Vocabulary, vectorize

__all__ = ["MemNetOutput", "MemN2N", "position_encoding", "softmax_with_empty_memory", "Answered", "answer_question"]


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


def distinct_rows(words: Tensor, vocab_size: int) -> tuple[Tensor, Tensor]:
    """The distinct rows of ``words`` (N, L) and, for each row, the index of its distinct row.

    Like ``torch.unique(words, dim=0, return_inverse=True)`` (in another order), from one 1-d ``torch.unique`` per
    column, which is much faster on a CPU: each column refines the ids of the columns before it, kept below N.
    """
    ids = torch.zeros(len(words), dtype=torch.long)
    for column in words.T:
        ids = torch.unique(ids * vocab_size + column, return_inverse=True)[1]
    count = int(ids.max()) + 1 if len(ids) else 0
    first = torch.zeros(count, dtype=torch.long).scatter_(0, ids, torch.arange(len(ids)))  # one row of each id
    return words[first], ids


class MemN2N(nn.Module):
    """One end-to-end memory network with K hops (Sukhbaatar et al. 2015).

    ``vocab_size`` words (index 0 is padding), embedding size ``dim``, ``hops`` K, temporal tables for
    ``memory_size`` slots. ``encoding`` is "bow" or "position"; ``tying`` is "adjacent" or "layerwise".
    Set ``linear_start = True`` to remove the memory softmaxes (the linear start of Section 4.2).
    ``empty_memory`` adds the always-present empty slot of the authors' code to every softmax (module docstring).
    ``position_scale`` multiplies the position weights l_kj: 2, the default, is about the size of the weights in the
    authors' released code, which produced the paper's numbers; 1 is the paper's printed equation (module
    docstring). A bag of words ignores it.

    Weights (Section 2.2): with adjacent tying ``embeddings`` holds E_0..E_K, where A^k = E_{k-1}, C^k = E_k,
    B = A^1 = E_0 and W^T = C^K = E_K, and ``times`` holds T_0..T_K the same way. With layer-wise tying
    ``embeddings`` holds B, A, C, ``times`` T_A, T_C, and there are ``hop_map`` H and ``output`` W.
    """

    def __init__(self, vocab_size: int, dim: int = 20, hops: int = 3, memory_size: int = 50,
                 encoding: str = "position", temporal: bool = True, tying: str = "adjacent",
                 empty_memory: bool = False, position_scale: float = 2.0) -> None:
        super().__init__()
        checks.memnet_config(vocab_size, dim, hops, memory_size, encoding, tying, position_scale)
        self.vocab_size, self.dim, self.hops, self.memory_size = vocab_size, dim, hops, memory_size
        self.encoding, self.temporal, self.tying, self.empty_memory = encoding, temporal, tying, empty_memory
        self.position_scale = float(position_scale)
        adjacent = tying == "adjacent"
        self.embeddings = nn.Parameter(torch.empty(hops + 1 if adjacent else 3, vocab_size, dim))
        self.times = nn.Parameter(torch.empty(hops + 1 if adjacent else 2, memory_size, dim)) if temporal else None
        if not adjacent:
            self.hop_map = nn.Parameter(torch.empty(dim, dim))  # H
            self.output = nn.Parameter(torch.empty(vocab_size, dim))  # W
        # A 0-d flag rather than a Python bool, so that networks trained side by side can each end it on their own.
        self.register_buffer("linear", torch.tensor(False), persistent=False)
        self.reset_parameters()

    @property
    def linear_start(self) -> bool:
        """True while the network runs without its memory softmaxes."""
        return bool(self.linear)

    @linear_start.setter
    def linear_start(self, on: bool) -> None:
        self.linear.fill_(bool(on))

    def reset_parameters(self) -> None:
        """Gaussian N(0, 0.1^2) initialisation of every matrix (Section 4.2); padding (index 0) embeds to zero."""
        for parameter in self.parameters():
            nn.init.normal_(parameter, std=0.1)
        with torch.no_grad():
            self.embeddings[:, 0].zero_()

    def encode(self, words: Tensor, tables: Tensor) -> Tensor:
        """Sentence vectors sum_j l_j * E x_j with every table E of ``tables`` (tables, V, d): (tables, ..., d).

        ``words`` is (..., L) word indices. The weights l_j are the position encoding (Section 4.1) times
        ``position_scale``, or 1 for every word of a bag of words; padding gets weight 0. A batch of stories repeats
        the same few sentences (and an empty slot is an all-padding sentence), so each distinct sentence is embedded
        once.
        """
        sentences, which = distinct_rows(words.reshape(-1, words.shape[-1]), self.vocab_size)
        present = sentences != 0
        if self.encoding == "position":
            weights = self.position_scale * position_encoding(present.sum(-1), words.shape[-1], self.dim)
        else:
            weights = present.unsqueeze(-1).to(tables.dtype)
        vectors = (tables[:, sentences] * weights).sum(-2)  # (tables, sentences, d)
        return vectors[:, which].view(len(tables), *words.shape[:-1], self.dim)

    def forward(self, memory: Tensor, memory_mask: Tensor, times: Tensor, query: Tensor) -> MemNetOutput:
        """Answer scores and each hop's attention for a batch of questions (shapes as in ``BabiBatch``)."""
        checks.memnet_inputs(memory, memory_mask, times, query, self.vocab_size)
        adjacent = self.tying == "adjacent"
        u = self.encode(query, self.embeddings[:1])[0]  # u^1 = B q
        memories = self.encode(memory, self.embeddings if adjacent else self.embeddings[1:])  # (tables, B, M, d)
        if self.times is not None:  # + T_A(i), T_C(i); noise can push an age past the last table row
            memories = memories + self.times[:, times.clamp(max=self.memory_size - 1)]
        softmax = softmax_with_empty_memory if self.empty_memory else masked_softmax
        attention = []
        for k in range(1, self.hops + 1):
            m, c = (memories[k - 1], memories[k]) if adjacent else (memories[0], memories[1])  # A^k x, C^k x
            scores = torch.einsum("bmd,bd->bm", m, u)  # u^T m_i
            p = torch.where(self.linear, scores * memory_mask, softmax(scores, memory_mask))  # Eq. 1
            o = torch.einsum("bm,bmd->bd", p, c)  # Eq. 2: o = sum_i p_i c_i
            u = (u if adjacent else u @ self.hop_map.T) + o  # u^{k+1} = u^k + o^k, or H u^k + o^k
            attention.append(p)
        w = self.embeddings[-1] if adjacent else self.output  # W^T = C^K with adjacent tying
        return MemNetOutput(u @ w.T, torch.stack(attention, dim=1))  # Eq. 3: a = softmax(W (o^K + u^K))

    def run(self, batch: BabiBatch) -> MemNetOutput:
        """``forward`` on a ``BabiBatch``."""
        return self(batch.memory, batch.memory_mask, batch.times, batch.query)


class Answered(NamedTuple):
    """One question answered by a memory network, with what it read."""

    answer: str  # the predicted answer word
    probability: float  # its softmax probability
    sentences: tuple[str, ...]  # the memories (the story's most recent sentences, oldest first)
    attention: Tensor  # (K, len(sentences)) each hop's weights over the sentences
    support: tuple[int, ...]  # indices into ``sentences`` of the supporting facts still in memory


def answer_question(model: MemN2N, vocab: Vocabulary, sample: Sample) -> Answered:
    """Answer one ``Sample`` (a story and a question) with ``model``; unknown words are an error."""
    if not sample.context:
        raise ValueError("the story is empty: give at least one statement before the question")
    batch = vectorize([sample._replace(answer=(vocab.words[1],))], vocab, model.memory_size)
    with torch.no_grad():
        out = model.run(batch)
    probabilities = out.logits[0].softmax(-1)
    best = int(probabilities.argmax())
    kept = sample.context[-model.memory_size:]
    count = len(kept)
    return Answered(vocab.words[best], float(probabilities[best]), tuple(kept), out.attention[0, :, :count],
                    tuple(int(i) for i in batch.support[0, :count].nonzero().flatten()))
