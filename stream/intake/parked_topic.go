package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/state"
)

// Durable parking. An event parked for a person the registry does not know yet is written to the
// compacted parked topic (SAFETYNET_TOPIC_PARKED) before its feed offset is committed, and every
// instance reads that topic into its own parked table, as it reads the registry into its person
// table. The event therefore lives on the brokers, not on the disk of the instance that parked
// it: whichever instance is left when its person's registry record arrives releases it, and a
// fresh instance on an empty directory reads every parked event back.
//
// Record: key = person key, NUL, feed, NUL, event id (the store's parked key without its
// prefix); value = the state.Parked record as JSON (the canonical pseudonymised event and the
// original record sealed with the pseudonymisation key; no ID number in the clear); a tombstone
// (no value) once the event is released or dead-lettered.
//
// Who releases: every instance has every parked event, so every instance could. One does: the
// owner of the person key among the members of the monitor group (Config.Membership, rendezvous
// hashing over the members' advertised URLs), so each release and each unknown_person dead
// letter is normally made once. While views of the membership differ (a rebalance), two
// instances may release the same event, which is harmless (the monitor applies an event once:
// facts are a set keyed by feed and event id), or none for a moment: every instance releases the
// known persons' parked events it owns whenever its view of the membership changes, and the
// sweeper expires only the events it owns. The tombstone stops the others.

// parkedReaderBatch bounds the records the parked reader applies in one transaction (a parked
// record is up to a few KiB; Badger refuses too large a transaction).
const parkedReaderBatch = 200

// membershipPoll is how often the membership is read for a change.
const membershipPoll = time.Second

// parkedRecordKey is the parked topic's key of an event.
func parkedRecordKey(personKey, feedName, eventID string) []byte {
	k := make([]byte, 0, len(personKey)+len(feedName)+len(eventID)+2)
	k = append(k, personKey...)
	k = append(k, 0)
	k = append(k, feedName...)
	k = append(k, 0)
	return append(k, eventID...)
}

// parseParkedRecordKey splits a parked topic key.
func parseParkedRecordKey(k []byte) (personKey, feedName, eventID string, ok bool) {
	parts := bytes.SplitN(k, []byte{0}, 3)
	if len(parts) != 3 || len(parts[0]) == 0 || len(parts[1]) == 0 || len(parts[2]) == 0 {
		return "", "", "", false
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), true
}

// parkedMessage is the parked topic record of p.
func (i *Intake) parkedMessage(personKey string, p state.Parked) (kafka.Message, error) {
	v, err := json.Marshal(p)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode parked record: %w", err)
	}
	return kafka.Message{Topic: i.cfg.Topics.Parked, Key: parkedRecordKey(personKey, p.Feed, p.EventID), Value: v}, nil
}

// writeTombstones writes the parked topic's tombstones of the entries, which this instance has
// released or dead-lettered, and remembers them until its own reader reads them back: until
// then the reader may still meet the entries' records (this instance parked an event and
// released it before its reader got to the record), and must not park those events again
// (applyParkedBatch). The set holds only keys whose tombstone is in flight: normally a few
// batches' worth, at most the events released in one go while the reader waits for parkMu (a
// release at start, bounded by SAFETYNET_PARK_MAX_EVENTS). The caller holds parkMu, so the
// reader cannot read a tombstone before it is remembered.
func (i *Intake) writeTombstones(ctx context.Context, es []state.ParkedEntry) error {
	out := make([]kafka.Message, len(es))
	for n, e := range es {
		out[n] = kafka.Message{Topic: i.cfg.Topics.Parked, Key: parkedRecordKey(e.PersonKey, e.Feed, e.EventID)}
	}
	if err := i.write(ctx, out); err != nil {
		return err
	}
	for _, e := range es {
		i.tombstoned[string(e.Key)]++
	}
	return nil
}

// owns reports whether this instance releases and expires the events parked for personKey: the
// member with the highest hash of (member, person key) among the current members (rendezvous
// hashing: a membership change moves only the persons of the members that came or went). Without
// Config.Membership every event is this instance's; while the membership is unknown (a
// rebalance) none is.
func (i *Intake) owns(personKey string) bool {
	if i.cfg.Membership == nil {
		return true
	}
	self, members := i.cfg.Membership()
	if len(members) == 0 || self == "" {
		i.ownerUnknown.Store(true) // runMembership makes up for it once the membership is known
		return false
	}
	return ownerOf(personKey, members) == self
}

func ownerOf(personKey string, members []string) string {
	var best string
	var bestH uint64
	for _, m := range members {
		h := fnv.New64a()
		h.Write([]byte(m))
		h.Write([]byte{0})
		h.Write([]byte(personKey))
		if s := h.Sum64(); best == "" || s > bestH || (s == bestH && m < best) {
			best, bestH = m, s
		}
	}
	return best
}

// owned keeps the entries this instance releases and expires.
func (i *Intake) owned(es []state.ParkedEntry) []state.ParkedEntry {
	if i.cfg.Membership == nil {
		return es
	}
	return slices.DeleteFunc(es, func(e state.ParkedEntry) bool { return !i.owns(e.PersonKey) })
}

// runParked reads every partition of the parked topic into the parked table until ctx ends.
func (i *Intake) runParked(ctx context.Context) error {
	return tableView{
		what: "parked", topic: i.cfg.Topics.Parked, batch: parkedReaderBatch,
		apply: func(ctx context.Context, p int, batch []kafka.Message) error {
			if h := i.cfg.parkedReadHook; h != nil {
				if err := h(ctx, p, batch); err != nil {
					return err
				}
			}
			return i.applyParkedBatch(ctx, p, batch)
		},
		// logged as the parked table, not as the partition read last
		caughtUp: func(*slog.Logger) { i.markParkedCaughtUp(i.log.With("stage", "parked", "topic", i.cfg.Topics.Parked)) },
	}.run(ctx, i)
}

func (i *Intake) markParkedCaughtUp(log *slog.Logger) {
	if i.parkedCaughtUp.CompareAndSwap(false, true) {
		close(i.parkedCaughtUpCh)
		log.Info("parked table caught up with the parked topic", "parked", i.parkedN.Load())
	}
}

// applyParkedBatch folds a batch of one parked partition into the parked table, with the
// partition's next offset in the same transaction: a record parks its event (and marks it seen,
// so this instance drops a resend of it too), a tombstone forgets it. A record of an event this
// instance has released or dead-lettered, its tombstone not read back yet, is not parked again:
// the record is older than the tombstone that follows it (same key, same partition), and parking
// it would release or dead-letter the event a second time. Then it releases the new events whose
// person the table already names (the registry named the person before the event reached this
// instance) and that this instance owns.
func (i *Intake) applyParkedBatch(ctx context.Context, p int, batch []kafka.Message) error {
	i.parkMu.Lock()
	defer i.parkMu.Unlock()
	var added, removed []state.ParkedEntry
	bad := 0
	readBack := map[string]int{} // this instance's tombstones read in the batch, per key
	err := i.store.Update(func(tx *state.Tx) error {
		added, removed, bad = added[:0], removed[:0], 0
		clear(readBack)
		for _, m := range batch {
			pk, feedName, eventID, ok := parseParkedRecordKey(m.Key)
			if !ok {
				bad++
				continue
			}
			key := state.ParkedKey(pk, feedName, eventID)
			inFlight := i.tombstoned[string(key)] - readBack[string(key)]
			cur, found, err := tx.ParkedGet(key)
			if err != nil {
				return err
			}
			if len(m.Value) == 0 {
				if inFlight > 0 {
					readBack[string(key)]++
				}
				if found {
					if err := tx.DeleteParked(key); err != nil {
						return err
					}
					removed = append(removed, cur)
				}
				continue
			}
			if found {
				continue // parked here by this instance's intake, or a repeat
			}
			if inFlight > 0 {
				continue // released or dead-lettered here before this reader got to its record
			}
			var rec state.Parked
			if err := json.Unmarshal(m.Value, &rec); err != nil || rec.Feed != feedName || rec.EventID != eventID {
				bad++
				continue
			}
			n, err := tx.PutParked(pk, rec)
			if err != nil {
				return err
			}
			if err := i.markSeenTx(tx, rec.Feed, rec.EventID); err != nil {
				return err
			}
			added = append(added, state.ParkedEntry{Key: key, PersonKey: pk, Size: n, Parked: rec})
		}
		return tx.SetOffset(i.cfg.Topics.Parked, p, batch[len(batch)-1].Offset+1)
	})
	if err != nil {
		return fmt.Errorf("parked partition %d: write parked table: %w", p, err)
	}
	for k, n := range readBack {
		if i.tombstoned[k] -= n; i.tombstoned[k] <= 0 {
			delete(i.tombstoned, k)
		}
	}
	if bad > 0 {
		i.log.Warn("skipped parked topic records that are not parked events (written by something else than safetynet?)", "partition", p, "count", bad)
	}
	var size int64
	for _, e := range added {
		size += int64(e.Size)
	}
	i.parkedBytes.Add(size)
	i.parkedN.Add(int64(len(added)))
	i.forgetParked(removed)
	i.metrics.Parked.Set(float64(i.parkedN.Load()))
	if len(added) == 0 || !i.parkedCaughtUp.Load() {
		return nil // while catching up, a later tombstone may follow: releaseKnownParked at start takes over
	}
	gone := map[string]bool{}
	for _, e := range removed {
		gone[string(e.Key)] = true
	}
	added = slices.DeleteFunc(added, func(e state.ParkedEntry) bool { return gone[string(e.Key)] })
	known, households, err := i.knownOf(i.owned(added))
	if err != nil {
		return err
	}
	return i.release(ctx, known, func(pk string) string { return households[pk] })
}

// knownOf keeps the entries whose person the table names, with the persons' households. The
// caller holds parkMu.
func (i *Intake) knownOf(es []state.ParkedEntry) ([]state.ParkedEntry, map[string]string, error) {
	households := map[string]string{}
	var known []state.ParkedEntry
	err := i.store.View(func(tx *state.Tx) error {
		for _, e := range es {
			hh, err := i.householdOf(tx, e.PersonKey)
			if err != nil {
				return err
			}
			if hh != "" {
				households[e.PersonKey] = hh
				known = append(known, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("find the persons of parked events: %w", err)
	}
	return known, households, nil
}

// runMembership releases, whenever this instance's view of the membership changes, the parked
// events of named persons it owns in the new view: an owner that went away may have left them,
// and two views that differed for a moment may both have left one to the other.
func (i *Intake) runMembership(ctx context.Context) error {
	if i.cfg.Membership == nil {
		return nil
	}
	select {
	case <-ctx.Done():
		return nil
	case <-i.readyCh:
	}
	last := ""
	t := time.NewTicker(membershipPoll)
	defer t.Stop()
	for {
		_, members := i.cfg.Membership()
		view := strings.Join(members, "\n")
		changed := view != last
		last = view
		if len(members) > 0 && (changed || i.ownerUnknown.Swap(false)) {
			if err := i.releaseKnownParked(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
