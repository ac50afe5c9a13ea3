"""Looking at the target's objects without running the target's code.

Every function here reads objects through the C-level descriptors of the built-in types
(`type.__dict__["__mro__"]`, `dict.__len__`, `object.__sizeof__`…), never through attribute
lookup, `len()`, `repr()`, `==` or `hash()` on a user object: those can run the target's
`__getattr__`, `__len__`, `__eq__`, `__hash__` or `__repr__`, which may raise, hang or have
side effects. Part of memgrowth's in-target agent: standard library only.
"""

from __future__ import annotations

import gc
import os
import sys
from itertools import islice

_TYPE_MRO = type.__dict__["__mro__"]
_TYPE_DICT = type.__dict__["__dict__"]
_TYPE_FLAGS = type.__dict__["__flags__"]
_TYPE_NAME = type.__dict__["__qualname__"]
_TYPE_MODULE = type.__dict__["__module__"]
_MODULE_TYPE = type(sys)
_MODULE_DICT = _MODULE_TYPE.__dict__["__dict__"]
_GETSET = type(type.__dict__["__dict__"])
_MEMBER = type(_MODULE_DICT)
_FUNCTION = type(lambda: None)
_FUNCTION_CODE = _FUNCTION.__dict__["__code__"]
_HEAP_TYPE = 1 << 9
_HAVE_GC = 1 << 14
_GC_HEADER = 16  # bytes CPython puts before every GC-tracked object

try:
    from _collections import deque as _deque
except ImportError:  # pragma: no cover - every CPython has it
    _deque = list

# The built-in containers, by the base a user subclass inherits its storage from.
CONTAINERS = (dict, list, set, frozenset, _deque)
_CONTAINER_NAMES = {id(dict): "dict", id(list): "list", id(set): "set",
                    id(frozenset): "frozenset", id(_deque): "deque"}

_STDLIB = os.path.dirname(os.__file__)
_AGENT_DIR = os.path.dirname(os.path.abspath(__file__))


def mro(kind: type) -> tuple:
    try:
        return _TYPE_MRO.__get__(kind, type) or ()
    except Exception:
        return ()


def is_subclass(kind: type, base: type) -> bool:
    """`issubclass` by identity along the MRO: no metaclass `__subclasscheck__` runs."""
    return any(entry is base for entry in mro(kind))


def container_base(kind: type) -> type | None:
    """The built-in container a type stores its items in (dict for an OrderedDict…)."""
    for entry in mro(kind):
        for base in CONTAINERS:
            if entry is base:
                return base
    return None


def container_name(base: type) -> str:
    return _CONTAINER_NAMES.get(id(base), "container")


def type_name(kind: type) -> str:
    """`module.Qualname` read straight from the type: a metaclass property is never called."""
    try:
        name = _TYPE_NAME.__get__(kind, type)
        module = _TYPE_MODULE.__get__(kind, type)
    except Exception:
        return "?"
    if type(name) is not str:
        return "?"
    return name if type(module) is not str or module == "builtins" else f"{module}.{name}"


def type_module(kind: type) -> str | None:
    try:
        module = _TYPE_MODULE.__get__(kind, type)
    except Exception:
        return None
    return module if type(module) is str else None


def is_heap_type(kind: type) -> bool:
    try:
        return bool(_TYPE_FLAGS.__get__(kind, type) & _HEAP_TYPE)
    except Exception:
        return True


def class_dict(kind: type) -> dict:
    """The class's own namespace as a plain dict snapshot."""
    try:
        proxy = _TYPE_DICT.__get__(kind, type)
        return dict(proxy)  # a class namespace is a real dict: copied in C
    except Exception:
        return {}


def length(obj, base: type) -> int:
    """len() through the built-in base: a subclass's `__len__` is never called."""
    try:
        return base.__len__(obj)
    except Exception:
        return 0


_SIZEOF: dict = {}  # id(type) -> (type, its first built-in base's __sizeof__, GC header)


def shallow_size(obj) -> int:
    """sys.getsizeof without calling a user `__sizeof__`: the first built-in base's size."""
    kind = type(obj)
    cached = _SIZEOF.get(id(kind))
    if cached is None or cached[0] is not kind:
        method = object.__sizeof__
        for entry in mro(kind):
            if not is_heap_type(entry):
                found = class_dict(entry).get("__sizeof__")
                if found is not None:
                    method = found
                    break
        if len(_SIZEOF) > 10_000:
            _SIZEOF.clear()
        try:
            header = _GC_HEADER if _TYPE_FLAGS.__get__(kind, type) & _HAVE_GC else 0
        except Exception:
            header = 0
        cached = _SIZEOF[id(kind)] = (kind, method, header)
    try:
        return cached[1](obj) + cached[2]
    except Exception:
        return 0


_SHARED = (type, _MODULE_TYPE, type(len), type(_FUNCTION_CODE.__get__(mro)))


def is_shared(kind: type) -> bool:
    """Types, modules, functions and code: referenced by everything, owned by nothing."""
    return any(kind is shared for shared in _SHARED)


_FUNCTION_OWN = tuple(_FUNCTION.__dict__[name]
                      for name in ("__defaults__", "__kwdefaults__", "__closure__"))


def own_referents(item) -> list:
    """What an object holds. A function holds its defaults and closure, not its module's
    globals or its code, which are shared with every other function of the module."""
    if type(item) is _FUNCTION:
        return [d.__get__(item, _FUNCTION) for d in _FUNCTION_OWN]
    return gc.get_referents(item)  # tp_traverse: C only; [] without it


def retained_size(obj, depth: int = 2, budget: int = 64) -> int:
    """The object plus what it references, a couple of levels deep, without shared things
    (types, modules, code, a function's globals): roughly what freeing it would give back."""
    seen = {id(obj)}
    total = shallow_size(obj)
    frontier = [obj]
    for _ in range(depth):
        following = []
        for item in frontier:
            try:
                referents = own_referents(item)
            except Exception:
                continue
            for child in referents:
                if child is None or id(child) in seen or is_shared(type(child)):
                    continue
                seen.add(id(child))
                total += shallow_size(child)
                following.append(child)
                if len(seen) >= budget:
                    return total
        frontier = following
    return total


def last_items(obj, base: type, count: int) -> list:
    """The most recently added items (values of a dict): what a growing container gained."""
    try:
        if base is dict:
            return list(islice(reversed(dict.values(obj)), count))
        if base is list:
            return list.__getitem__(obj, slice(-count, None))
        if base is _deque:
            return list(islice(_deque.__reversed__(obj), count))
        return list(islice(base.__iter__(obj), count))  # sets: no order, any items do
    except Exception:
        return []


def first_entries(obj, base: type, count: int) -> list:
    """Up to `count` (label, value) pairs from the front; labels only for str/int keys."""
    try:
        if base is dict:
            pairs = list(islice(dict.items(obj), count))
            return [(_key_label(key), value) for key, value in pairs]
        values = list(islice(base.__iter__(obj), count))
    except Exception:
        return []
    if base is list or base is _deque:
        return [(f"[{index}]", value) for index, value in enumerate(values)]
    return [("{…}", value) for value in values]


def _key_label(key) -> str:
    if type(key) is str:
        return "[" + repr(key[:40]) + "]"  # repr of an exact str is the str's own: safe
    if type(key) is int:
        return f"[{key}]" if -10**12 < key < 10**12 else "[…]"
    return "[…]"


def instance_attributes(obj) -> list:
    """(name, value) of an instance's `__dict__` and `__slots__`, read through the
    descriptors the class itself created (a `__getattr__` or property never runs)."""
    found = []
    kind = type(obj)
    dict_done = False
    for entry in mro(kind):
        if not is_heap_type(entry):
            break
        namespace = class_dict(entry)
        for name, descriptor in namespace.items():
            if type(name) is not str:
                continue
            if type(descriptor) is _MEMBER:  # a __slots__ slot
                try:
                    found.append((name, descriptor.__get__(obj, entry)))
                except Exception:
                    pass
            elif name == "__dict__" and type(descriptor) is _GETSET and not dict_done:
                dict_done = True
                try:
                    attributes = descriptor.__get__(obj, entry)
                except Exception:
                    continue
                if type(attributes) is dict:
                    found.extend((k, v) for k, v in list(attributes.items()) if type(k) is str)
    return found


def module_namespace(module) -> dict:
    try:
        namespace = _MODULE_DICT.__get__(module, _MODULE_TYPE)
    except Exception:
        return {}
    return namespace if type(namespace) is dict else {}


class _Probe:
    def method(self) -> None:
        pass


_METHOD = type(_Probe().method)
_METHOD_FUNCTION = _METHOD.__dict__["__func__"]


def function_code(function):
    """The code object of a function or bound method; None for anything else."""
    try:
        if type(function) is _METHOD:
            function = _METHOD_FUNCTION.__get__(function, _METHOD)
        if type(function) is not _FUNCTION:
            return None
        return _FUNCTION_CODE.__get__(function, _FUNCTION)
    except Exception:
        return None


# CPython 3.11 puts two pointers before an object with a managed __dict__, and its
# tracemalloc forgets them when asked for the object's traceback (fixed in 3.12).
_MANAGED_DICT = 1 << 4
_PRE_HEADER_311 = 2 * 8


def object_traceback(obj, tracemalloc_module):
    """Where obj was allocated, if tracemalloc traced it: frames, most recent first."""
    try:
        frames = tracemalloc_module._get_object_traceback(obj)
        if frames is not None or sys.version_info[:2] != (3, 11):
            return frames
        kind = type(obj)
        if not _TYPE_FLAGS.__get__(kind, type) & _MANAGED_DICT:
            return None
        import ctypes  # already loaded by the agent for mallinfo2

        lookup = ctypes.pythonapi._PyTraceMalloc_GetTraceback
        lookup.restype = ctypes.py_object
        lookup.argtypes = [ctypes.c_uint, ctypes.c_size_t]
        return lookup(0, id(obj) - _GC_HEADER - _PRE_HEADER_311)  # most recent first
    except Exception:
        return None


def is_user_file(filename: str) -> bool:
    """Code the user wrote: not the standard library, site-packages, or memgrowth itself."""
    if not filename or filename.startswith("<frozen"):
        return False
    if "site-packages" in filename or "dist-packages" in filename:
        return False
    return not (filename.startswith(_STDLIB) or filename.startswith(_AGENT_DIR))


def module_kind(namespace: dict) -> str | None:
    """'user', 'library' (site-packages) or 'stdlib' by the module's file; None if built in."""
    filename = namespace.get("__file__")
    if type(filename) is not str:
        return None
    if filename.startswith(_AGENT_DIR):
        return None
    if "site-packages" in filename or "dist-packages" in filename:
        return "library"
    return "stdlib" if filename.startswith(_STDLIB) else "user"


def frame_site(frame) -> list:
    """[file, line, function] of a frame."""
    code = frame.f_code
    return [code.co_filename, frame.f_lineno, code.co_qualname]


def pending_tasks() -> list | None:
    """The asyncio tasks not done yet, or None when asyncio is not loaded (never import it)."""
    tasks_module = sys.modules.get("asyncio.tasks")
    if tasks_module is None:
        return None
    pending = []
    for pool_name in ("_all_tasks", "_scheduled_tasks", "_eager_tasks"):
        pool = getattr(tasks_module, pool_name, None)
        if pool is None:
            continue
        for _ in range(3):  # the loop thread may change the set while we copy it
            try:
                snapshot = list(pool)
                break
            except RuntimeError:
                continue
        else:
            return None
        pending.extend(task for task in snapshot if not task.done())
    return pending
