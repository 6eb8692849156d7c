"""Which generated alerts a set of real metrics fires, decided by ``promtool test rules``.

The scraped samples become constant input series; timestamps (``*_timestamp_seconds``) are
shifted so that the evaluation starts at the moment of the scrape (promtool's clock starts at
0), optionally later (``later_s``: "the same metrics, that much later"). Every alert of the rule
file is tested with no expected alert; promtool's report of what it got instead is the answer.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

PROMTOOL = shutil.which("promtool")
_LABELS = re.compile(r"Labels:\{(.*)\}")
_PAIR = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def scrape(port: int) -> list[Sample]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return [Sample(s.name, dict(s.labels), float(s.value))
            for family in text_string_to_metric_families(text) for s in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    for s in samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def firing(rules: Path, samples: list[Sample], *, later_s: float = 0, eval_minutes: int = 61
           ) -> set[tuple[str, str, str]]:
    """(alertname, tenant, environment) of every alert firing at ``eval_minutes``."""
    assert PROMTOOL, "promtool is not installed (Debian package prometheus)"
    now = value(samples, "odooplane_health_sweep_timestamp_seconds")
    assert now is not None, "no sweep timestamp in the metrics"
    series = []
    for s in samples:
        v = s.value - now - later_s if s.name.endswith("_timestamp_seconds") else s.value
        labels = ",".join(f"{k}={json.dumps(val)}" for k, val in sorted(s.labels.items()) if val != "")
        series.append({"series": f"{s.name}{{{labels}}}", "values": f"{v!r}x{eval_minutes + 10}"})
    names = sorted({r["alert"] for g in yaml.safe_load(rules.read_text())["groups"] for r in g["rules"]})
    test = {"rule_files": [str(rules)], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series,
                       "alert_rule_test": [{"eval_time": f"{eval_minutes}m", "alertname": n, "exp_alerts": []}
                                           for n in names]}]}
    test_file = rules.parent / "firing.test.yml"
    test_file.write_text(yaml.safe_dump(test, sort_keys=False))
    done = subprocess.run([PROMTOOL, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=120,
                          check=False)
    out = done.stdout + done.stderr
    if done.returncode == 0:
        return set()
    got = set()
    for match in _LABELS.finditer(out):
        pairs = dict(_PAIR.findall(match.group(1)))
        got.add((pairs.get("alertname", ""), pairs.get("tenant", ""), pairs.get("environment", "")))
    assert got, f"promtool failed without reporting alerts:\n{out}"
    return got
