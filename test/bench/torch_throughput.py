"""PyTorch side of test/bench/train-throughput.ts: a persistent child that builds the same
multi-task MLPs and times training steps and matmuls on request, so Python's start-up and
torch's import are never timed and both libraries run alternately in the same run.

Protocol: one JSON object per line on stdin, one JSON reply per line on stdout.
  {"op": "info", "clock": "wall"}                 -> {"torch": "1.13.0", "threads": 1}
      (clock "cpu": later timings use time.process_time, this process's CPU time)
  {"op": "build", "name": "mlp", "input": 784, "hidden": [512, 512],
   "classes": 10, "batch": 256, "seed": 0}        -> {"ok": true}
  {"op": "train", "name": "mlp", "steps": 5}      -> {"seconds": 0.123}  (the steps only)
  {"op": "matmul", "m": 256, "k": 784, "n": 512, "reps": 20} -> {"seconds": 0.05}
  {"op": "quit"}
The model: ReLU trunk (nn.Linear layers), a classification head (CrossEntropyLoss) and a
regression head (MSELoss) on the trunk's output, loss = CE + MSE, Adam (lr 1e-3, eps 1e-8),
one step = zero_grad, forward, backward, step, loss.item() (mtlkit reads its losses back too).

Run by the benchmark with /usr/bin/python3 (Debian's python3-torch); 1 thread unless
MTLKIT_BENCH_TORCH_THREADS says otherwise.
"""
import json
import os
import sys
import time

import torch

torch.set_num_threads(int(os.environ.get("MTLKIT_BENCH_TORCH_THREADS", "1")))


class MultiTaskMlp(torch.nn.Module):
    def __init__(self, input_size, hidden, classes):
        super().__init__()
        layers, width = [], input_size
        for units in hidden:
            layers += [torch.nn.Linear(width, units), torch.nn.ReLU()]
            width = units
        self.trunk = torch.nn.Sequential(*layers)
        self.classify = torch.nn.Linear(width, classes)
        self.regress = torch.nn.Linear(width, 1)

    def forward(self, x):
        z = self.trunk(x)
        return self.classify(z), self.regress(z)


class Run:
    def __init__(self, spec):
        g = torch.Generator().manual_seed(spec.get("seed", 0))
        torch.manual_seed(spec.get("seed", 0))
        batch = spec["batch"]
        self.model = MultiTaskMlp(spec["input"], spec["hidden"], spec["classes"])
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, eps=1e-8)
        self.x = torch.randn(batch, spec["input"], generator=g)
        self.labels = torch.randint(0, spec["classes"], (batch,), generator=g)
        self.y = torch.randn(batch, 1, generator=g)
        self.ce = torch.nn.CrossEntropyLoss()
        self.mse = torch.nn.MSELoss()

    def step(self):
        logits, value = self.model(self.x)
        loss = self.ce(logits, self.labels) + self.mse(value, self.y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()


def main():
    runs = {}
    clock = time.perf_counter
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        op = msg["op"]
        if op == "info":
            clock = time.process_time if msg.get("clock") == "cpu" else time.perf_counter
            reply = {"torch": torch.__version__, "threads": torch.get_num_threads()}
        elif op == "build":
            runs[msg["name"]] = Run(msg)
            reply = {"ok": True}
        elif op == "train":
            run = runs[msg["name"]]
            start = clock()
            for _ in range(msg["steps"]):
                run.step()
            reply = {"seconds": clock() - start}
        elif op == "matmul":
            a = torch.randn(msg["m"], msg["k"])
            b = torch.randn(msg["k"], msg["n"])
            torch.mm(a, b)
            start = clock()
            for _ in range(msg["reps"]):
                torch.mm(a, b)
            reply = {"seconds": clock() - start}
        elif op == "quit":
            break
        else:
            reply = {"error": f"unknown op {op!r}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
