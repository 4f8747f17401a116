"""A plain PyTorch SGLD loop: the peer of `npm run bench:peers` (bench/peers.ts).

SGLD on a ReLU MLP regression with random data, float32, minibatches of `batch` rows drawn with
replacement per chain, and the update
    w <- w - (eps/2) * (gamma * (w - w0) + n_beta * grad) + sqrt(eps) * xi,   xi ~ N(0, I),
the same work per step as lambda-hat's SGLD with `precond: none`. Two ways of writing it:
  loop     one torch.nn.Sequential per chain, chains one after another (the common way);
  batched  all chains in one set of tensors [chains, out, in], layers as torch.baddbmm, one
           backward pass for every chain.
One CPU thread (torch.set_num_threads(1); the caller also sets OPENBLAS_NUM_THREADS=1 and
OMP_NUM_THREADS=1), or with "device": "cuda" the GPU (bench/gpu). Prints one JSON object:
chain-steps per second over at least `seconds` of steps after a warm-up.

    python3 torch_sgld.py '{"in_dim": 64, "widths": [256, 256], "n": 20000, "chains": 4,
                            "batch": 256, "mode": "batched", "seconds": 3}'
"""
import json
import math
import sys
import time

import torch


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    in_dim, widths, n = spec["in_dim"], spec["widths"], spec["n"]
    chains, batch, seconds = spec["chains"], spec["batch"], spec["seconds"]
    device = torch.device(spec.get("device", "cpu"))
    eps, gamma, n_beta = 1e-7, 1.0, n / math.log(n)
    X = torch.randn(n, in_dim, device=device)
    Y = torch.randn(n, 1, device=device)
    dims = [in_dim, *widths, 1]

    def uniform(*shape, fan_in):
        return (torch.rand(*shape, device=device) * 2 - 1) / math.sqrt(fan_in)

    if spec["mode"] == "loop":
        models = []
        for _ in range(chains):
            layers = []
            for i in range(len(dims) - 1):
                layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
                if i < len(dims) - 2:
                    layers.append(torch.nn.ReLU())
            models.append(torch.nn.Sequential(*layers).to(device))
        params = [list(m.parameters()) for m in models]
        centers = [[p.detach().clone() for p in ps] for ps in params]

        def step():
            for m, ps, cs in zip(models, params, centers):
                idx = torch.randint(n, (batch,), device=device)
                loss = torch.nn.functional.mse_loss(m(X[idx]), Y[idx])
                grads = torch.autograd.grad(loss, ps)
                with torch.no_grad():
                    for p, g, c in zip(ps, grads, cs):
                        p.add_(-0.5 * eps * (gamma * (p - c) + n_beta * g) + math.sqrt(eps) * torch.randn_like(p))

    else:
        weights = [uniform(chains, dims[i + 1], dims[i], fan_in=dims[i]).requires_grad_() for i in range(len(dims) - 1)]
        biases = [uniform(chains, 1, dims[i + 1], fan_in=dims[i]).requires_grad_() for i in range(len(dims) - 1)]
        params = weights + biases
        centers = [p.detach().clone() for p in params]

        def step():
            idx = torch.randint(n, (chains, batch), device=device)
            h = X[idx]
            for i, (w, b) in enumerate(zip(weights, biases)):
                h = torch.baddbmm(b, h, w.transpose(1, 2))
                if i < len(weights) - 1:
                    h = torch.relu(h)
            # Each chain's mean loss; their sum has every chain's own gradient.
            loss = ((h - Y[idx]) ** 2).mean(dim=(1, 2)).sum()
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, g, c in zip(params, grads, centers):
                    p.add_(-0.5 * eps * (gamma * (p - c) + n_beta * g) + math.sqrt(eps) * torch.randn_like(p))

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(3):
        step()
    synchronize()
    steps = 0
    start = time.perf_counter()
    while True:
        step()
        steps += 1
        if steps % 10 == 0:
            synchronize()
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
    print(json.dumps({"chain_steps_per_s": chains * steps / elapsed, "steps": steps, "torch": torch.__version__, "device": str(device)}))


if __name__ == "__main__":
    main()
