"""Experiment (not part of qa): probes on the hidden states that probe_collect.py wrote, cross-validated.

Label: answerable with a gold span among the retrieved passages (1) against unanswerable (0); answerable
questions whose passages miss the answer are left out. Five folds grouped by paragraph; a logistic probe
(standardised states) and the difference of class means, per layer, beside the answerability model's best
passage score. An article name prefix as argument keeps that article only: all unanswerable questions are
Zelda's, so across articles a probe can learn the topic; within Zelda it cannot.

    python eval/experiments/probe_fit.py build/probe.jsonl [The_Legend]
"""
import json
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

rows = [json.loads(l) for l in open(sys.argv[1])]
rows = [r for r in rows if r["ce"] and (not r["answerable"] or r["gold_retrieved"]) and (len(sys.argv) < 3 or r["article"].startswith(sys.argv[2]))]
y = np.array([int(r["answerable"]) for r in rows]); groups = [f'{r["article"]}/{r["paragraph"]}' for r in rows]
ce = np.array([max(r["ce"]) for r in rows])
print("n", len(rows), "pos", y.sum(), "CE max AUC", round(roc_auc_score(y, ce), 3))
for layer in ["6", "10", "14", "18", "22", "27"]:
    X = np.array([r["states"][layer] for r in rows]); X = (X - X.mean(0)) / (X.std(0) + 1e-6)
    for C in (0.001, 0.01):
        pred = np.zeros(len(y)); pred2 = np.zeros(len(y))
        for tr, te in GroupKFold(5).split(X, y, groups):
            m = LogisticRegression(C=C, max_iter=2000).fit(X[tr], y[tr]); pred[te] = m.decision_function(X[te])
            Z = np.c_[X, ce * 10]
            m2 = LogisticRegression(C=C, max_iter=2000).fit(Z[tr], y[tr]); pred2[te] = m2.decision_function(Z[te])
        # difference of means direction
        dm = np.zeros(len(y))
        for tr, te in GroupKFold(5).split(X, y, groups):
            d = X[tr][y[tr] == 1].mean(0) - X[tr][y[tr] == 0].mean(0); dm[te] = X[te] @ d
        print("layer", layer, "C", C, "probe AUC", round(roc_auc_score(y, pred), 3), "probe+CE", round(roc_auc_score(y, pred2), 3), "diff-means", round(roc_auc_score(y, dm), 3))
