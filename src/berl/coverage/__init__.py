"""Coverage of the datasets: k-NN entropy estimators, coverage measures, joint embeddings and
the estimator study (rules: workflow/rules/coverage.smk)."""
