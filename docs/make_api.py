"""Write docs/api.md, the API reference, from the docstrings of greenpylm's public modules.

Run: python docs/make_api.py   (tests check that docs/api.md is up to date)
"""
from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

MODULES = [
    "greenpylm", "greenpylm.servers", "greenpylm.clients", "greenpylm.chained.servers",
    "greenpylm.chained.clients", "greenpylm.standalone", "greenpylm.runner", "greenpylm.offload",
    "greenpylm.parts.core", "greenpylm.parts.services", "greenpylm.parts.connections",
    "greenpylm.parts.servers", "greenpylm.parts.wsgi", "greenpylm.parts.gateways",
    "greenpylm.parts.http",
    "greenpylm.parts.ledger", "greenpylm.parts.worker_connection", "greenpylm.parts.local",
    "greenpylm.remote.server", "greenpylm.persistence.kv", "greenpylm.log",
    "greenpylm.shipping", "greenpylm.wire",
]
OUT = Path(__file__).resolve().parent / "api.md"


def doc(obj: object) -> str:
    text = inspect.getdoc(obj) or "(no docstring)"
    return text.strip()


def signature(obj: object) -> str:
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"
    return re.sub(r" at 0x[0-9a-f]+", "", text)  # default values' reprs: no addresses


def public(module: object) -> list[tuple[str, object]]:
    names = getattr(module, "__all__", None) or [
        n for n, v in vars(module).items()
        if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__
        and (inspect.isclass(v) or inspect.isfunction(v))]
    return [(n, getattr(module, n)) for n in sorted(names) if hasattr(module, n)]


def render() -> str:
    lines = ["# API reference", "",
             "Made from the docstrings by `python docs/make_api.py`; do not edit by hand.", ""]
    for name in MODULES:
        module = importlib.import_module(name)
        lines += [f"## `{name}`", "", doc(module), ""]
        for attr, value in public(module):
            if inspect.isclass(value):
                lines += [f"### class `{attr}{signature(value)}`", "", doc(value), ""]
                for method, member in sorted(vars(value).items()):
                    if method.startswith("_") or not callable(member):
                        continue
                    inherited = getattr(value, method)  # getdoc finds a base's docstring
                    lines += [f"- `{method}{signature(member)}`: "
                              + doc(inherited).splitlines()[0]]
                lines.append("")
            elif inspect.isfunction(value):
                lines += [f"### `{attr}{signature(value)}`", "", doc(value), ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}", file=sys.stderr)
