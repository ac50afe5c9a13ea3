"""The Python agent: in-target reporter (inject/) and the recorder's side of the channel."""

import os

# The agent cannot import memgrowth; memgrowth takes the channel's names from the agent.
from memgrowth.probes.python_agent.inject._memgrowth_agent import (  # noqa: F401
    BASELINE_REQUEST,
    ENV_DIR,
    ENV_INTERVAL,
    RECORDER_SOCKET,
)

INJECT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "inject")
