"""Oracle for the YAML corpus test: reads a YAML stream with PyYAML and prints one JSON
document per YAML document, one per line. Mapping keys become strings the way kubectl's
sigs.k8s.io/yaml turns them into JSON keys (true/false/null, decimal integers)."""
import json
import sys

import yaml


def keys_to_strings(value):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, bool):
                k = "true" if k else "false"
            elif k is None:
                k = "null"
            elif not isinstance(k, str):
                k = str(k)
            out[k] = keys_to_strings(v)
        return out
    if isinstance(value, list):
        return [keys_to_strings(v) for v in value]
    return value


with open(sys.argv[1], encoding="utf-8") as f:
    for document in yaml.safe_load_all(f):
        print(json.dumps(keys_to_strings(document), ensure_ascii=False))
