package intake

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"safetynet/stream/feed"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/state"
)

// sweepLimit bounds the parked events handled in one sweep step, and releaseChunk those
// released in one write: a registry catching up after an outage releases millions of events
// in steps of bounded memory and bounded Kafka requests.
const (
	sweepLimit   = 500
	releaseChunk = 500
)

// parkFull reports whether parking p, after the parked events already counted and the batch's
// own (parked, parkedBytes), would go beyond SAFETYNET_PARK_MAX_EVENTS or
// SAFETYNET_PARK_MAX_BYTES; then the item becomes a park_full dead letter. The caller holds
// parkMu.
func (i *Intake) parkFull(it *item, p state.Parked, parked int, parkedBytes int64) bool {
	size := parkedSize(it, p)
	n, b := i.parkedN.Load()+int64(parked)+1, i.parkedBytes.Load()+parkedBytes+size
	if n <= int64(i.cfg.ParkMaxEvents) && b <= i.cfg.ParkMaxBytes {
		return false
	}
	it.out = outDeadLetter
	it.dl = &feed.DecodeError{Reason: feed.ReasonParkFull, Field: "person_id", Detail: fmt.Sprintf(
		"the registry does not know person %s yet, and the parked events are at their limit (%d events, %d bytes; "+
			"SAFETYNET_PARK_MAX_EVENTS %d, SAFETYNET_PARK_MAX_BYTES %d)",
		it.ev.PersonMasked, n-1, b-size, i.cfg.ParkMaxEvents, i.cfg.ParkMaxBytes)}
	return true
}

// parkedSize estimates the bytes p takes in the store (key and JSON value).
func parkedSize(it *item, p state.Parked) int64 {
	return int64(base64.StdEncoding.EncodedLen(len(p.Event)) + base64.StdEncoding.EncodedLen(len(p.Sealed)) +
		len(it.ev.PersonKey) + 2*len(p.Feed) + 2*len(p.EventID) + 96)
}

// runSweeper dead-letters, every SweepInterval, the parked events whose person the registry has
// not named within UnknownPersonWait.
func (i *Intake) runSweeper(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-i.readyCh:
	}
	if err := i.releaseKnownParked(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	t := time.NewTicker(i.cfg.SweepInterval)
	defer t.Stop()
	for {
		if err := i.sweep(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sweep handles every parked event older than the wait that this instance owns: released if its
// person is known by now, dead-lettered as unknown_person otherwise. The events other instances
// own are left to them (their tombstones take them off this instance's table).
func (i *Intake) sweep(ctx context.Context) error {
	var cursor []byte
	for i.parkedN.Load() > 0 {
		n, next, err := i.sweepStep(ctx, cursor)
		if err != nil || n < sweepLimit {
			return err
		}
		cursor = next
	}
	return nil
}

func (i *Intake) sweepStep(ctx context.Context, cursor []byte) (int, []byte, error) {
	i.parkMu.Lock()
	defer i.parkMu.Unlock()
	now := i.cfg.Now()
	n, next, known, expired, households, err := i.parkedByPerson(now.Add(-i.cfg.UnknownPersonWait), cursor, sweepLimit)
	if err != nil {
		return 0, nil, fmt.Errorf("find expired parked events: %w", err)
	}
	if err := i.release(ctx, known, func(pk string) string { return households[pk] }); err != nil {
		return 0, nil, err
	}
	if len(expired) == 0 {
		return n, next, nil
	}
	msgs := make([]kafka.Message, 0, len(expired))
	keys := make([][]byte, 0, len(expired))
	for _, e := range expired {
		msgs = append(msgs, i.dlqMessage(i.unknownPerson(e, now), now))
		keys = append(keys, e.Key)
	}
	if err := i.write(ctx, msgs); err != nil {
		return 0, nil, err
	}
	if err := i.writeTombstones(ctx, expired); err != nil {
		return 0, nil, err
	}
	if err := i.store.Update(func(tx *state.Tx) error { return tx.DeleteParked(keys...) }); err != nil {
		return 0, nil, fmt.Errorf("forget dead-lettered parked events: %w", err)
	}
	i.forgetParked(expired)
	i.metrics.Parked.Set(float64(i.parkedN.Load()))
	for _, e := range expired {
		i.metrics.DeadLetters.WithLabelValues(e.Feed, feed.ReasonUnknownPerson).Inc()
	}
	i.log.Info("dead-lettered events whose person the registry never named", "count", len(expired), "wait", i.cfg.UnknownPersonWait)
	return n, next, nil
}

// unknownPerson is the dead letter of an expired parked event: the original record, opened from
// its sealed copy.
func (i *Intake) unknownPerson(e state.ParkedEntry, now time.Time) feed.DeadLetter {
	dl := feed.DeadLetter{Reason: feed.ReasonUnknownPerson, Feed: e.Feed}
	ev, err := decodeParkedEvent(e)
	if err == nil {
		dl.Source = ev.Source
	}
	dl.Detail = fmt.Sprintf("person_id: the registry did not name person %s within %s (parked at %s)",
		ev.PersonMasked, i.cfg.UnknownPersonWait, e.ParkedAt.UTC().Format(time.RFC3339))
	var rec sealedRecord
	plain, oerr := i.pseud.Open(e.Sealed)
	if oerr == nil {
		oerr = json.Unmarshal(plain, &rec)
	}
	if oerr != nil {
		// The key changed since the event was parked: keep what can be kept, the canonical event.
		dl.Value = e.Event
		dl.Detail += "; the original record could not be opened (was the pseudonymisation key changed?), the value is the canonical event"
		return dl
	}
	dl.Key, dl.Value = rec.Key, rec.Value
	return dl
}

// releaseKnownParked releases, once the person table has caught up at start, every parked event
// whose person the table already names. Normally the registry reader releases them as it names
// the person; a process that died between writing the table and releasing would otherwise leave
// them parked until the sweeper's wait runs out.
func (i *Intake) releaseKnownParked(ctx context.Context) error {
	if i.parkedN.Load() == 0 {
		return nil
	}
	i.parkMu.Lock()
	defer i.parkMu.Unlock()
	var after []byte
	released := 0
	for {
		var known []state.ParkedEntry
		households := map[string]string{}
		var page []state.ParkedEntry
		err := i.store.View(func(tx *state.Tx) error {
			var err error
			if page, err = tx.ParkedAfter(after, releaseChunk); err != nil {
				return err
			}
			for _, e := range page {
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
			return fmt.Errorf("find parked events of known persons: %w", err)
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Key
		known = i.owned(known)
		if err := i.release(ctx, known, func(pk string) string { return households[pk] }); err != nil {
			return err
		}
		released += len(known)
	}
	if released > 0 {
		i.log.Info("released events parked for persons the registry has named since (an earlier run stopped before releasing them)", "count", released)
	}
	return nil
}

// forgetParked takes deleted parked events off the counts. The caller holds parkMu.
func (i *Intake) forgetParked(es []state.ParkedEntry) {
	var size int64
	for _, e := range es {
		size += int64(e.Size)
	}
	i.parkedBytes.Add(-size)
	i.parkedN.Add(-int64(len(es)))
}

// parkedByPerson reads up to limit events parked before t, after the cursor, and returns how many
// it read, the cursor past them, and those of them this instance owns, split into those whose
// person the table now names (with the person's household) and the others.
func (i *Intake) parkedByPerson(t time.Time, cursor []byte, limit int) (n int, next []byte, known, unknown []state.ParkedEntry, households map[string]string, err error) {
	households = map[string]string{}
	err = i.store.View(func(tx *state.Tx) error {
		es, c, err := tx.ParkedDue(t, cursor, limit)
		if err != nil {
			return err
		}
		n, next = len(es), c
		for _, e := range i.owned(es) {
			hh, err := i.householdOf(tx, e.PersonKey)
			if err != nil {
				return err
			}
			if hh != "" {
				households[e.PersonKey] = hh
				known = append(known, e)
			} else {
				unknown = append(unknown, e)
			}
		}
		return nil
	})
	return n, next, known, unknown, households, err
}
