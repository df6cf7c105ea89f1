"""PyTorch side of test/bench/train-throughput.ts: a persistent child that builds the same
multi-task MLPs and times training steps and matmuls on request, so Python's start-up and
torch's import are never timed and both libraries run alternately in the same run.

Protocol: one JSON object per line on stdin, one JSON reply per line on stdout.
  {"op": "info", "clock": "wall"}                 -> {"torch": "1.13.0", "threads": 1}
      (clock "cpu": later timings use time.process_time, this process's CPU time)
  {"op": "build", "name": "mlp", "input": 784, "hidden": [512, 512],
   "classes": 10, "batch": 256, "seed": 0}        -> {"ok": true}
      (name "generic", "mmoe" or "cnn" builds those models instead, as train-throughput.ts describes;
       optional "id" names the run (default: its name) and "method" how the generic model's update is
       formed: "ew" (default: Σ L_i, one backward), "libmtl-ew", "libmtl-pcgrad", "libmtl-mgda",
       "plain-pcgrad", "plain-mgda"; see below)
  {"op": "agree", "method": "libmtl-pcgrad", "order": [0, 1, 2, 3], "params": {...}, "x": [...],
   "ys": [[...], ...]}                            -> {"grads": {...}, "weights": [...]}
      (one step's combined gradient, before the optimizer, from the given weights and data:
       test/bench/aggregator-agreement.ts compares it with mtlkit's)
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

Gradient balancing on the generic model, written here from LibMTL's published method
(median-research-group/LibMTL, LibMTL/weighting/{abstract_weighting,EW,PCGrad,MGDA}.py and
LibMTL/trainer.py; read for facts, not copied):
  libmtl-*: the losses go into a [k] tensor (train_losses[tn] = loss), optimizer.zero_grad(set_to_none=False),
    the method's backward, optimizer.step(); each loss read with .item() (LibMTL's loss meter).
    EW: (losses * 1).sum().backward().
    PCGrad, MGDA (rep_grad False, mode "backward", as both call it): for each task, losses[tn].backward()
    (retain_graph except for the last), the shared parameters' .grad copied into row tn of a zero
    [k, n] matrix, the shared .grad zeroed; the heads keep their own task's gradient in .grad.
    PCGrad: for each i, a fresh random.shuffle of all task indices j (j = i included);
    g_ij = pc_i·g_j; if g_ij < 0: pc_i -= g_ij g_j / (||g_j||² + 1e-8); d = Σ_i pc_i.
    MGDA (mgda_gn "none", LibMTL's default): the Frank–Wolfe min-norm solver of Sener & Koltun's code on
    G = J Jᵀ (best pair, then at most 250 steps, stop when Σ|Δw| < 1e-5); d = Σ_i w_i g_i.
    d is written back into each shared parameter's .grad (a slice of d, cloned), as _reset_grad does.
  plain-*: the same maths with no LibMTL bookkeeping: torch.autograd.grad of each L_i w.r.t. the shared
    parameters and its own head (retain_graph), J = stack of the flattened shared gradients,
    G = J Jᵀ read once as float64, the k weights computed in Python (PCGrad on the Gramian with the
    same per-task shuffles; MGDA's min-norm point exactly, by its active set), d = Jᵀ w, and views of
    d assigned as the shared .grad.

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


# ---------------------------------------------------------------- LibMTL's method, plain PyTorch

class LibMtlBalancing:
    """LibMTL's AbsWeighting bookkeeping for rep_grad False, and its EW, PCGrad and MGDA backward
    passes, over a model with `trunk` (the shared parameters) and one head per task."""

    def __init__(self, model, method, rng, order=None):
        self.model = model
        self.method = method
        self.rng = rng  # random.Random: LibMTL's random.shuffle, seeded
        self.order = order  # a fixed task order instead of the shuffles (agreement checks only)
        self.grad_index = [p.data.numel() for p in self.share_params()]
        self.grad_dim = sum(self.grad_index)

    def share_params(self):
        return self.model.trunk.parameters()

    def grad2vec(self):
        grad = torch.zeros(self.grad_dim)
        for count, param in enumerate(self.share_params()):
            if param.grad is not None:
                beg = 0 if count == 0 else sum(self.grad_index[:count])
                end = sum(self.grad_index[:(count + 1)])
                grad[beg:end] = param.grad.data.view(-1)
        return grad

    def compute_grad(self, losses):
        k = len(losses)
        grads = torch.zeros(k, self.grad_dim)
        for tn in range(k):
            losses[tn].backward(retain_graph=(tn + 1) != k)
            grads[tn] = self.grad2vec()
            self.model.trunk.zero_grad(set_to_none=False)
        return grads

    def reset_grad(self, new_grads):
        for count, param in enumerate(self.share_params()):
            if param.grad is not None:
                beg = 0 if count == 0 else sum(self.grad_index[:count])
                end = sum(self.grad_index[:(count + 1)])
                param.grad.data = new_grads[beg:end].contiguous().view(param.data.size()).data.clone()

    def task_order(self, k):
        if self.order is not None:
            return list(self.order)
        order = list(range(k))
        self.rng.shuffle(order)
        return order

    def backward(self, losses):
        k = len(losses)
        if self.method == "libmtl-ew":
            torch.mul(losses, torch.ones_like(losses)).sum().backward()
            return [1.0] * k
        if self.method == "libmtl-pcgrad":
            batch_weight = [1.0] * k
            grads = self.compute_grad(losses)
            pc_grads = grads.clone()
            for i in range(k):
                for j in self.task_order(k):
                    g_ij = torch.dot(pc_grads[i], grads[j])
                    if g_ij < 0:
                        pc_grads[i] -= g_ij * grads[j] / (grads[j].norm().pow(2) + 1e-8)
                        batch_weight[j] -= (g_ij / (grads[j].norm().pow(2) + 1e-8)).item()
            self.reset_grad(pc_grads.sum(0))
            return batch_weight
        if self.method == "libmtl-mgda":
            grads = self.compute_grad(losses)
            loss_data = torch.tensor([loss.item() for loss in losses])
            grads = grads / torch.ones_like(loss_data).unsqueeze(1).repeat(1, grads.size()[1])  # mgda_gn "none"
            sol = frank_wolfe_min_norm(grads)
            self.reset_grad(sum(sol[i] * grads[i] for i in range(k)))
            return sol.tolist()
        raise ValueError(f"unknown method {self.method!r}")


def frank_wolfe_min_norm(grads, max_iter=250, stop=1e-5):
    """Sener & Koltun's min-norm solver as LibMTL runs it: torch ops on the Gramian of grads [k, n]."""

    def from2(v1v1, v1v2, v2v2):
        if v1v2 >= v1v1:
            return 0.999, v1v1
        if v1v2 >= v2v2:
            return 0.001, v2v2
        gamma = -1.0 * ((v1v2 - v2v2) / (v1v1 + v2v2 - 2 * v1v2))
        return gamma, v2v2 + gamma * (v1v2 - v2v2)

    def project_to_simplex(y):
        m = len(y)
        s = torch.sort(y, descending=True)[0]
        partial = 0.0
        t_final = (torch.sum(y) - 1.0) / m
        for i in range(m - 1):
            partial += s[i]
            t = (partial - 1) / (i + 1.0)
            if t > s[i + 1]:
                t_final = t
                break
        return torch.max(y - t_final, torch.zeros(m))

    def next_point(cur, grad, n):
        proj = grad - (torch.sum(grad) / n)
        tm1 = -1.0 * cur[proj < 0] / proj[proj < 0]
        tm2 = (1.0 - cur[proj > 0]) / (proj[proj > 0])
        t = torch.ones(1)
        if (tm1 > 1e-7).sum() > 0:
            t = torch.min(tm1[tm1 > 1e-7])
        if (tm2 > 1e-7).sum() > 0:
            t = torch.min(t, torch.min(tm2[tm2 > 1e-7]))
        return project_to_simplex(proj * t + cur)

    G = grads.mm(grads.t())
    n = grads.size()[0]
    best = None
    for i in range(n):
        for j in range(i + 1, n):
            c, d = from2(G[i, i], G[i, j], G[j, j])
            if best is None or d < best[2]:
                best = ((i, j), c, d)
    sol = torch.zeros(n)
    sol[best[0][0]] = best[1]
    sol[best[0][1]] = 1 - best[1]
    if n < 3:
        return sol
    for _ in range(max_iter):
        new_point = next_point(sol, -1.0 * torch.matmul(G, sol), n)
        v1v1 = torch.sum(sol.unsqueeze(1).repeat(1, n) * sol.unsqueeze(0).repeat(n, 1) * G)
        v1v2 = torch.sum(sol.unsqueeze(1).repeat(1, n) * new_point.unsqueeze(0).repeat(n, 1) * G)
        v2v2 = torch.sum(new_point.unsqueeze(1).repeat(1, n) * new_point.unsqueeze(0).repeat(n, 1) * G)
        nc, _ = from2(v1v1, v1v2, v2v2)
        new_sol = nc * sol + (1 - nc) * new_point
        if torch.sum(torch.abs(new_sol - sol)) < stop:
            return sol
        sol = new_sol
    return sol


# ---------------------------------------------------------------- the same maths, no bookkeeping

def pcgrad_weights(G, orders):
    """PCGrad on the Gramian (as mtlkit computes it): pc_i = Σ_m c_im g_m, d = Σ_i pc_i = Σ_m w_m g_m."""
    k = len(G)
    w = [0.0] * k
    for i in range(k):
        c = [0.0] * k
        c[i] = 1.0
        for j in orders[i]:
            if j == i or not G[j][j] > 0:
                continue
            inner = sum(c[m] * G[m][j] for m in range(k))
            if inner < 0:
                c[j] -= inner / G[j][j]
        for m in range(k):
            w[m] += c[m]
    return w


def min_norm_weights(G):
    """argmin over the simplex of wᵀGw, exactly: the best feasible affine minimiser over supports."""
    import itertools
    import numpy as np
    G = np.asarray(G)
    k = len(G)
    best, best_value = None, float("inf")
    for size in range(1, k + 1):
        for support in itertools.combinations(range(k), size):
            s = list(support)
            A = np.zeros((size + 1, size + 1))
            A[:size, :size] = G[np.ix_(s, s)]
            A[:size, size] = 1.0
            A[size, :size] = 1.0
            b = np.zeros(size + 1)
            b[size] = 1.0
            try:
                sol = np.linalg.solve(A, b)
            except np.linalg.LinAlgError:
                continue
            if (sol[:size] < -1e-12).any():
                continue
            w = np.zeros(k)
            w[s] = np.maximum(sol[:size], 0.0)
            value = float(w @ G @ w)
            if value < best_value:
                best, best_value = w, value
    return best.tolist()


class PlainBalancing:
    def __init__(self, model, method, rng, order=None):
        self.model = model
        self.method = method
        self.rng = rng
        self.order = order
        self.shared = list(model.trunk.parameters())
        self.heads = [list(h.parameters()) for h in model.heads]

    def backward(self, losses):
        k = len(losses)
        rows = []
        for i in range(k):
            grads = torch.autograd.grad(losses[i], self.shared + self.heads[i], retain_graph=i + 1 < k)
            rows.append(torch.cat([g.reshape(-1) for g in grads[:len(self.shared)]]))
            for p, g in zip(self.heads[i], grads[len(self.shared):]):
                p.grad = g
        J = torch.stack(rows)
        G = (J @ J.t()).double().tolist()
        if self.method == "plain-pcgrad":
            orders = [list(self.order) if self.order is not None else self.rng.sample(range(k), k) for _ in range(k)]
            w = pcgrad_weights(G, orders)
        else:
            w = min_norm_weights(G)
        d = torch.tensor(w, dtype=J.dtype) @ J
        offset = 0
        for p in self.shared:
            p.grad = d[offset:offset + p.numel()].view_as(p)
            offset += p.numel()
        return w


def balancing(model, method, seed, order=None):
    import random
    rng = random.Random(seed)
    if method.startswith("libmtl-"):
        return LibMtlBalancing(model, method, rng, order)
    if method in ("plain-pcgrad", "plain-mgda"):
        return PlainBalancing(model, method, rng, order)
    raise ValueError(f"unknown method {method!r}")


class Run:
    def __init__(self, spec):
        g = torch.Generator().manual_seed(spec.get("seed", 0))
        torch.manual_seed(spec.get("seed", 0))
        batch = spec["batch"]
        self.name = spec["name"]
        self.method = spec.get("method", "ew")
        if self.name == "generic":
            self.model = GenericMlp(spec["input"], spec["hidden"], 4)
        elif self.name == "mmoe":
            self.model = Mmoe(spec["input"])
        elif self.name == "cnn":
            self.model = Cnn(spec["classes"])
        else:
            self.model = MultiTaskMlp(spec["input"], spec["hidden"], spec["classes"])
        if self.method != "ew" and self.name != "generic":
            raise ValueError(f"method {self.method!r} is only on the generic model")
        self.balancing = balancing(self.model, self.method, spec.get("seed", 0)) if self.method != "ew" else None
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, eps=1e-8)
        self.x = torch.randn(batch, spec["input"], generator=g)
        self.labels = torch.randint(0, max(1, spec["classes"]), (batch,), generator=g)
        self.y = torch.randn(batch, 1, generator=g)
        # The generic model: one target per task, as mtlkit's benchmark has.
        self.ys = [torch.randn(batch, 1, generator=g) for _ in range(4)]
        self.ce = torch.nn.CrossEntropyLoss()
        self.mse = torch.nn.MSELoss()

    def step(self):
        if self.balancing is not None:
            return self.balanced_step()
        out = self.model(self.x)
        if self.name == "generic":
            losses = [self.mse(o, y) for o, y in zip(out, self.ys)]
        elif self.name == "mmoe":
            losses = [self.mse(o, self.y) for o in out]
        else:
            logits, value = out
            losses = [self.ce(logits, self.labels), self.mse(value, self.y)]
        loss = sum(losses)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return [l.item() for l in losses]

    def balanced_step(self):
        out = self.model(self.x)
        if self.method.startswith("libmtl-"):
            # LibMTL's trainer: losses into a [k] tensor, each read by the loss meter, zero_grad
            # keeping the tensors, the weighting's backward, the optimizer's step.
            losses = torch.zeros(len(out))
            values = []
            for tn, (o, y) in enumerate(zip(out, self.ys)):
                losses[tn] = self.mse(o, y)
                values.append(losses[tn].item())
            self.optimizer.zero_grad(set_to_none=False)
            self.balancing.backward(losses)
            self.optimizer.step()
            return values
        losses = [self.mse(o, y) for o, y in zip(out, self.ys)]
        values = [l.item() for l in losses]
        self.optimizer.zero_grad(set_to_none=True)
        self.balancing.backward(losses)
        self.optimizer.step()
        return values


def agree(msg):
    """One step's combined gradient (before the optimizer) from given weights and data."""
    model = GenericMlp(msg["input"], msg["hidden"], len(msg["ys"]))
    with torch.no_grad():
        for p, (shape, values) in zip(model.parameters(), msg["params"]):
            p.copy_(torch.tensor(values, dtype=torch.float32).view(shape))
    x = torch.tensor(msg["x"], dtype=torch.float32).view(-1, msg["input"])
    ys = [torch.tensor(y, dtype=torch.float32).view(-1, 1) for y in msg["ys"]]
    mse = torch.nn.MSELoss()
    out = model(x)
    method = msg["method"]
    if method == "ew":
        losses = [mse(o, y) for o, y in zip(out, ys)]
        sum(losses).backward()
        weights = [1.0] * len(losses)
    elif method.startswith("libmtl-"):
        losses = torch.zeros(len(out))
        for tn, (o, y) in enumerate(zip(out, ys)):
            losses[tn] = mse(o, y)
        weights = balancing(model, method, 0, msg.get("order")).backward(losses)
    else:
        losses = [mse(o, y) for o, y in zip(out, ys)]
        weights = balancing(model, method, 0, msg.get("order")).backward(losses)
    return {"grads": [p.grad.reshape(-1).tolist() for p in model.parameters()], "weights": [float(w) for w in weights],
            "losses": [float(l) for l in losses]}


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
            runs[msg.get("id") or msg["name"]] = Run(msg)
            reply = {"ok": True}
        elif op == "train":
            run = runs[msg.get("id") or msg["name"]]
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
        elif op == "agree":
            reply = agree(msg)
        elif op == "quit":
            break
        else:
            reply = {"error": f"unknown op {op!r}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
