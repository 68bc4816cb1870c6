#!/usr/bin/env python3
"""Parses Prometheus text exposition from stdin with the reference parser
(python3-prometheus-client) and prints what it understood, one line each, for a test to
compare:  TYPE <family> <type>  and  <sample>{<label>="<value>",...} <value>  (labels sorted,
whole numbers without a fraction). Exits non-zero when the text does not parse."""
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.exit("parse-prometheus: python3-prometheus-client is missing (scripts/install-deps.sh --tests)")


def number(value):
    return str(int(value)) if value == int(value) else repr(value)


def main():
    text = sys.stdin.read()
    for family in text_string_to_metric_families(text):
        print(f"TYPE {family.name} {family.type}")
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            print(f"{sample.name}{{{labels}}} {number(sample.value)}" if labels else f"{sample.name} {number(sample.value)}")


if __name__ == "__main__":
    main()
