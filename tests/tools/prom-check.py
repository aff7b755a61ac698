#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Strict check of a Prometheus text exposition (format 0.0.4), for the metrics tests.

usage: prom-check.py FILE [--family NAME]... [--sample 'NAME{LABELS}']...

Parses FILE twice: with prometheus_client's parser (Debian python3-prometheus-client), which
must accept every line, and with the rules below, line by line:
  - every line is "# HELP name text", "# TYPE name type" or a sample; no blank lines;
  - every family has HELP then TYPE, both before its samples, exactly once, and its samples
    are contiguous (no family appears twice);
  - metric and label names match [a-zA-Z_:][a-zA-Z0-9_:]* / [a-zA-Z_][a-zA-Z0-9_]*;
  - label values are well escaped (only \\\\, \\" and \\n); no duplicate series;
  - counters end in _total; values parse as floats (+Inf, -Inf, NaN allowed);
  - histograms: per label set, _bucket le values ascending and ending in +Inf, counts
    cumulative (non-decreasing), the +Inf bucket equal to _count, and a _sum.
--family NAME: the family must be present. --sample: the series must be present.
Prints "name{labels} value" for every --sample (so a test can read values) and exits 1 with
one line per problem.
"""
import math
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_labels(s, lineno, errors):
    """Parses 'a="x",b="y"' strictly; returns a tuple of (name, value) pairs."""
    out, i = [], 0
    while i < len(s):
        m = re.compile(r"([^=]*)=\"").match(s, i)
        if not m:
            errors.append(f"line {lineno}: bad label syntax near {s[i:]!r}")
            return None
        name = m.group(1)
        if not LABEL.match(name):
            errors.append(f"line {lineno}: bad label name {name!r}")
        i = m.end()
        val = []
        while True:
            if i >= len(s):
                errors.append(f"line {lineno}: unterminated label value")
                return None
            c = s[i]
            if c == "\\":
                if i + 1 >= len(s) or s[i + 1] not in '\\"n':
                    errors.append(f"line {lineno}: bad escape in label value")
                    return None
                val.append({"\\": "\\", '"': '"', "n": "\n"}[s[i + 1]])
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                errors.append(f"line {lineno}: raw line feed in label value")
                return None
            else:
                val.append(c)
                i += 1
        out.append((name, "".join(val)))
        if i < len(s):
            if s[i] != ",":
                errors.append(f"line {lineno}: expected ',' between labels")
                return None
            i += 1
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        errors.append(f"line {lineno}: repeated label name")
    return tuple(out)


def parse_value(v, lineno, errors):
    if v in ("+Inf", "-Inf", "NaN"):
        return float(v.replace("Inf", "inf").replace("NaN", "nan"))
    try:
        return float(v)
    except ValueError:
        errors.append(f"line {lineno}: bad value {v!r}")
        return None


def family_of(name, types):
    """The family a sample name belongs to (histogram suffixes stripped)."""
    if name in types:
        return name
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and types.get(name[: -len(suf)]) == "histogram":
            return name[: -len(suf)]
    return name


def check(text, errors):
    helps, types, seen_families, series = {}, {}, [], {}
    current = None
    hist = {}  # (family, labels without le) -> {"buckets": [(le, v)], "sum": v, "count": v}
    if text and not text.endswith("\n"):
        errors.append("exposition does not end in a line feed")
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        if line == "":
            errors.append(f"line {lineno}: blank line")
            continue
        if line.startswith("#"):
            m = re.match(r"# (HELP|TYPE) (\S+) ?(.*)\Z", line)
            if not m:
                errors.append(f"line {lineno}: bad comment line {line!r}")
                continue
            kind, name, rest = m.groups()
            if not NAME.match(name):
                errors.append(f"line {lineno}: bad metric name {name!r}")
            if kind == "HELP":
                if name in helps:
                    errors.append(f"line {lineno}: second HELP for {name}")
                if re.search(r"\\[^\\n]", rest.replace("\\\\", "")):
                    errors.append(f"line {lineno}: bad escape in HELP of {name}")
                helps[name] = rest
                if name in seen_families:
                    errors.append(f"line {lineno}: family {name} appears twice")
                seen_families.append(name)
                current = name
            else:
                if name != current or name in types:
                    errors.append(f"line {lineno}: TYPE of {name} not right after its HELP")
                if rest not in TYPES:
                    errors.append(f"line {lineno}: bad type {rest!r}")
                if rest == "counter" and not name.endswith("_total"):
                    errors.append(f"line {lineno}: counter {name} does not end in _total")
                types[name] = rest
            continue
        m = re.match(r"([^{ ]+)(?:\{(.*)\})? (\S+)\Z", line)
        if not m:
            errors.append(f"line {lineno}: bad sample line {line!r}")
            continue
        name, labels_s, value_s = m.groups()
        if not NAME.match(name):
            errors.append(f"line {lineno}: bad metric name {name!r}")
        fam = family_of(name, types)
        if fam != current or fam not in types:
            errors.append(f"line {lineno}: sample {name} outside its family's HELP/TYPE block")
        labels = parse_labels(labels_s or "", lineno, errors)
        value = parse_value(value_s, lineno, errors)
        if labels is None or value is None:
            continue
        key = (name, tuple(sorted(labels)))
        if key in series:
            errors.append(f"line {lineno}: duplicate series {name}{{{labels_s or ''}}}")
        series[key] = value
        if types.get(fam) == "histogram":
            rest = tuple(sorted(kv for kv in labels if kv[0] != "le"))
            h = hist.setdefault((fam, rest), {"buckets": [], "sum": None, "count": None})
            if name.endswith("_bucket"):
                le = dict(labels).get("le")
                if le is None:
                    errors.append(f"line {lineno}: bucket without le")
                    continue
                h["buckets"].append((parse_value(le, lineno, errors), value))
            elif name.endswith("_sum"):
                h["sum"] = value
            elif name.endswith("_count"):
                h["count"] = value
            else:
                errors.append(f"line {lineno}: {name} is not a histogram sample")
    for name in seen_families:
        if name not in types:
            errors.append(f"family {name} has HELP but no TYPE")
    for (fam, labels), h in hist.items():
        b = h["buckets"]
        where = f"{fam}{dict(labels)}"
        if not b or not math.isinf(b[-1][0]):
            errors.append(f"{where}: buckets do not end in +Inf")
            continue
        for (le1, v1), (le2, v2) in zip(b, b[1:]):
            if not le2 > le1:
                errors.append(f"{where}: le not ascending ({le1} then {le2})")
            if v2 < v1:
                errors.append(f"{where}: buckets not cumulative ({v1} then {v2})")
        if h["count"] is None or h["sum"] is None:
            errors.append(f"{where}: _sum or _count missing")
        elif b[-1][1] != h["count"]:
            errors.append(f"{where}: +Inf bucket {b[-1][1]} != _count {h['count']}")
    return types, series


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    path, want_fams, want_samples = args[0], [], []
    rest = args[1:]
    while rest:
        opt = rest.pop(0)
        if opt == "--family" and rest:
            want_fams.append(rest.pop(0))
        elif opt == "--sample" and rest:
            want_samples.append(rest.pop(0))
        else:
            sys.exit(f"unknown argument {opt!r}")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    errors = []
    try:
        n = sum(1 for _ in text_string_to_metric_families(text))
        if n == 0:
            errors.append("prometheus_client found no family")
    except Exception as e:  # the reference parser refused the text
        errors.append(f"prometheus_client: {e}")
    types, series = check(text, errors)
    for f in want_fams:
        if f not in types:
            errors.append(f"family {f} missing")
    for s in want_samples:
        m = re.match(r"([^{]+)(?:\{(.*)\})?\Z", s)
        labels = parse_labels(m.group(2) or "", 0, errors) if m else None
        key = (m.group(1), tuple(sorted(labels))) if labels is not None else None
        if key not in series:
            errors.append(f"series {s} missing")
        else:
            print(f"{s} {series[key]:g}")
    for e in errors:
        print(e, file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
