"""Self-attention and the Transformer (Vaswani et al. 2017, "Attention is all you need"), chapter 10.

- ``multi_head_attention``: h heads at once, made visible by a reshape: project queries, keys and values, split the
  last dimension into (heads, d_model / heads), run chapter 1's scaled dot-product attention (Eq. 1) on every head,
  join the heads and project back (Sec. 3.2.2). It returns every head's weights.
- ``sinusoidal_encoding``: PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)) (Sec. 3.5);
  ``Positions`` adds it, a learned table, or nothing (the model is then a bag of words).
- ``EncoderLayer``, ``DecoderLayer``: self-attention (the decoder's under a causal mask), the decoder's attention
  over the encoder's output, and a position-wise feed-forward network (Sec. 3.1, 3.3), each wrapped in a residual
  connection with layer normalisation.

Where the normalisation goes. The paper normalises *after* adding the residual, LayerNorm(x + Sublayer(x)) ("post-norm");
this module's default normalises the sublayer's *input*, x + Sublayer(LayerNorm(x)) ("pre-norm"), with one more
LayerNorm after the last layer. With pre-norm the residual path from the embeddings to the output is an identity, so
the gradient at the first layers does not depend on the normalisations above them; Xiong et al. (2020) show that
this is why post-norm needs the paper's learning-rate warm-up and pre-norm does not. On a CPU budget of minutes, a
model that trains at full learning rate from the first step is worth it. ``norm="post"`` builds the paper's placement.

The model works through the same interface as chapter 3's recurrent models (``encode``, ``decoder.start``,
``decoder.step``), so ``attnmem.seq2seq``'s greedy decoding and beam search translate with it unchanged. A decoder
step runs the same layers as teacher forcing on the one new position; what the earlier positions offered to each
self-attention is kept in the decoding state, so they are not computed again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

import torch
from torch import Tensor, nn

from attnmem.attention import Attended, attend, scaled_dot_scores
from attnmem.seq2seq import Encoded, Step, _check_source
from attnmem.tasks.translation import Vocab

__all__ = [
    "POSITIONS",
    "NORMS",
    "scaled_dot_product_attention",
    "split_heads",
    "merge_heads",
    "multi_head_attention",
    "MultiHeadAttention",
    "sinusoidal_encoding",
    "Positions",
    "padding_mask",
    "causal_mask",
    "FeedForward",
    "EncoderLayer",
    "DecoderLayer",
    "AttentionMaps",
    "TransformerOutput",
    "TransformerDecoder",
    "Transformer",
    "build_transformer",
    "label_smoothed_loss",
]

#: how word positions enter the model: the paper's sinusoids, a learned vector per position, or not at all.
POSITIONS = ("sinusoidal", "learned", "none")
#: where layer normalisation sits: around the sublayer's input ("pre") or after the residual sum ("post", the paper's).
NORMS = ("pre", "post")


def scaled_dot_product_attention(query: Tensor, keys: Tensor, values: Tensor, mask: Tensor | None = None) -> Attended:
    """softmax(Q K^T / sqrt(d_k)) V (Vaswani et al. 2017, Eq. 1): chapter 1's ``attend`` with scaled dot scores."""
    return attend(query, keys, values, mask, score=scaled_dot_scores)


def split_heads(x: Tensor, heads: int) -> Tensor:
    """(B, L, heads * d) -> (B, heads, L, d): each head gets its own slice of the features."""
    batch, length, width = x.shape
    return x.view(batch, length, heads, width // heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(B, heads, L, d) -> (B, L, heads * d): the heads' outputs side by side (Concat in Sec. 3.2.2)."""
    batch, heads, length, width = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * width)


def multi_head_attention(queries: Tensor, memory: Tensor, w_q: nn.Linear, w_k: nn.Linear, w_v: nn.Linear,
                         w_o: nn.Linear, heads: int, mask: Tensor | None = None) -> Attended:
    """MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O, head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V) (Sec. 3.2.2).

    ``queries`` (B, Lq, d_model) attend over ``memory`` (B, Lk, d_model); ``mask`` broadcasts to (B, heads, Lq, Lk).
    The h projections W_i are the h slices of one d_model x d_model matrix, so one matrix product makes them all.
    Returns the output (B, Lq, d_model) and every head's weights (B, heads, Lq, Lk).
    """
    q, k, v = split_heads(w_q(queries), heads), split_heads(w_k(memory), heads), split_heads(w_v(memory), heads)
    context, weights = scaled_dot_product_attention(q, k, v, mask)
    return Attended(w_o(merge_heads(context)), weights)


class MultiHeadAttention(nn.Module):
    """The four projections of multi-head attention and ``multi_head_attention`` over them."""

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of heads ({heads}): each head gets "
                             f"d_model / heads features; try heads in {[h for h in range(1, 9) if d_model % h == 0]}")
        self.heads = heads
        self.w_q, self.w_k, self.w_v, self.w_o = (nn.Linear(d_model, d_model) for _ in range(4))

    def forward(self, queries: Tensor, memory: Tensor, mask: Tensor | None = None) -> Attended:
        return multi_head_attention(queries, memory, self.w_q, self.w_k, self.w_v, self.w_o, self.heads, mask)


def sinusoidal_encoding(length: int, d_model: int) -> Tensor:
    """(length, d_model): PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(same) (Sec. 3.5)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    encoding = torch.zeros(length, d_model)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency)
    return encoding


class Positions(nn.Module):
    """Adds position information to embedded words: ``"sinusoidal"``, ``"learned"`` (one trained vector per position,
    as the paper's Table 3 row (E)) or ``"none"``. A learned vector past the training lengths was never trained."""

    def __init__(self, kind: str, d_model: int, max_positions: int) -> None:
        super().__init__()
        self.kind, self.max_positions = kind, max_positions
        if kind == "learned":
            self.table = nn.Embedding(max_positions, d_model)
        elif kind == "sinusoidal":
            self.register_buffer("table", sinusoidal_encoding(max_positions, d_model), persistent=False)

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        """``x`` (B, L, d) holds positions ``start`` to ``start + L - 1``."""
        if self.kind == "none":
            return x
        if start + x.shape[1] > self.max_positions:
            raise ValueError(f"a sequence of {start + x.shape[1]} positions is longer than the {self.max_positions} "
                             f"this model was built for; build it with a larger max_positions")
        table = self.table.weight if self.kind == "learned" else self.table
        return x + table[start: start + x.shape[1]]


def padding_mask(lengths: Tensor, width: int) -> Tensor:
    """(B, 1, 1, width) bool, True at the first ``lengths[b]`` positions: every head and query may see only those."""
    return (torch.arange(width, device=lengths.device) < lengths.unsqueeze(1))[:, None, None, :]


def causal_mask(length: int, device: torch.device | None = None, earlier: int = 0) -> Tensor:
    """(length, earlier + length) bool: position i may look at positions 0..i only. Without ``earlier`` positions
    before the first query, it is True on and below the diagonal."""
    return torch.ones(length, earlier + length, dtype=torch.bool, device=device).tril(earlier)


class FeedForward(nn.Module):
    """FFN(x) = max(0, x W_1 + b_1) W_2 + b_2, the same at every position (Sec. 3.3, Eq. 2)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class _Residual(nn.Module):
    """x + Dropout(sublayer(LayerNorm(x))) for pre-norm, LayerNorm(x + Dropout(sublayer(x))) for post-norm."""

    def __init__(self, d_model: int, dropout: float, norm: str) -> None:
        super().__init__()
        self.norm, self.layer_norm, self.dropout = norm, nn.LayerNorm(d_model), nn.Dropout(dropout)

    def forward(self, x: Tensor, sublayer: Any) -> tuple[Tensor, Tensor | None]:
        out = sublayer(self.layer_norm(x) if self.norm == "pre" else x)
        out, weights = (out.context, out.weights) if isinstance(out, Attended) else (out, None)
        x = x + self.dropout(out)
        return (x if self.norm == "pre" else self.layer_norm(x)), weights


class EncoderLayer(nn.Module):
    """Self-attention over the source, then the feed-forward network, each a residual block (Sec. 3.1)."""

    def __init__(self, d_model: int, heads: int, d_ff: int, dropout: float, norm: str = "pre") -> None:
        super().__init__()
        self.self_attention, self.feed_forward = MultiHeadAttention(d_model, heads), FeedForward(d_model, d_ff, dropout)
        self.attention_block, self.feed_forward_block = (_Residual(d_model, dropout, norm) for _ in range(2))

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        x, weights = self.attention_block(x, lambda h: self.self_attention(h, h, mask))
        x, _ = self.feed_forward_block(x, self.feed_forward)
        return x, weights


class DecoderLayer(nn.Module):
    """Masked self-attention over the target so far, attention over the encoder's output, the feed-forward network."""

    def __init__(self, d_model: int, heads: int, d_ff: int, dropout: float, norm: str = "pre") -> None:
        super().__init__()
        self.self_attention, self.cross_attention = MultiHeadAttention(d_model, heads), MultiHeadAttention(d_model, heads)
        self.feed_forward = FeedForward(d_model, d_ff, dropout)
        self.self_block, self.cross_block, self.feed_forward_block = (_Residual(d_model, dropout, norm)
                                                                      for _ in range(3))

    def forward(self, y: Tensor, memory: Tensor, self_mask: Tensor, memory_mask: Tensor,
                earlier: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``y`` (B, T, d) are new positions; ``earlier`` (B, t, d) is what the self-attention was given at the t
        positions before them (empty in teacher forcing). Returns y, both attentions' weights, and ``earlier``
        extended by the new positions."""
        seen = []

        def look_back(h: Tensor) -> Attended:
            seen.append(torch.cat([earlier, h], 1))
            return self.self_attention(h, seen[0], self_mask)

        y, self_weights = self.self_block(y, look_back)
        y, cross_weights = self.cross_block(y, lambda h: self.cross_attention(h, memory, memory_mask))
        y, _ = self.feed_forward_block(y, self.feed_forward)
        return y, self_weights, cross_weights, seen[0]


@dataclass(frozen=True)
class AttentionMaps:
    """Every layer's and head's weights: tuples with one (B, heads, queries, keys) tensor per layer."""

    encoder: tuple[Tensor, ...]  # source over source
    decoder: tuple[Tensor, ...]  # target over the target so far (zero above the diagonal)
    cross: tuple[Tensor, ...]  # target over source

    @property
    def alignment(self) -> Tensor:
        """(B, T, S): the last layer's attention over the source, averaged over its heads."""
        return self.cross[-1].mean(1)


class TransformerOutput(NamedTuple):
    logits: Tensor  # (B, T, V)
    attention: AttentionMaps


class TransformerDecoder(nn.Module):
    """Target embedding, positions, the decoder layers and the output layer; ``start``/``step`` for decoding."""

    def __init__(self, vocab_size: int, d_model: int, heads: int, d_ff: int, layers: int, dropout: float,
                 positions: str, max_positions: int, norm: str) -> None:
        super().__init__()
        self.d_model = d_model
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=Vocab.PAD)
        self.positions, self.dropout = Positions(positions, d_model, max_positions), nn.Dropout(dropout)
        self.layers = nn.ModuleList(DecoderLayer(d_model, heads, d_ff, dropout, norm) for _ in range(layers))
        self.final_norm = nn.LayerNorm(d_model) if norm == "pre" else nn.Identity()
        self.out = nn.Linear(d_model, vocab_size)

    def forward(self, tgt_in: Tensor, memory: Tensor, memory_mask: Tensor, earlier: Sequence[Tensor] | None = None
                ) -> tuple[Tensor, list[Tensor], list[Tensor], list[Tensor]]:
        """Logits (B, T, V) for the target words ``tgt_in``, each layer's self- and cross-attention weights, and
        what each layer's self-attention has seen so far. Teacher forcing gives the whole target at once;
        decoding gives one word and, in ``earlier``, what each layer's self-attention saw at the words before it."""
        start = 0 if earlier is None else earlier[0].shape[1]
        if earlier is None:
            earlier = [memory.new_zeros(tgt_in.shape[0], 0, self.d_model)] * len(self.layers)
        y = self.dropout(self.positions(self.embedding(tgt_in) * math.sqrt(self.d_model), start))
        future = causal_mask(tgt_in.shape[1], tgt_in.device, earlier=start)
        self_weights, cross_weights, seen = [], [], []
        for layer, before in zip(self.layers, earlier):
            y, own, cross, so_far = layer(y, memory, future, memory_mask, before)
            self_weights.append(own)
            cross_weights.append(cross)
            seen.append(so_far)
        return self.out(self.final_norm(y)), self_weights, cross_weights, seen

    def start(self, encoded: Encoded) -> tuple[Tensor, ...]:
        """The decoding state: for each layer, what its self-attention has seen (nothing yet), (B, 0, d_model)."""
        return (encoded.outputs.new_zeros(encoded.outputs.shape[0], 0, self.d_model),) * len(self.layers)

    def step(self, token: Tensor, state: tuple[Tensor, ...], encoded: Encoded) -> Step:
        """Predict the word after ``token``, given the state of the words before it; the weights are the last layer's
        attention over the source, averaged over heads (a row of ``AttentionMaps.alignment``)."""
        logits, _, cross, seen = self.forward(token.unsqueeze(1), encoded.outputs, encoded.mask[:, None, None, :],
                                              state)
        return Step(logits[:, -1], tuple(seen), cross[-1][:, :, -1].mean(1))


class Transformer(nn.Module):
    """The encoder-decoder Transformer (Sec. 3, Fig. 1) with ``layers`` encoder and ``layers`` decoder layers."""

    attention = "transformer"  # what chapter 3's explorers and evaluation ask a translation model

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 64, heads: int = 4, d_ff: int = 128,
                 layers: int = 2, dropout: float = 0.1, positions: str = "sinusoidal", max_positions: int = 256,
                 norm: str = "pre") -> None:
        super().__init__()
        self.d_model, self.heads = d_model, heads
        self.embedding = nn.Embedding(src_vocab, d_model, padding_idx=Vocab.PAD)
        self.positions, self.dropout = Positions(positions, d_model, max_positions), nn.Dropout(dropout)
        self.layers = nn.ModuleList(EncoderLayer(d_model, heads, d_ff, dropout, norm) for _ in range(layers))
        self.final_norm = nn.LayerNorm(d_model) if norm == "pre" else nn.Identity()
        self.decoder = TransformerDecoder(tgt_vocab, d_model, heads, d_ff, layers, dropout, positions, max_positions,
                                          norm)
        for embedding in (self.embedding, self.decoder.embedding):  # times sqrt(d_model) in use: unit scale (Sec. 3.4)
            nn.init.normal_(embedding.weight, std=d_model ** -0.5)

    def encode_with_weights(self, src: Tensor, src_lengths: Tensor) -> tuple[Encoded, list[Tensor]]:
        """The encoder's output (``Encoded``: memory, mask) and each layer's self-attention weights."""
        mask = padding_mask(src_lengths, src.shape[1])
        x = self.dropout(self.positions(self.embedding(src) * math.sqrt(self.d_model)))
        weights = []
        for layer in self.layers:
            x, w = layer(x, mask)
            weights.append(w)
        return Encoded(self.final_norm(x), None, mask[:, 0, 0, :]), weights

    def encode(self, src: Tensor, src_lengths: Tensor) -> Encoded:
        return self.encode_with_weights(src, src_lengths)[0]

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> TransformerOutput:
        _check_inputs(src, src_lengths, tgt_in, self.embedding.num_embeddings)
        encoded, encoder_weights = self.encode_with_weights(src, src_lengths)
        logits, decoder_weights, cross_weights, _ = self.decoder(tgt_in, encoded.outputs,
                                                                 encoded.mask[:, None, None, :])
        return TransformerOutput(logits, AttentionMaps(tuple(encoder_weights), tuple(decoder_weights),
                                                       tuple(cross_weights)))


def build_transformer(config: dict[str, Any]) -> Transformer:
    """A Transformer from a config: ``src_vocab``, ``tgt_vocab`` (sizes) and optionally ``d_model``, ``heads``,
    ``d_ff``, ``layers``, ``dropout``, ``positions`` (one of ``POSITIONS``), ``max_positions`` and ``norm``."""
    _check_config(config)
    keys = ("d_model", "heads", "d_ff", "layers", "dropout", "positions", "max_positions", "norm")
    return Transformer(config["src_vocab"], config["tgt_vocab"], **{k: config[k] for k in keys if k in config})


def label_smoothed_loss(logits: Tensor, targets: Tensor, smoothing: float, ignore_index: int = Vocab.PAD) -> Tensor:
    """Cross-entropy against (1 - eps) one-hot + eps uniform over the vocabulary (Sec. 5.4, after Szegedy et al. 2016):
    (1 - eps) * (-log p_target) + eps * mean_v(-log p_v), averaged over positions whose target is not ``ignore_index``."""
    log_probs = logits.log_softmax(-1)
    nll = -log_probs.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    smooth = -log_probs.mean(-1)
    keep = targets != ignore_index
    return (((1 - smoothing) * nll + smoothing * smooth) * keep).sum() / keep.sum().clamp_min(1)


# --- argument checks (kept apart from the code the chapter shows) -------------------------------------------------
def _check_inputs(src: Tensor, src_lengths: Tensor, tgt_in: Tensor, src_vocab: int) -> None:
    _check_source(src, src_lengths, src_vocab)
    if not isinstance(tgt_in, Tensor) or tgt_in.dim() != 2 or tgt_in.dtype != torch.long or \
            tgt_in.shape[0] != src.shape[0]:
        got = f"{tuple(tgt_in.shape)} {tgt_in.dtype}" if isinstance(tgt_in, Tensor) else type(tgt_in).__name__
        raise ValueError(f"tgt_in must be a (batch, steps) LongTensor of target ids with the batch of src "
                         f"{tuple(src.shape)}, got {got}; use tasks.translation.make_batch to build one")


def _check_config(config: dict[str, Any]) -> None:
    missing = [k for k in ("src_vocab", "tgt_vocab") if k not in config]
    if missing:
        raise KeyError(f"the Transformer config lacks {missing}: give the vocabulary sizes, e.g. "
                       f"{{'src_vocab': len(task.src_vocab), 'tgt_vocab': len(task.tgt_vocab)}}")
    for key in ("d_model", "heads", "d_ff", "layers", "max_positions"):
        value = config.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"config[{key!r}] must be a positive int, got {value!r}")
    if config.get("positions", "sinusoidal") not in POSITIONS:
        raise ValueError(f"config['positions'] must be one of {POSITIONS}, got {config['positions']!r}")
    if config.get("norm", "pre") not in NORMS:
        raise ValueError(f"config['norm'] must be one of {NORMS} (layer norm before the sublayer, or after the "
                         f"residual sum as in the paper), got {config['norm']!r}")
    if not 0.0 <= config.get("dropout", 0.0) < 1.0:
        raise ValueError(f"config['dropout'] must be a probability in [0, 1), got {config['dropout']!r}")
    d_model, heads = config.get("d_model", 64), config.get("heads", 4)
    if d_model % heads:
        raise ValueError(f"d_model ({d_model}) must be a multiple of heads ({heads}): each head gets "
                         f"d_model / heads features")
