# memgrowth agent loader. This folder is put first on PYTHONPATH by `memgrowth run`, so every
# Python process of the recorded tree imports this file at start-up. It starts the agent, then
# runs the `sitecustomize` this one shadows, exactly as Python would have.
# Kept to old syntax on purpose: any Python found in the tree may read this file.
import sys


def _memgrowth_start():
    if sys.version_info < (3, 8):  # noqa: UP036 - any Python of the tree may read this
        return
    try:
        import _memgrowth_agent

        _memgrowth_agent.start()
    except Exception:
        pass  # never break the target's start-up


def _memgrowth_chain():
    import importlib.machinery
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    others = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if spec is None or spec.loader is None:
        return
    try:  # importlib.util costs ~10 ms of imports; the bootstrap has the same function
        from importlib._bootstrap import module_from_spec
    except ImportError:
        from importlib.util import module_from_spec
    module = module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)  # its errors surface as Python reports them without us


_memgrowth_start()
_memgrowth_chain()
