"""Encoder-decoder translation models with and without attention (chapters 2–4).

- ``Encoder``: a GRU over the source (bidirectional by default, Bahdanau et al. 2015, Sec. 3.2); its outputs are the
  *annotations* h_j, its final states the one fixed-size summary vector.
- ``PlainDecoder``: the bottleneck (Cho et al. 2014; Sutskever et al. 2014). The summary vector c is the only thing
  the decoder knows about the source: s_i = GRU([y_{i-1}; c], s_{i-1}).
- ``BahdanauDecoder``: additive attention with the *previous* decoder state as the query (Bahdanau et al. 2015,
  Eqs. 4–6): e_ij = v·tanh(W s_{i-1} + U h_j), alpha_i = softmax(e_i), c_i = sum_j alpha_ij h_j,
  s_i = GRU([y_{i-1}; c_i], s_{i-1}), and the word is predicted from [s_i; c_i; y_{i-1}].
- ``LocationDecoder``: Bahdanau's score plus *location* terms (Chorowski et al. 2015, Eqs. 8–9): features f_i
  convolved from where the decoder looked at the previous step (alpha_{i-1}) and from everything it has looked at
  so far (the sum of alpha_1..alpha_{i-1}), e_ij = v·tanh(W s_{i-1} + U h_j + U_f f_ij). It can learn "move on
  from where I was", which content alone cannot say in a long sentence that repeats its words.
- ``LuongDecoder``: global attention with the *current* state as the query (Luong et al. 2015, Sec. 3.1, Eqs. 5–8):
  h_t = GRU([y_{t-1}; h~_{t-1}], h_{t-1}) (input feeding, Sec. 3.3), scores dot / general / concat,
  h~_t = tanh(W_c [c_t; h_t]), and the word is predicted from h~_t.

Every decoder works one step at a time (``start``, ``step``), so teacher forcing (``Seq2Seq.forward``), greedy
decoding and beam search share one code path. Every step returns its attention weights as data; decoding returns
them stacked as the alignment matrix (target x source). Padded source positions get exactly zero weight.

Training these models is ``attnmem.training.seq2seq``; training one on a real corpus, ``python -m
attnmem.training.translation``.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attnmem import checks
from attnmem.attention import AdditiveScore, DotScore, GeneralScore, attend, masked_softmax
from attnmem.tasks.translation import Batch, Pair, SyntheticTranslation, Vocab, make_batch, sample_pairs

__all__ = [
    "ATTENTIONS",
    "Encoded",
    "Step",
    "Seq2SeqOutput",
    "Translation",
    "Encoder",
    "PlainDecoder",
    "BahdanauDecoder",
    "LocationFeatures",
    "LocationDecoder",
    "LuongDecoder",
    "Seq2Seq",
    "build_model",
    "bahdanau_init",
    "sequence_loss",
    "greedy_decode",
    "greedy_batch",
    "beam_search",
    "translate_sentence",
    "score_translations",
    "evaluate_pairs",
    "accuracy_by_length",
]

#: decoder kinds: no attention, Bahdanau's additive attention, Luong's three global score functions, and additive
#: attention with location features (Chorowski et al. 2015).
ATTENTIONS = ("none", "bahdanau", "dot", "general", "concat", "location")
#: weight initializations: PyTorch's defaults, or that of Bahdanau et al. (2015), Appendix B.2 (``bahdanau_init``).
INITS = ("pytorch", "bahdanau")
State = tuple[Tensor, ...]


class Encoded(NamedTuple):
    """What the encoder hands the decoder."""

    outputs: Tensor  # (B, S, D) annotations h_j; zero at padded positions
    final: Tensor  # (B, D) the fixed-size summary: last forward state and last backward state
    mask: Tensor  # (B, S) bool, True at real source positions
    keys: Tensor | None = None  # (B, S, A) a decoder's source-side part of its scores, computed once (``prepare``)


class Step(NamedTuple):
    """One decoder step."""

    logits: Tensor  # (B, V) unnormalized scores of the next target word
    state: State  # the decoder's recurrent state, every tensor batch-first
    weights: Tensor | None  # (B, S) attention over the source, None without attention


class Seq2SeqOutput(NamedTuple):
    """Teacher-forced output for a whole batch."""

    logits: Tensor  # (B, T, V)
    alignments: Tensor | None  # (B, T, S): row t is the attention used to predict target word t


class Translation(NamedTuple):
    """A decoded sentence: target ids (without <eos>), total log-probability, and its alignment (T+1, S)."""

    ids: list[int]
    log_prob: float
    alignment: Tensor | None  # one row per emitted id, the final <eos> included


def _check_source(src: Tensor, lengths: Tensor, vocab_size: int) -> None:
    if not isinstance(src, Tensor) or src.dim() != 2 or src.dtype != torch.long:
        shape = tuple(src.shape) if isinstance(src, Tensor) else type(src).__name__
        raise ValueError(f"src must be a (batch, positions) LongTensor of token ids, got {shape}; "
                         f"use tasks.translation.make_batch to build one")
    if src.shape[0] == 0 or src.shape[1] == 0:
        raise ValueError(f"src {tuple(src.shape)} is empty: give at least one sentence of at least one token "
                         f"(a sentence ends with <eos>)")
    checks.token_ids("src", src, vocab_size, "source")
    if not isinstance(lengths, Tensor) or lengths.shape != (src.shape[0],):
        raise ValueError(f"src_lengths must have one length per sentence, shape ({src.shape[0]},); got "
                         f"{tuple(lengths.shape) if isinstance(lengths, Tensor) else lengths!r}")
    if bool((lengths < 1).any()) or bool((lengths > src.shape[1]).any()):
        raise ValueError(f"src_lengths must be between 1 and {src.shape[1]} (the padded width), got {lengths.tolist()}")


class Encoder(nn.Module):
    """Embedding + GRU over the source; bidirectional annotations h_j = [forward_j; backward_j].

    ``dropout`` (training only) drops embedded words and annotations (as Luong et al. 2015, Sec. 4.1, do).
    """

    def __init__(self, vocab_size: int, embed: int, hidden: int, bidirectional: bool = True,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed, padding_idx=Vocab.PAD)
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.GRU(embed, hidden, batch_first=True, bidirectional=bidirectional)
        self.output_size = hidden * (2 if bidirectional else 1)

    def forward(self, src: Tensor, lengths: Tensor) -> Encoded:
        _check_source(src, lengths, self.embedding.num_embeddings)
        embedded = self.dropout(self.embedding(src))
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, final = self.rnn(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.shape[1])
        final = torch.cat(list(final), dim=-1)  # (B, dirs * hidden): last forward and last backward state
        return Encoded(self.dropout(outputs), final, torch.arange(src.shape[1]) < lengths.unsqueeze(1))


class _Decoder(nn.Module):
    """Shared parts: target embedding and the initial state s_0 = tanh(W_init · summary).

    Each decoder adds ``step(token, state, encoded) -> Step``: one target word in, next-word logits out.
    ``dropout`` (training only) drops the embedded previous word and the input of the output layer.
    """

    def __init__(self, vocab_size: int, embed: int, hidden: int, memory: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.vocab_size, self.hidden = vocab_size, hidden
        self.embedding = nn.Embedding(vocab_size, embed, padding_idx=Vocab.PAD)
        self.dropout = nn.Dropout(dropout)
        self.init = nn.Linear(memory, hidden)

    def start(self, encoded: Encoded) -> State:
        return (torch.tanh(self.init(encoded.final)),)

    def prepare(self, encoded: Encoded) -> Encoded:
        """What can be computed from the source once, before the first step (nothing, unless a decoder says)."""
        return encoded


class PlainDecoder(_Decoder):
    """No attention: the summary vector c is fed at every step (Cho et al. 2014, Eq. 1 of Sec. 2.2)."""

    def __init__(self, vocab_size: int, embed: int, hidden: int, memory: int, dropout: float = 0.0) -> None:
        super().__init__(vocab_size, embed, hidden, memory, dropout)
        self.cell = nn.GRUCell(embed + memory, hidden)
        self.out = nn.Linear(hidden + memory + embed, vocab_size)

    def step(self, token: Tensor, state: State, encoded: Encoded) -> Step:
        embedded, summary = self.dropout(self.embedding(token)), encoded.final
        hidden = self.cell(torch.cat([embedded, summary], -1), state[0])
        return Step(self.out(self.dropout(torch.cat([hidden, summary, embedded], -1))), (hidden,), None)


class BahdanauDecoder(_Decoder):
    """Additive attention queried by the previous state s_{i-1} (Bahdanau et al. 2015, Eqs. 4–6).

    U h_j does not depend on the step, so ``prepare`` computes it once per sentence (their Appendix A.1.2) and
    each step adds only W s_{i-1}: e_ij = v · tanh(W s_{i-1} + [U h_j]), with the weights of its ``AdditiveScore``.
    """

    def __init__(self, vocab_size: int, embed: int, hidden: int, memory: int, attention_size: int | None = None,
                 dropout: float = 0.0) -> None:
        super().__init__(vocab_size, embed, hidden, memory, dropout)
        self.score = AdditiveScore(hidden, memory, attention_size or hidden)
        self.cell = nn.GRUCell(embed + memory, hidden)
        self.out = nn.Linear(hidden + memory + embed, vocab_size)

    def prepare(self, encoded: Encoded) -> Encoded:
        return encoded._replace(keys=encoded.outputs @ self.score.w_key)

    def energies(self, state: State, keys: Tensor) -> Tensor:
        """e_ij = v · tanh(W s_{i-1} + U h_j) (Eq. 6) for every source position j; ``keys`` holds U h_j."""
        return torch.tanh((state[0] @ self.score.w_query).unsqueeze(1) + keys) @ self.score.v

    def carry(self, hidden: Tensor, state: State, weights: Tensor) -> State:
        """The state the next step starts from: s_i."""
        return (hidden,)

    def step(self, token: Tensor, state: State, encoded: Encoded) -> Step:
        previous, embedded = state[0], self.dropout(self.embedding(token))
        keys = encoded.keys if encoded.keys is not None else self.prepare(encoded).keys  # U h_j: (B, S, A)
        weights = masked_softmax(self.energies(state, keys), encoded.mask)  # Eq. 5; padding gets exactly 0
        context = (weights.unsqueeze(1) @ encoded.outputs).squeeze(1)  # c_i = sum_j alpha_ij h_j, Eq. 5
        hidden = self.cell(torch.cat([embedded, context], -1), previous)
        logits = self.out(self.dropout(torch.cat([hidden, context, embedded], -1)))
        return Step(logits, self.carry(hidden, state, weights), weights)


class LocationFeatures(nn.Module):
    """Location terms of the score, U_f f_ij with f_i = F * [alpha_{i-1}; sum_{k<i} alpha_k] (Chorowski et al. 2015,
    Eqs. 8–9, with the cumulative weights as a second channel, as in coverage models).

    ``filters`` convolution filters of width ``width`` (odd) slide over the source positions of the two channels;
    a linear map takes each position's ``filters`` numbers to the score's hidden size. The map starts at zero, so a
    new model scores by content alone and learns how much where it looked should count.
    """

    def __init__(self, attention_size: int, filters: int = 8, width: int = 21) -> None:
        super().__init__()
        if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
            raise ValueError(f"location_filters must be a positive int, got {filters!r}")
        if isinstance(width, bool) or not isinstance(width, int) or width < 1 or width % 2 == 0:
            raise ValueError(f"location filter width must be a positive odd int (centred on a position), "
                             f"got {width!r}")
        self.conv = nn.Conv1d(2, filters, width, padding=width // 2, bias=False)
        self.project = nn.Parameter(torch.zeros(filters, attention_size))

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()
        nn.init.zeros_(self.project)

    def forward(self, last: Tensor, total: Tensor) -> Tensor:
        """(B, S) previous and cumulative weights -> (B, S, A) terms added inside the score's tanh."""
        return self.conv(torch.stack([last, total], 1)).transpose(1, 2) @ self.project


class LocationDecoder(BahdanauDecoder):
    """Bahdanau's decoder whose scores also see where it looked before (Chorowski et al. 2015, Sec. 2.1):
    e_ij = v · tanh(W s_{i-1} + U h_j + U_f f_ij), with f_ij from ``LocationFeatures``.

    The state is (s, alpha_{i-1}, sum of the alphas so far). Before the first word the decoder "looked" at the first
    source word: a one-hot alpha_0 that gives the filters a starting point (the cumulative channel starts at zero).
    Its ``step`` is Bahdanau's; only the energies and the state they need differ.
    """

    def __init__(self, vocab_size: int, embed: int, hidden: int, memory: int, attention_size: int | None = None,
                 dropout: float = 0.0, filters: int = 8, width: int = 21) -> None:
        super().__init__(vocab_size, embed, hidden, memory, attention_size, dropout)
        self.location = LocationFeatures(self.score.v.shape[0], filters, width)

    def start(self, encoded: Encoded) -> State:
        first = torch.zeros(encoded.mask.shape, dtype=encoded.outputs.dtype, device=encoded.outputs.device)
        first[:, 0] = 1.0
        return torch.tanh(self.init(encoded.final)), first, torch.zeros_like(first)

    def energies(self, state: State, keys: Tensor) -> Tensor:
        """e_ij = v · tanh(W s_{i-1} + U h_j + U_f f_ij) (Eqs. 8-9), f_i from the previous and cumulative weights."""
        previous, last, total = state
        query = (previous @ self.score.w_query).unsqueeze(1)
        return torch.tanh(query + keys + self.location(last, total)) @ self.score.v

    def carry(self, hidden: Tensor, state: State, weights: Tensor) -> State:
        """The state the next step starts from: s_i, alpha_i and the sum of the alphas up to alpha_i."""
        return hidden, weights, state[2] + weights


class LuongDecoder(_Decoder):
    """Global attention queried by the current state h_t, with input feeding (Luong et al. 2015, Sec. 3.1, 3.3).

    ``score`` is ``"dot"`` (h_t · h_s; needs ``hidden == memory``), ``"general"`` (h_t W h_s) or ``"concat"``
    (v · tanh(W [h_t; h_s]), the additive form).
    """

    def __init__(self, vocab_size: int, embed: int, hidden: int, memory: int, score: str = "general",
                 dropout: float = 0.0) -> None:
        super().__init__(vocab_size, embed, hidden, memory, dropout)
        if score == "dot" and hidden != memory:
            raise ValueError(f"dot scores need the decoder size ({hidden}) to equal the annotation size ({memory}); "
                             f"use 'general' or 'concat', or set hidden to {memory}")
        scores = {"dot": DotScore, "general": lambda: GeneralScore(hidden, memory),
                  "concat": lambda: AdditiveScore(hidden, memory, hidden)}
        if score not in scores:
            raise ValueError(f"Luong score must be one of {sorted(scores)}, got {score!r}")
        self.score = scores[score]()
        self.cell = nn.GRUCell(embed + hidden, hidden)
        self.combine = nn.Linear(memory + hidden, hidden)
        self.out = nn.Linear(hidden, vocab_size)

    def start(self, encoded: Encoded) -> State:
        hidden = torch.tanh(self.init(encoded.final))
        return hidden, torch.zeros_like(hidden)  # (h_0, h~_0): nothing attended yet

    def step(self, token: Tensor, state: State, encoded: Encoded) -> Step:
        previous, attentional = state
        hidden = self.cell(torch.cat([self.dropout(self.embedding(token)), attentional], -1), previous)
        context, weights = attend(hidden.unsqueeze(1), encoded.outputs, encoded.outputs,
                                  encoded.mask.unsqueeze(1), score=self.score)
        attentional = torch.tanh(self.combine(torch.cat([context.squeeze(1), hidden], -1)))
        return Step(self.out(self.dropout(attentional)), (hidden, attentional), weights.squeeze(1))


class Seq2Seq(nn.Module):
    """An encoder and a decoder; ``forward`` is teacher forcing (the true previous word is fed at every step)."""

    def __init__(self, encoder: Encoder, decoder: _Decoder, attention: str) -> None:
        super().__init__()
        self.encoder, self.decoder, self.attention = encoder, decoder, attention

    def encode(self, src: Tensor, src_lengths: Tensor) -> Encoded:
        """Annotations, summary and mask of the source, plus what the decoder precomputes from them."""
        return self.decoder.prepare(self.encoder(src, src_lengths))

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Seq2SeqOutput:
        if not isinstance(tgt_in, Tensor) or tgt_in.dim() != 2 or tgt_in.shape[0] != src.shape[0]:
            raise ValueError(f"tgt_in must be (batch, steps) with the same batch as src {tuple(src.shape)}, got "
                             f"{tuple(tgt_in.shape) if isinstance(tgt_in, Tensor) else type(tgt_in).__name__}")
        if tgt_in.shape[1] == 0:
            raise ValueError("tgt_in has no steps: teacher forcing needs at least <bos>")
        checks.token_ids("tgt_in", tgt_in, self.decoder.vocab_size, "target")
        encoded = self.encode(src, src_lengths)
        state = self.decoder.start(encoded)
        logits, weights = [], []
        for t in range(tgt_in.shape[1]):
            step = self.decoder.step(tgt_in[:, t], state, encoded)
            state = step.state
            logits.append(step.logits)
            weights.append(step.weights)
        alignments = None if weights[0] is None else torch.stack(weights, 1)
        return Seq2SeqOutput(torch.stack(logits, 1), alignments)


def build_model(config: dict[str, Any]) -> Seq2Seq:
    """A model from a config: ``src_vocab``, ``tgt_vocab`` (sizes), ``embed``, ``hidden`` (encoder, per direction),
    ``bidirectional``, ``attention`` (one of ``ATTENTIONS``), ``dropout`` (default 0) and ``init`` (one of ``INITS``,
    default ``"pytorch"``); for ``"location"``, ``location_filters`` (default 8) and ``location_width`` (default 21).
    The decoder's size equals the annotation size."""
    required = ("src_vocab", "tgt_vocab", "embed", "hidden", "attention")
    missing = [k for k in required if k not in config]
    if missing:
        raise KeyError(f"model config lacks {missing}; it needs {list(required)} (and optionally 'bidirectional', "
                       f"'dropout')")
    attention = config["attention"]
    if attention not in ATTENTIONS:
        raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
    dropout = config.get("dropout", 0.0)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
    init = config.get("init", "pytorch")
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    checks.positive_sizes(**{k: config[k] for k in ("src_vocab", "tgt_vocab", "embed", "hidden")})
    checks.model_numbers("this encoder-decoder", _parameters_about(config),
                         "use a smaller hidden, embed or vocabulary")
    encoder = Encoder(config["src_vocab"], config["embed"], config["hidden"], config.get("bidirectional", True),
                      dropout)
    size, vocab, embed = encoder.output_size, config["tgt_vocab"], config["embed"]
    if attention == "none":
        decoder: _Decoder = PlainDecoder(vocab, embed, size, size, dropout)
    elif attention == "bahdanau":
        decoder = BahdanauDecoder(vocab, embed, size, size, dropout=dropout)
    elif attention == "location":
        decoder = LocationDecoder(vocab, embed, size, size, dropout=dropout, filters=config.get("location_filters", 8),
                                  width=config.get("location_width", 21))
    else:
        decoder = LuongDecoder(vocab, embed, size, size, score=attention, dropout=dropout)
    model = Seq2Seq(encoder, decoder, attention)
    if init == "bahdanau":
        bahdanau_init(model)
    return model


def _parameters_about(config: dict[str, Any]) -> int:
    """About how many parameters ``build_model(config)`` makes (its largest terms), computed before building it."""
    embed, size = config["embed"], config["hidden"] * (2 if config.get("bidirectional", True) else 1)
    vocabularies = (config["src_vocab"] + config["tgt_vocab"]) * embed
    encoder = 3 * size * (embed + config["hidden"])
    decoder = 3 * size * (embed + 2 * size) + 2 * size * size + (2 * size + embed) * config["tgt_vocab"]
    return vocabularies + encoder + decoder


@torch.no_grad()
def bahdanau_init(model: nn.Module) -> None:
    """The initialization of Bahdanau et al. (2015), Appendix B.2: recurrent weight matrices random orthogonal (one
    block per gate), the attention's W_a and U_a from N(0, 0.001^2) and its v_a zero, every other weight matrix
    (embeddings included) from N(0, 0.01^2), biases zero.

    In the zoo's recipe it raised the attention model's exact match on 45-word sentences (trained on 3-30 words) from
    about 0.72 to about 0.77 (one training run each, 1,000 test sentences; chapter 3)."""
    for module in model.modules():
        if isinstance(module, AdditiveScore):
            nn.init.normal_(module.w_query, std=0.001)
            nn.init.normal_(module.w_key, std=0.001)
            nn.init.zeros_(module.v)
            continue
        for name, weight in module.named_parameters(recurse=False):
            if "bias" in name:
                nn.init.zeros_(weight)
            elif isinstance(module, (nn.GRU, nn.GRUCell)) and name.startswith("weight_hh"):
                for block in weight.chunk(3):  # reset, update and new gates
                    nn.init.orthogonal_(block)
            else:
                nn.init.normal_(weight, std=0.01)
    for module in model.modules():  # not in the appendix: location filters keep their own initialization
        if isinstance(module, LocationFeatures):
            module.reset_parameters()


def sequence_loss(model: Seq2Seq, batch: Batch) -> tuple[Tensor, dict[str, float]]:
    """Mean cross-entropy of the teacher-forced predictions over real target positions, and token accuracy."""
    logits = model(batch.src, batch.src_lengths, batch.tgt_in).logits
    loss = nn.functional.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=Vocab.PAD)
    correct = (logits.argmax(-1) == batch.tgt_out) & batch.tgt_mask
    return loss, {"token_acc": float(correct.sum()) / max(1, int(batch.tgt_mask.sum()))}


# --- decoding -----------------------------------------------------------------------------------------------------
def _select(state: State, index: Tensor) -> State:
    return tuple(s.index_select(0, index) for s in state)


def _single(src: Tensor) -> tuple[Tensor, Tensor]:
    if not isinstance(src, Tensor) or src.dim() != 1 or src.dtype != torch.long or src.numel() == 0:
        raise ValueError("decode one sentence at a time: src must be a non-empty 1-D LongTensor of ids "
                         "(ending in <eos>); use greedy_batch for a batch")
    return src.unsqueeze(0), torch.tensor([src.numel()])


@torch.no_grad()
def greedy_batch(model: Seq2Seq, src: Tensor, src_lengths: Tensor, max_length: int) -> tuple[Tensor, Tensor | None]:
    """Greedy decoding of a batch: ids (B, max_length) with <eos> and <pad> after it, and alignments (B, T, S)."""
    checks.loop_bounds(max_length=max_length)
    encoded = model.encode(src, src_lengths)
    state = model.decoder.start(encoded)
    token = torch.full((src.shape[0],), Vocab.BOS, dtype=torch.long)
    done = torch.zeros(src.shape[0], dtype=torch.bool)
    ids, weights = [], []
    for _ in range(max_length):
        step = model.decoder.step(token, state, encoded)
        state = step.state
        token = step.logits.argmax(-1).masked_fill(done, Vocab.PAD)
        ids.append(token)
        weights.append(step.weights)
        done |= token == Vocab.EOS
        if bool(done.all()):
            break
    return torch.stack(ids, 1), None if weights[0] is None else torch.stack(weights, 1)


@torch.no_grad()
def greedy_decode(model: Seq2Seq, src: Tensor, max_length: int = 100) -> Translation:
    """Greedy decoding of one sentence (1-D ids ending in <eos>): the most probable word at every step."""
    checks.loop_bounds(max_length=max_length)
    batch_src, lengths = _single(src)
    encoded = model.encode(batch_src, lengths)
    state = model.decoder.start(encoded)
    token, ids, rows, log_prob = torch.tensor([Vocab.BOS]), [], [], 0.0
    for _ in range(max_length):
        step = model.decoder.step(token, state, encoded)
        state = step.state
        log_probs = step.logits.log_softmax(-1)[0]
        token = log_probs.argmax().unsqueeze(0)
        log_prob += float(log_probs[token])
        if step.weights is not None:
            rows.append(step.weights[0])
        if int(token) == Vocab.EOS:
            break
        ids.append(int(token))
    return Translation(ids, log_prob, torch.stack(rows) if rows else None)


def _repeat(encoded: Encoded, rows: int) -> Encoded:
    """One sentence's encoding seen ``rows`` times (views, no copies): one row per live hypothesis of a beam."""
    return Encoded(*(None if x is None else x.expand(rows, *x.shape[1:]) for x in encoded))


def _extend(alignments: Tensor | None, weights: Tensor | None) -> Tensor | None:
    """Append this step's attention (live, S) to each live hypothesis' alignment so far (live, t, S)."""
    if weights is None:
        return None
    return weights.unsqueeze(1) if alignments is None else torch.cat([alignments, weights.unsqueeze(1)], 1)


@torch.inference_mode()  # like no_grad, with less bookkeeping per operation: the beam's many small steps add up
def beam_search(model: Seq2Seq, src: Tensor, beam_size: int = 5, max_length: int = 100,
                length_penalty: float = 0.0) -> list[Translation]:
    """Beam search for one sentence; returns up to ``beam_size`` translations, best first.

    Keeps the ``beam_size`` most probable partial translations at every step; one that emits <eos> is finished.
    The live hypotheses go through the decoder together, as one batch, and the source is encoded once.
    Search stops once ``beam_size`` translations are finished (or after ``max_length`` steps). Finished ones are
    ranked by log-probability / length ** ``length_penalty`` (0 = plain log-probability). With ``beam_size=1`` this
    is exactly greedy decoding.
    """
    checks.positive_sizes(beam_size=beam_size)
    checks.loop_bounds(max_length=max_length)
    batch_src, lengths = _single(src)
    encoded = model.encode(batch_src, lengths)
    state = model.decoder.start(encoded)
    tokens, scores = torch.tensor([Vocab.BOS]), torch.zeros(1)
    histories: list[list[int]] = [[]]
    alignments: Tensor | None = None  # (live, t, S)
    finished: list[Translation] = []
    for _ in range(max_length):
        step = model.decoder.step(tokens, state, _repeat(encoded, len(histories)))
        total = (scores.unsqueeze(1) + step.logits.log_softmax(-1)).flatten()  # (live * V,)
        top_scores, top = total.topk(min(2 * beam_size, total.numel()))
        vocab = step.logits.shape[-1]
        extended = _extend(alignments, step.weights)
        keep: list[tuple[int, int, float]] = []  # (row, token, score) of the hypotheses that go on
        for score, row, token in zip(top_scores.tolist(), (top // vocab).tolist(), (top % vocab).tolist()):
            if token == Vocab.EOS:
                finished.append(Translation(histories[row], score, None if extended is None else extended[row]))
            else:
                keep.append((row, token, score))
            if len(finished) >= beam_size or len(keep) == beam_size:
                break
        if len(finished) >= beam_size or not keep:
            break
        rows, kept_tokens, kept_scores = zip(*keep)
        index = torch.tensor(rows)
        state = _select(step.state, index)
        alignments = None if extended is None else extended.index_select(0, index)
        histories = [histories[r] + [t] for r, t in zip(rows, kept_tokens)]
        tokens, scores = torch.tensor(kept_tokens), torch.tensor(kept_scores)
    if not finished:  # nothing ended within max_length: return the live hypotheses unfinished
        finished = [Translation(h, float(s), None if alignments is None else alignments[i])
                    for i, (h, s) in enumerate(zip(histories, scores.tolist()))]
    ranked = sorted(finished, key=lambda t: t.log_prob / max(1, len(t.ids) + 1) ** length_penalty, reverse=True)
    return ranked[:beam_size]


def translate_sentence(model: Seq2Seq, sentence: str | Sequence[str], src_vocab: Vocab, tgt_vocab: Vocab,
                       beam_size: int = 1, reverse_source: bool = False) -> tuple[list[str], list[str], Translation]:
    """Translate one sentence given as text. Returns (source words fed + <eos>, target words, the ``Translation``).

    The target words map one to one onto ``Translation.ids`` (the final <eos> is not among them).

    Unknown words and empty sentences are a clear error (raised by ``Vocab.encode``).
    """
    words = sentence.split() if isinstance(sentence, str) else list(sentence)
    fed = list(reversed(words)) if reverse_source else words
    src = torch.tensor(src_vocab.encode(fed), dtype=torch.long)
    max_length = 2 * len(words) + 10
    result = greedy_decode(model, src, max_length) if beam_size == 1 else beam_search(model, src, beam_size,
                                                                                        max_length)[0]
    return fed + ["<eos>"], tgt_vocab.decode(result.ids, strip=False), result


# --- measuring ----------------------------------------------------------------------------------------------------
def score_translations(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Exact match, token accuracy (position-wise matches / the longer length) and corpus BLEU (sacrebleu)."""
    import sacrebleu

    if len(hypotheses) != len(references) or not references:
        raise ValueError(f"need as many hypotheses as references (and at least one); got {len(hypotheses)} "
                         f"and {len(references)}")
    checks.token_lists("hypotheses", hypotheses)
    checks.token_lists("references", references)
    exact = sum(list(h) == list(r) for h, r in zip(hypotheses, references))
    token = sum(sum(a == b for a, b in zip(h, r)) / max(len(h), len(r), 1) for h, r in zip(hypotheses, references))
    bleu = sacrebleu.corpus_bleu([" ".join(h) for h in hypotheses], [[" ".join(r) for r in references]],
                                 tokenize="none")
    n = len(references)
    return {"exact_match": exact / n, "token_accuracy": token / n, "bleu": float(bleu.score)}


@torch.no_grad()
def evaluate_pairs(model: Seq2Seq, pairs: Sequence[Pair], src_vocab: Vocab, tgt_vocab: Vocab,
                   reverse_source: bool = False, batch_size: int = 250, unknown: str = "error") -> dict[str, float]:
    """Greedy-decode every pair's source and score against its target (``score_translations``).

    ``unknown="unk"`` maps words outside the vocabularies to <unk> (for real corpora) instead of raising.
    """
    model.eval()
    hypotheses = []
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i:i + batch_size]
        batch = make_batch(chunk, src_vocab, tgt_vocab, reverse_source, unknown)
        ids, _ = greedy_batch(model, batch.src, batch.src_lengths, 2 * batch.tgt_out.shape[1] + 5)
        hypotheses += [tgt_vocab.decode(row) for row in ids.tolist()]
    return score_translations(hypotheses, [p.target for p in pairs])


def accuracy_by_length(model: Seq2Seq, lengths: Sequence[int], n: int = 100, seed: int = 0,
                       order: str = "reordered", reverse_source: bool = False) -> dict[int, dict[str, float]]:
    """For each source length, the scores of ``n`` fresh synthetic sentences of exactly that length."""
    task = SyntheticTranslation(order=order, reverse_source=reverse_source)
    return {length: evaluate_pairs(model, sample_pairs(n, length, length, seed + length, order), task.src_vocab,
                                   task.tgt_vocab, reverse_source)
            for length in lengths}
