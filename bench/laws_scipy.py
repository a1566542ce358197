# Epoch's Chinchilla grid fit in SciPy: the peer of src/laws in bench/laws.ts.
# Usage: python3 bench/laws_scipy.py <chinchilla csv> exact|epoch
import csv, json, sys, time
import numpy as np
from scipy.optimize import minimize
from scipy.special import huber, logsumexp

path, mode = sys.argv[1], sys.argv[2]  # mode: "exact" (analytic gradient) or "epoch" (finite differences)
rows = list(csv.DictReader(open(path)))
N = np.array([float(r["Model Size"]) for r in rows])
F = np.array([float(r["Training FLOP"]) for r in rows])
L = np.array([float(r["loss"]) for r in rows])
keep = np.sort(np.argsort(L, kind="stable")[:-5])  # drop the 5 highest-loss rows
N, F, L = N[keep], F[keep], L[keep]
lN, lD, lL = np.log(N), np.log(F / (6 * N)), np.log(L)
delta = 1e-3

def objective(p):
    a, b, e, alpha, beta = p
    pred = logsumexp([a - alpha * lN, b - beta * lD, np.full_like(lN, e)], axis=0)
    return np.sum(huber(delta, pred - lL))

def objective_and_gradient(p):
    a, b, e, alpha, beta = p
    t = np.stack([a - alpha * lN, b - beta * lD, np.full_like(lN, e)])
    pred = logsumexp(t, axis=0)
    w = np.exp(t - pred)
    r = pred - lL
    slope = np.clip(r, -delta, delta)
    g = np.array([slope @ w[0], slope @ w[1], slope @ w[2], -slope @ (w[0] * lN), -slope @ (w[1] * lD)])
    return np.sum(huber(delta, r)), g

best, start, starts = None, time.perf_counter(), 0
for alpha in np.arange(0, 2.5, 0.5):
    for beta in np.arange(0, 2.5, 0.5):
        for e in np.arange(-1, 1.5, 0.5):
            for a in np.arange(0, 30, 5):
                for b in np.arange(0, 30, 5):
                    x0 = [a, b, e, alpha, beta]
                    if mode == "exact":
                        r = minimize(objective_and_gradient, x0, jac=True, method="L-BFGS-B")
                    else:
                        r = minimize(objective, x0, method="L-BFGS-B")
                    starts += 1
                    if best is None or r.fun < best.fun:
                        best = r
seconds = time.perf_counter() - start
a, b, e, alpha, beta = best.x
print(json.dumps({"seconds": seconds, "starts": starts, "objective": float(best.fun),
                  "params": {"A": float(np.exp(a)), "B": float(np.exp(b)), "E": float(np.exp(e)),
                             "alpha": float(alpha), "beta": float(beta)}}))
