"""A leak: an asyncio service fires a task per event to wait for an acknowledgement that never
arrives. The tasks never finish, and each keeps its event.

Ground truth: leak of asyncio tasks, created in `on_event()`, waiting in `wait_for_ack()`.
"""

import argparse
import asyncio
import time


async def wait_for_ack(event, acks):
    await acks  # never resolved
    return event


def on_event(loop, event_id, acks):
    event = {"id": event_id, "body": "e" * 2000, "tags": list(range(20))}
    loop.create_task(wait_for_ack(event, acks))


async def main(seconds, rate):
    loop = asyncio.get_running_loop()
    acks = loop.create_future()
    deadline = time.monotonic() + seconds
    event_id = 0
    while time.monotonic() < deadline:
        for _ in range(int(rate / 20)):
            on_event(loop, event_id, acks)
            event_id += 1
        await asyncio.sleep(0.05)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--rate", type=float, default=400.0, help="events per second")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.seconds, arguments.rate))
