"""Reports read stored results (summary.json, the runs index) and never import generators or metrics."""
