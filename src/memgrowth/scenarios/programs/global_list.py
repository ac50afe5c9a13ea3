"""A leak: every processed order appends an audit record to a module-level list that nothing
ever trims.

Ground truth: leak, held by the global `AUDIT_LOG`, allocated in `audit()`.
"""

import argparse
import time

AUDIT_LOG = []


class AuditRecord:
    def __init__(self, order_id, payload):
        self.order_id = order_id
        self.payload = payload
        self.at = time.time()


def audit(order_id, payload):
    AUDIT_LOG.append(AuditRecord(order_id, payload))


def process(order_id):
    payload = {"id": order_id, "lines": [{"sku": f"sku-{i}", "qty": i} for i in range(4)],
               "comment": "c" * 200}
    audit(order_id, payload)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--rate", type=float, default=1200.0, help="orders per second")
    args = parser.parse_args()
    deadline = time.monotonic() + args.seconds
    order_id = 0
    while time.monotonic() < deadline:
        started = time.monotonic()
        for _ in range(int(args.rate / 20)):
            process(order_id)
            order_id += 1
        time.sleep(max(0.0, 0.05 - (time.monotonic() - started)))


if __name__ == "__main__":
    main()
