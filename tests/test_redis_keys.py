"""Every Redis key is named in a keys module (`lawline/<package>/keys.py`), nowhere else.

A key name built in passing (`f"{prefix}:something:{id}"`) is how two modules come to
disagree about a key, or one of them to write a key nobody documented. These checks read
the source, so they fail at once, before anything runs against Redis.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAWLINE = ROOT / "lawline"

# Files still allowed to build a key by hand: none.
NOT_YET_MOVED: set[str] = set()

# A key name put together outside a keys module: `{...prefix...}:` or `{..._key}:` in an
# f-string, a prefix joined to ":" by hand, or the default prefix written out.
BUILT_BY_HAND = re.compile(
    r"""\{[^{}]*(?:prefix|_key|keys\.\w+)[^{}]*\}:"""
    r"""|prefix\s*\+\s*["']:"""
    r"""|["']ll:"""
)

REDIS_TYPES = ("string", "hash", "set", "zset", "list", "stream", "channel", "pattern")


def keys_modules() -> list[str]:
    return sorted(
        ".".join(("lawline", *p.relative_to(LAWLINE).with_suffix("").parts))
        for p in LAWLINE.rglob("keys.py")
    )


def keys_class(module_name: str) -> type:
    """The module's one `...Keys(prefix)` frozen dataclass."""
    module = importlib.import_module(module_name)
    found = [
        c
        for name, c in vars(module).items()
        if name.endswith("Keys") and inspect.isclass(c) and c.__module__ == module_name
    ]
    assert len(found) == 1, f"{module_name}: one ...Keys class, found {found}"
    cls = found[0]
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert [f.name for f in dataclasses.fields(cls)] == ["prefix"], module_name
    return cls


def members(cls: type) -> dict[str, object]:
    return {n: m for n, m in vars(cls).items() if not n.startswith("_") and n != "prefix"}


def example_names(cls: type) -> dict[str, str]:
    """Each member's key under the prefix `P`, any argument given as `X`."""
    keys = cls("P")
    out = {}
    for name, member in members(cls).items():
        if isinstance(member, property):
            out[name] = getattr(keys, name)
        else:
            params = list(inspect.signature(member).parameters)[1:]  # type: ignore[arg-type]
            out[name] = getattr(keys, name)(*["X"] * len(params))
    return out


def test_no_key_name_is_built_outside_a_keys_module() -> None:
    offenders = []
    for path in sorted(LAWLINE.rglob("*.py")):
        rel = path.relative_to(LAWLINE).as_posix()
        if path.name == "keys.py" or rel in NOT_YET_MOVED:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if BUILT_BY_HAND.search(line):
                offenders.append(f"lawline/{rel}:{n}: {line.strip()}")
    assert not offenders, "name these keys in a keys module:\n" + "\n".join(offenders)


def test_benches_call_the_store_and_take_its_key_names() -> None:
    """A bench with its own copy of a script's KEYS and ARGV measures something the
    product no longer does once the script changes (the queue bench once did)."""
    own_calls = re.compile(r"register_script\(|\.evalsha\(|\.eval\(|\.fcall\(")
    offenders = [
        f"bench/{path.name}:{n}: {line.strip()}"
        for path in sorted((ROOT / "bench").glob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if BUILT_BY_HAND.search(line) or own_calls.search(line)
    ]
    assert not offenders, "call the store's own functions and keys:\n" + "\n".join(offenders)


def test_the_check_catches_the_usual_ways_of_building_a_key() -> None:
    for line in (
        'key = f"{self.prefix}:contact:{cid}"',
        'return f"{prefix}:signin:pair:{user}:*"',
        'return f"{events_key}:dead"',
        'x = f"{store.keys.events}:dead"',
        'k = prefix + ":alerts"',
        'await redis.get("ll:events")',
    ):
        assert BUILT_BY_HAND.search(line), line
    assert not BUILT_BY_HAND.search("key = store.keys.contact(cid)")


def test_every_key_says_its_redis_type_and_lifetime() -> None:
    modules = keys_modules()
    assert "lawline.queue.keys" in modules
    for module_name in modules:
        cls = keys_class(module_name)
        for name, member in members(cls).items():
            doc = inspect.getdoc(member.fget if isinstance(member, property) else member)  # type: ignore[attr-defined]
            assert doc, f"{cls.__name__}.{name} has no docstring"
            assert doc.split()[0] in REDIS_TYPES, f"{cls.__name__}.{name}: start with its type"


def test_no_two_keys_modules_name_the_same_family_of_keys() -> None:
    """`P:contact:` belongs to one module: two would be two meanings for one key."""
    owner: dict[str, str] = {}
    for module_name in keys_modules():
        cls = keys_class(module_name)
        for name, key in example_names(cls).items():
            assert key.startswith("P:"), f"{cls.__name__}.{name} = {key!r}: not under the prefix"
            family = key.split(":")[1]
            assert owner.setdefault(family, module_name) == module_name, (
                f"P:{family}: named in {owner[family]} and {module_name}"
            )


def test_the_scripts_spare_the_ledger_group_that_the_ledger_reads_as() -> None:
    from lawline.queue.keys import LEDGER_GROUP

    common = (LAWLINE / "queue" / "scripts" / "includes" / "common.lua").read_text()
    assert f"local LEDGER_GROUP = '{LEDGER_GROUP}'" in common
