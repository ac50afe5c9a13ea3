"""The pure pieces of attribution: decoding the agent's reports, function names for lines,
growing series, display paths, and the in-target inspection helpers on hostile objects."""

from __future__ import annotations

import json
import sys
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from memgrowth.analysis.attribution import format_site, growing_series
from memgrowth.analysis.series import AttributionRow, display_path
from memgrowth.probes.python_agent.inject import _memgrowth_inspect as inspect
from memgrowth.probes.python_agent.listener import decode
from memgrowth.probes.python_agent.sources import enclosing_function, with_functions


def _message(kind: str, **fields) -> bytes:
    return json.dumps({"type": kind, "pid": 7, "mono": 1.0, **fields}).encode()


def test_container_reports_decode_to_rows_and_drop_malformed_items():
    message = decode(_message("containers", items=[
        ["app.cache._sessions", "dict", 120, 1500, "app.Session", None],
        ["bad", "dict", "many", 1, None, None],  # a count that is not a number
        ["short"],
        [{"path": 1}, "dict", 1, 1, None, None],
    ]))
    assert message.attribution == [("container", "app.cache._sessions", 120, 1500,
                                    {"container": "dict", "item_type": "app.Session",
                                     "maxsize": None})]


def test_site_and_join_reports_keep_stacks_and_window_figures():
    message = decode(_message(
        "sites", window_s=0.25, bytes=2000, blocks=20, heap_delta=18,
        sites=[["/app/x.py", 42, 1500, 10, [["/app/x.py", 42], ["/app/main.py", 7]]]],
        joins=[["app.cache._sessions", "/app/x.py", 42, [["/app/x.py", 42]]]]))
    site, join = message.attribution
    assert site[:4] == ("site", "/app/x.py:42", 10, 1500)
    assert site[4]["stack"] == [["/app/x.py", 42, None], ["/app/main.py", 7, None]]
    assert site[4]["heap_delta_blocks"] == 18 and site[4]["window_s"] == 0.25
    assert join[:2] == ("join", "app.cache._sessions") and join[4]["line"] == 42


def test_group_reports_decode_threads_and_tasks():
    message = decode(_message(
        "groups",
        threads=[["request-N", 12, ["/a.py", 3, "serve"], ["/a.py", 9, "handle"], None]],
        tasks=[["wait", 40, ["/b.py", 1, "wait"], ["/b.py", 2, "wait"], None]]))
    threads, tasks = message.attribution
    assert threads[0] == "threads" and threads[2] == 12
    assert threads[4]["started"] == ["/a.py", 3, "serve"]
    assert tasks[4]["coroutine"] == "wait" and tasks[4]["created"] is None


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["containers", "sites", "groups", "cycles", "census", "types"]),
       st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=6)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=6),
                    max_leaves=40))
def test_hostile_attribution_reports_never_crash_the_decoder(kind, payload):
    fields = payload if isinstance(payload, dict) else {"items": payload, "sites": payload,
                                                         "threads": payload, "types": payload,
                                                         "counts": payload}
    message = decode(json.dumps({**fields, "type": kind, "pid": 3}).encode())
    assert message is not None
    for row in message.attribution:
        assert row[0] in ("container", "site", "join", "threads", "tasks", "cycles", "census")
        assert isinstance(row[1], str) and isinstance(row[4], dict)
        json.dumps(row[4])  # storable as the detail column


def test_enclosing_function_names_methods_nested_functions_and_module_lines(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(textwrap.dedent("""\
        import os

        class Cache:
            @staticmethod
            def put(key):
                def inner():
                    return key
                return inner

        def login(user):
            return [user]
    """))
    assert enclosing_function(str(source), 1) == "<module>"
    assert enclosing_function(str(source), 4) == "Cache.put"  # the decorator line
    assert enclosing_function(str(source), 7) == "Cache.put.<locals>.inner"
    assert enclosing_function(str(source), 11) == "login"
    assert enclosing_function(str(tmp_path / "missing.py"), 3) is None
    broken = tmp_path / "broken.py"
    broken.write_text("def (:\n")
    assert enclosing_function(str(broken), 1) is None
    detail = with_functions({"file": str(source), "line": 11,
                             "stack": [[str(source), 11, None], ["<frozen x>", 3, None]]})
    assert detail["function"] == "login" and detail["stack"][0][2] == "login"
    assert detail["stack"][1][2] is None


def _rows(counts, start=0.0, step=1.0, key="k"):
    return [AttributionRow(start + i * step, key, c, 100.0, {}) for i, c in enumerate(counts)]


def test_growing_series_needs_a_steady_material_rise():
    rising = growing_series(_rows([100, 150, 200, 260, 300, 350]), since=0.0)
    assert len(rising) == 1 and 45 < rising[0].per_s < 55
    assert growing_series(_rows([100, 100, 100, 100, 100]), since=0.0) == []
    assert growing_series(_rows([100, 104, 108, 112, 115]), since=0.0) == [], "too small a rise"
    assert growing_series(_rows([300, 200, 400, 100, 500, 0]), since=0.0) == [], "no trend"
    # A cache that filled early and then stayed full: flat over the recent window.
    filled = _rows([0, 5000, 10000, 20000, 20000, 20000, 20000, 20000])
    assert growing_series(filled, since=4.0) == []


def test_display_paths_are_relative_to_the_target_or_its_package():
    assert display_path("/srv/app/cache.py", "/srv") == "app/cache.py"
    assert display_path("/usr/lib/python3.11/json/decoder.py", "/srv") == "json/decoder.py"
    assert display_path("/v/lib/python3.11/site-packages/requests/api.py", None) == \
        "requests/api.py"
    assert display_path("/elsewhere/x.py", "/srv") == "/elsewhere/x.py"
    assert format_site(["a.py", 3, "f"]) == "a.py:3 (f)" and format_site(None) is None


class _Hostile(dict):
    """Every hook raises: the inspection helpers must never reach any of them."""

    def __len__(self):
        raise AssertionError("__len__ called")

    def __iter__(self):
        raise AssertionError("__iter__ called")

    def __sizeof__(self):
        raise AssertionError("__sizeof__ called")

    def __getattribute__(self, name):
        raise AssertionError(f"__getattribute__({name}) called")


class _Meta(type):
    def __eq__(cls, other):
        raise AssertionError("metaclass __eq__ called")

    __hash__ = None


class _Odd(metaclass=_Meta):
    __slots__ = ("a",)


def test_inspection_reads_objects_without_running_their_code():
    hostile = _Hostile()
    dict.__setitem__(hostile, "x", [1, 2, 3])
    base = inspect.container_base(type(hostile))
    assert base is dict and inspect.length(hostile, base) == 1
    assert inspect.last_items(hostile, base, 3) == [[1, 2, 3]]
    assert inspect.first_entries(hostile, base, 3) == [("['x']", [1, 2, 3])]
    assert inspect.shallow_size(hostile) >= sys.getsizeof({"x": 1}) - 16
    assert inspect.retained_size(hostile) > inspect.shallow_size(hostile)
    odd = _Odd()
    odd.a = {"k": 1}
    assert inspect.type_name(type(odd)).endswith("_Odd")
    assert inspect.instance_attributes(odd) == [("a", {"k": 1})]
    assert not inspect.is_shared(type(odd))
    assert inspect.function_code(hostile) is None
