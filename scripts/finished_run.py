"""What the summary scripts read from a finished run directory (shared by
generative-summary.py and hs200-summary.py)."""
import json
import sys


def load(run):
    """The run's result.json, config.json and metrics.jsonl records; exits
    naming result.json if the run has not finished."""
    result_path = run / "result.json"
    if not result_path.exists():
        sys.exit(f"{result_path}: missing (the run has not finished)")
    result = json.loads(result_path.read_text())
    config = json.loads((run / "config.json").read_text())
    with (run / "metrics.jsonl").open() as lines:
        records = [json.loads(line) for line in lines]
    return result, config, records
