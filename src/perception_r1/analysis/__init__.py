"""Statistical analysis of evaluation results: McNemar's test and the paper's perception analysis."""
