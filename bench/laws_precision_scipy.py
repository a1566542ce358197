# Kumar et al.'s precision law fitted in SciPy on a runs grid: the peer of src/laws (form 'precision', parts w)
# in bench/laws.ts. Same objective (Huber 1e-3 on log-loss residuals, exact gradient), same 32 starts.
# Usage: python3 bench/laws_precision_scipy.py <runs csv with N,D,Pw,loss>
import csv, itertools, json, sys, time
import numpy as np
from scipy.optimize import minimize
from scipy.special import huber

rows = list(csv.DictReader(open(sys.argv[1])))
lN = np.log([float(r["N"]) for r in rows])
lD = np.log([float(r["D"]) for r in rows])
P = np.array([float(r["Pw"]) for r in rows])
lL = np.log([float(r["loss"]) for r in rows])
delta = 1e-3

def objective_and_gradient(p):
    a, b, e, alpha, beta, g = p
    u = P * np.exp(-g)
    lNeff = lN + np.log(-np.expm1(-u))
    dNeff = -u / np.expm1(u)  # d log N_eff / d g
    t = np.stack([a - alpha * lNeff, b - beta * lD, np.full_like(lN, e)])
    m = t.max(axis=0)
    w = np.exp(t - m)
    s = w.sum(axis=0)
    pred = m + np.log(s)
    w /= s
    r = pred - lL
    slope = np.clip(r, -delta, delta)
    grad = np.array([slope @ w[0], slope @ w[1], slope @ w[2], -slope @ (w[0] * lNeff),
                     -slope @ (w[1] * lD), -alpha * (slope @ (w[0] * dNeff))])
    return np.sum(huber(delta, r)), grad

bounds = [(None, None), (None, None), (None, None), (0, None), (0, None), (None, None)]
best, start, starts = None, time.perf_counter(), 0
for a, b, e, alpha, beta in itertools.product([2, 8], [2, 8], [0, 1], [0.3, 0.6], [0.3, 0.6]):
    r = minimize(objective_and_gradient, [a, b, e, alpha, beta, np.log(2.5)], jac=True, method="L-BFGS-B", bounds=bounds)
    starts += 1
    if best is None or r.fun < best.fun:
        best = r
seconds = time.perf_counter() - start
a, b, e, alpha, beta, g = best.x
print(json.dumps({"seconds": seconds, "starts": starts, "objective": float(best.fun),
                  "params": {"A": float(np.exp(a)), "B": float(np.exp(b)), "E": float(np.exp(e)),
                             "alpha": float(alpha), "beta": float(beta), "gamma_w": float(np.exp(g))}}))
