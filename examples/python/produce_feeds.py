#!/usr/bin/env python3
"""A partner agency's producer: sends one household's events to every safetynet feed.

It registers two people in a household (civil-affairs registry), then reports a leukaemia
admission (medical insurance), a pension, a job loss (human resources and social security) and
a disability certificate (disabled persons' federation). The admission (ICD-10 C92.0, a critical
illness) raises the household to `warning`: read the alert with consume_alerts.py.

Every record is keyed by the person's resident ID number and written with acks=all, so a record
counts as sent only when every in-sync replica has it. The format of each feed is in
docs/feeds.md and docs/schemas/feeds/.

    python3 produce_feeds.py --brokers kafka-1:9092 --household H-DEMO-1

Brokers and topic names come from flags, or from the same environment variables safetynet reads
(SAFETYNET_KAFKA_BROKERS, SAFETYNET_TOPIC_REGISTRY, ...). Needs the confluent-kafka package
(Debian: python3-confluent-kafka; pip: confluent-kafka).
"""

import argparse
import json
import os
import sys
import uuid
from datetime import datetime, timedelta, timezone

from confluent_kafka import Producer

FEEDS = ("registry", "hospital", "pension", "employment", "disability", "applications", "assets")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--brokers", default=os.environ.get("SAFETYNET_KAFKA_BROKERS", "localhost:9092"),
                   help="comma-separated bootstrap brokers (env SAFETYNET_KAFKA_BROKERS)")
    for feed in FEEDS:
        env = "SAFETYNET_TOPIC_" + feed.upper()
        p.add_argument("--%s-topic" % feed, default=os.environ.get(env, "safetynet.feed." + feed),
                       help="the %s feed's topic (env %s)" % (feed, env))
    p.add_argument("--household", default="H-DEMO-1", help="the household's registry id")
    p.add_argument("--head", default="11010519491231002X",
                   help="resident ID number of the head of the household (made up; valid check character)")
    p.add_argument("--child", default="110105201203150011",
                   help="resident ID number of a child in the household")
    p.add_argument("--schema-id", type=int, default=None,
                   help="write each record in the Schema Registry wire format with this schema id "
                        "(magic byte 0, 4-byte id, JSON); safetynet accepts both")
    return p.parse_args()


def rfc3339(t):
    return t.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def events(household, head, child, now):
    """The household's story, oldest first: (feed, event)."""
    def ev(event_type, person, at, **fields):
        # event_id is the idempotency key: a resend of the same event must carry the same id.
        e = {"event_id": str(uuid.uuid4()), "type": event_type, "person_id": person, "occurred_at": rfc3339(at)}
        e.update(fields)
        return e

    return [
        ("registry", ev("member_joined", head, now - timedelta(days=400), household_id=household,
                        birth_date="1949-12-31", sex="F", relation="head")),
        ("registry", ev("member_joined", child, now - timedelta(days=400), household_id=household,
                        relation="child")),
        ("pension", ev("started", head, now - timedelta(days=300), monthly_amount=1450)),
        ("employment", ev("unemployed", head, now - timedelta(days=200), registered=True)),
        ("disability", ev("registered", child, now - timedelta(days=100), grade=3, kind="hearing")),
        ("hospital", ev("admitted", child, now - timedelta(days=2), admission_id="ZY-" + household + "-1",
                        icd10="C92.0", critical_illness=True)),
        ("assets", ev("deposits_reported", head, now - timedelta(days=30), balance=4200)),
        # An application for dibao with the applicant's declaration: the monitor checks it against
        # the records and publishes the result on safetynet.verifications.
        ("applications", ev("submitted", head, now - timedelta(hours=1), household_id=household,
                            application_id="DB-" + household, program="dibao", commitment_signed=True,
                            declared={"members": [{"person_id": head, "monthly_income": 1450},
                                                  {"person_id": child, "monthly_income": 0}],
                                      "vehicles": 0, "properties": 0, "financial_assets": 4000,
                                      "business_owner": False})),
    ]


def main():
    args = parse_args()
    producer = Producer({
        "bootstrap.servers": args.brokers,
        "acks": "all",                  # every in-sync replica has the record before it counts
        "enable.idempotence": True,     # no duplicates from the client's own retries
        "linger.ms": 5,
    })
    failures = []

    def delivered(err, msg):
        if err is not None:
            failures.append("%s: %s" % (msg.topic(), err))

    now = datetime.now(timezone.utc)
    for feed, event in events(args.household, args.head, args.child, now):
        value = json.dumps(event, ensure_ascii=False).encode("utf-8")
        if args.schema_id is not None:
            value = b"\x00" + args.schema_id.to_bytes(4, "big") + value
        topic = getattr(args, feed + "_topic")
        # Keyed by the person's ID number: one person's events stay in order on one partition.
        producer.produce(topic, key=event["person_id"].encode(), value=value, on_delivery=delivered)
        producer.poll(0)
        print("sent %s/%s %s" % (feed, event["type"], event["event_id"]))
    left = producer.flush(30)
    if left or failures:
        for f in failures:
            print("not delivered: " + f, file=sys.stderr)
        if left:
            print("%d records not delivered within 30 s" % left, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
