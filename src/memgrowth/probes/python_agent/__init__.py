"""The Python agent: in-target reporter (inject/) and the recorder's side of the channel."""

import os

INJECT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "inject")
ENV_DIR = "MEMGROWTH_AGENT_DIR"
ENV_INTERVAL = "MEMGROWTH_AGENT_INTERVAL"
RECORDER_SOCKET = "recorder.sock"
BASELINE_REQUEST = b"baseline"
# The agent (inject/_memgrowth_agent.py) cannot import memgrowth, so it repeats these names;
# tests/test_agent.py checks that both sides agree.
