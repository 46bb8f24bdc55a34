#!/usr/bin/env python3
"""A case-management system's subscriber: reads safetynet's alerts and prints them.

Alerts are JSON (docs/alerts.md, docs/schemas/alert.schema.json), keyed by household_id.
safetynet may publish an alert again after a crash, with the same alert_id: deduplicate by it
(here in memory; a real system keeps the ids it has handled in its own database, next to the
cases it opened).

    python3 consume_alerts.py --brokers kafka-1:9092 --group case-system
    python3 consume_alerts.py --household H-DEMO-1 --until-level warning --timeout 60

Offsets are committed after an alert has been handled, so a restart resumes where it stopped.
Brokers and the topic come from flags or from SAFETYNET_KAFKA_BROKERS and SAFETYNET_TOPIC_ALERTS.
"""

import argparse
import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaError


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--brokers", default=os.environ.get("SAFETYNET_KAFKA_BROKERS", "localhost:9092"),
                   help="comma-separated bootstrap brokers (env SAFETYNET_KAFKA_BROKERS)")
    p.add_argument("--topic", default=os.environ.get("SAFETYNET_TOPIC_ALERTS", "safetynet.alerts"),
                   help="the alert topic (env SAFETYNET_TOPIC_ALERTS)")
    p.add_argument("--group", default="case-system", help="consumer group id")
    p.add_argument("--household", help="print only this household's alerts")
    p.add_argument("--exit-after", type=int, default=0, help="stop after this many alerts (0: run until interrupted)")
    p.add_argument("--until-level", choices=("watch", "warning", "urgent"),
                   help="stop once an alert puts a household at this level")
    p.add_argument("--timeout", type=float, default=0, help="give up after this many seconds (exit status 2)")
    return p.parse_args()


def handle(alert):
    """What a case system would do: open or update the household's case. Here: print it."""
    print("%s %s %s level=%s score=%.1f episode=%d\n  %s" % (
        alert["alert_id"], alert["household_id"], alert["status"], alert["level"] or "-",
        alert["score"], alert["episode"], alert["summary"]), flush=True)


def main():
    args = parse_args()
    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": args.group,
        "auto.offset.reset": "earliest",   # a new group starts from the oldest alert kept
        "enable.auto.commit": False,       # commit only what has been handled
    })
    consumer.subscribe([args.topic])
    seen, handled = set(), 0
    deadline = time.monotonic() + args.timeout if args.timeout else None
    try:
        while args.exit_after == 0 or handled < args.exit_after:
            if deadline and time.monotonic() > deadline:
                print("no alert within %.0f s" % args.timeout, file=sys.stderr)
                return 2
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                print("consume: %s" % msg.error(), file=sys.stderr)
                return 1
            alert = json.loads(msg.value())
            if alert["alert_id"] not in seen and (not args.household or alert["household_id"] == args.household):
                seen.add(alert["alert_id"])
                handle(alert)
                handled += 1
            consumer.commit(message=msg, asynchronous=False)
            if args.until_level and alert["level"] == args.until_level and \
                    (not args.household or alert["household_id"] == args.household):
                break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
