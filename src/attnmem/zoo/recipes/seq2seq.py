"""Zoo recipes for chapters 2 and 3: the encoder-decoder without attention, with Bahdanau's, and with location terms."""
from __future__ import annotations

from attnmem.seq2seq import build_model
from attnmem.tasks.translation import source_vocab, target_vocab
from attnmem.training.seq2seq import evaluate_synthetic, train_synthetic
from attnmem.zoo import Recipe


def _recipe(name: str, attention: str, summary: str, chapter: str, steps: int) -> Recipe:
    config = {"attention": attention, "src_vocab": len(source_vocab()), "tgt_vocab": len(target_vocab()),
              "embed": 32, "hidden": 96, "bidirectional": True, "dropout": 0.2, "min_length": 3, "max_length": 30,
              "clause_counts": "even", "init": "bahdanau", "order": "reordered", "batch_size": 64, "steps": steps,
              "lr": 0.004, "eval_every": 200, "eval_n": 300}
    return Recipe(name=name, summary=summary, chapter=chapter, config=config, seed=0, build=build_model,
                  train=train_synthetic, evaluate=evaluate_synthetic,
                  tolerance={"exact_match": 0.06, "bleu": 3.0, "exact_match_len30": 0.08, "exact_match_len45": 0.1})


plain = _recipe("seq2seq_plain", "none", "GRU encoder-decoder without attention, synthetic task (chapter 2)",
                "02_the_bottleneck", 2000)
bahdanau = _recipe("seq2seq_bahdanau", "bahdanau",
                   "GRU encoder-decoder with Bahdanau attention, synthetic task (chapter 3)",
                   "03_bahdanau_attention", 2000)
location = _recipe("seq2seq_location", "location",
                   "GRU encoder-decoder with location-aware attention (Chorowski et al. 2015), synthetic task "
                   "(chapter 3)", "03_bahdanau_attention", 2000)

RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in (plain, bahdanau, location)}
