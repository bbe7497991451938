"""Scratch: train one pointer-network config on the hull (or tours) and measure it as the zoo does (the lab notes in
benchmarks/results/pointer_history.md, 3 December). Usage:

    python benchmarks/set_pointer_scratch.py TAG '{"relative": true, "d_model": 64}'

prints one JSON record (config, CPU seconds, load average, metrics), appends it to /tmp/set_pointer_runs.jsonl and
keeps the weights in /tmp/set_pointer_TAG.pt for a look at the errors."""
import json
import sys
import time

import torch

from attnmem.training import pointer as T

torch.set_num_threads(1)
tag, overrides = sys.argv[1], json.loads(sys.argv[2])
config = {"task": "hull", "encoder": "attention", "d_model": 128, "heads": 8, "layers": 3, "d_ff": 512,
          "batch_size": 64, "lr": 1e-3, "schedule": "cosine", "steps": 1800, "halve_every": 10**9,
          "train_sizes": [5, 20], "size_power": 0.0, "test_sizes": [5, 10, 15, 20, 50], "test_count": 500}
config.update(overrides)
load = open("/proc/loadavg").read().split()[:3]
model, facts = T.train(config, seed=config.pop("seed", 11), progress=False)
model.eval()
start = time.process_time()
metrics = T.evaluate(model, config, seed=12)
record = {"tag": tag, "config": config, **facts, "eval_cpu": round(time.process_time() - start, 1),
          "load_start": load, "load_end": open("/proc/loadavg").read().split()[:3],
          "params": sum(p.numel() for p in model.parameters()),
          "metrics": {k: round(v, 4) for k, v in metrics.items()}}
print(json.dumps(record))
with open("/tmp/set_pointer_runs.jsonl", "a") as f:
    f.write(json.dumps(record) + "\n")
torch.save(model.state_dict(), f"/tmp/set_pointer_{tag}.pt")
