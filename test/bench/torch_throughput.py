"""PyTorch side of test/bench/train-throughput.ts: a persistent child that builds the same
multi-task MLPs and times training steps and matmuls on request, so Python's start-up and
torch's import are never timed and both libraries run alternately in the same run.

Protocol: one JSON object per line on stdin, one JSON reply per line on stdout.
  {"op": "info", "clock": "wall"}                 -> {"torch": "1.13.0", "threads": 1}
      (clock "cpu": later timings use time.process_time, this process's CPU time)
  {"op": "build", "name": "mlp", "input": 784, "hidden": [512, 512],
   "classes": 10, "batch": 256, "seed": 0}        -> {"ok": true}
      (name "generic", "mmoe" or "cnn" builds those models instead, as train-throughput.ts describes)
  {"op": "train", "name": "mlp", "steps": 5}      -> {"seconds": 0.123}  (the steps only)
  {"op": "matmul", "m": 256, "k": 784, "n": 512, "reps": 20} -> {"seconds": 0.05}
  {"op": "quit"}
The models: ReLU trunk (nn.Linear layers), a classification head (CrossEntropyLoss) and a
regression head (MSELoss) on the trunk's output, loss = CE + MSE; "generic": the same trunk with 4
regression heads, loss = Σ MSE; "mmoe": 4 experts (Linear+ReLU), a softmax gate (Linear) and a
tower (Linear+ReLU, Linear) per task, 2 regression tasks; "cnn": conv3x3(16, same)+ReLU, maxpool 2,
conv3x3(32, same)+ReLU, maxpool 2, Linear 128+ReLU, a 10-class and a regression head.
Adam (lr 1e-3, eps 1e-8); one step = zero_grad, forward, backward, step, and each loss read with
.item() (mtlkit reads its losses back too).

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


class GenericMlp(torch.nn.Module):
    def __init__(self, input_size, hidden, heads):
        super().__init__()
        layers, width = [], input_size
        for units in hidden:
            layers += [torch.nn.Linear(width, units), torch.nn.ReLU()]
            width = units
        self.trunk = torch.nn.Sequential(*layers)
        self.heads = torch.nn.ModuleList([torch.nn.Linear(width, 1) for _ in range(heads)])

    def forward(self, x):
        z = self.trunk(x)
        return [h(z) for h in self.heads]


class Mmoe(torch.nn.Module):
    def __init__(self, input_size, experts=4, expert_width=128, tasks=2, tower=64):
        super().__init__()
        self.experts = torch.nn.ModuleList([torch.nn.Sequential(torch.nn.Linear(input_size, expert_width), torch.nn.ReLU()) for _ in range(experts)])
        self.gates = torch.nn.ModuleList([torch.nn.Linear(input_size, experts) for _ in range(tasks)])
        self.towers = torch.nn.ModuleList(
            [torch.nn.Sequential(torch.nn.Linear(expert_width, tower), torch.nn.ReLU(), torch.nn.Linear(tower, 1)) for _ in range(tasks)])

    def forward(self, x):
        f = torch.stack([e(x) for e in self.experts], 1)  # [batch, n, h]
        outs = []
        for gate, tower in zip(self.gates, self.towers):
            g = torch.softmax(gate(x), 1).unsqueeze(1)  # [batch, 1, n]
            outs.append(tower(torch.bmm(g, f).squeeze(1)))
        return outs


class Cnn(torch.nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.trunk = torch.nn.Sequential(
            torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(32 * 7 * 7, 128), torch.nn.ReLU())
        self.classify = torch.nn.Linear(128, classes)
        self.regress = torch.nn.Linear(128, 1)

    def forward(self, x):
        z = self.trunk(x.view(-1, 1, 28, 28))
        return self.classify(z), self.regress(z)


class Run:
    def __init__(self, spec):
        g = torch.Generator().manual_seed(spec.get("seed", 0))
        torch.manual_seed(spec.get("seed", 0))
        batch = spec["batch"]
        self.name = spec["name"]
        if self.name == "generic":
            self.model = GenericMlp(spec["input"], spec["hidden"], 4)
        elif self.name == "mmoe":
            self.model = Mmoe(spec["input"])
        elif self.name == "cnn":
            self.model = Cnn(spec["classes"])
        else:
            self.model = MultiTaskMlp(spec["input"], spec["hidden"], spec["classes"])
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, eps=1e-8)
        self.x = torch.randn(batch, spec["input"], generator=g)
        self.labels = torch.randint(0, max(1, spec["classes"]), (batch,), generator=g)
        self.y = torch.randn(batch, 1, generator=g)
        self.ce = torch.nn.CrossEntropyLoss()
        self.mse = torch.nn.MSELoss()

    def step(self):
        out = self.model(self.x)
        if self.name in ("generic", "mmoe"):
            losses = [self.mse(o, self.y) for o in out]
        else:
            logits, value = out
            losses = [self.ce(logits, self.labels), self.mse(value, self.y)]
        loss = sum(losses)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return [l.item() for l in losses]


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
