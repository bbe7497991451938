"""Zoo recipes for chapter 10: the Transformer on the synthetic translation task, with sinusoidal and with learned
positions (the same recipe otherwise), beside chapter 3's recurrent models."""
from __future__ import annotations

from typing import Any

from attnmem.tasks.translation import source_vocab, target_vocab
from attnmem.training.transformer import evaluate_transformer, train_transformer
from attnmem.transformer import build_transformer
from attnmem.zoo import Recipe

#: the configuration the chapter, its benchmarks and both zoo models share (change ``positions`` only).
CONFIG: dict[str, Any] = {
    "src_vocab": len(source_vocab()), "tgt_vocab": len(target_vocab()), "d_model": 64, "heads": 4, "d_ff": 128,
    "layers": 2, "dropout": 0.1, "positions": "sinusoidal", "max_positions": 256, "norm": "pre",
    "min_length": 3, "max_length": 30, "clause_counts": "even", "batch_size": 64, "steps": 2500, "lr": 0.002,
    "warmup": 100, "label_smoothing": 0.1, "eval_every": 200, "eval_n": 300, "cpu_budget": 180,
}
TOLERANCE = {"exact_match": 0.03, "bleu": 2.0, "exact_match_len30": 0.05, "exact_match_len45": 0.1,
             "exact_match_len60": 0.1}


def _recipe(name: str, positions: str, summary: str) -> Recipe:
    return Recipe(name=name, summary=summary, chapter="10_transformer", config={**CONFIG, "positions": positions},
                  seed=0, build=build_transformer, train=train_transformer, evaluate=evaluate_transformer,
                  tolerance=TOLERANCE)


RECIPES: dict[str, Recipe] = {
    "transformer": _recipe("transformer", "sinusoidal",
                           "Transformer (2+2 layers, 4 heads, d_model 64, sinusoidal positions), synthetic task "
                           "(chapter 10)"),
    "transformer_learned": _recipe("transformer_learned", "learned",
                                   "the same Transformer with learned positions, synthetic task (chapter 10)"),
}
