package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"safetynet/stream/feed"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"safetynet/state"
)

// The registry reader keeps the person→household table. Every instance reads every partition of
// the registry topic (one reader per partition, no consumer group), from the offsets stored in
// Badger beside the table rows, so that any instance can resolve any person.

// applyRegistryFact folds one valid registry event into a person's row. The row keeps the fact
// with the greatest (occurred_at, event_id), so the table does not depend on arrival order.
func applyRegistryFact(cur state.Person, found bool, ev feed.HouseholdEvent) (state.Person, bool) {
	if found && !cur.Before(ev.OccurredAt, ev.EventID) {
		return cur, false // an older (or the same) fact than the one the row holds
	}
	next := state.Person{Fact: ev.Type, FactHousehold: ev.HouseholdID, OccurredAt: ev.OccurredAt, EventID: ev.EventID}
	switch ev.Type {
	case "member_joined", "died": // the dead stay resolvable: late events about them still count
		next.HouseholdID = ev.HouseholdID
	case "member_left":
		if found && cur.HouseholdID != "" && cur.HouseholdID != ev.HouseholdID {
			return cur, false // left a household the person had already moved out of
		}
		next.HouseholdID = ""
	default:
		return cur, false
	}
	return next, true
}

// runRegistry reads every registry partition into the person table until ctx ends.
func (i *Intake) runRegistry(ctx context.Context) error {
	return tableView{
		what: "registry", topic: i.cfg.Topics.Registry, batch: i.cfg.BatchSize,
		apply:             i.applyRegistryBatch,
		caughtUp:          i.markCaughtUp,
		reading:           "reading the registry into the person table",
		partitionCaughtUp: func(log *slog.Logger) { log.Info("registry partition caught up") },
		lag:               func(p int) prometheus.Gauge { return i.metrics.RegistryLag.WithLabelValues(strconv.Itoa(p)) },
	}.run(ctx, i)
}

func (i *Intake) markCaughtUp(log *slog.Logger) {
	if i.caughtUp.CompareAndSwap(false, true) {
		i.metrics.RegistryLoaded.Set(1)
		close(i.caughtUpCh)
		log.Info("person table caught up with the registry", "persons", i.personsKnown.Load())
	}
}

// applyRegistryBatch folds a batch of one registry partition into the table, with the partition's
// next offset in the same transaction, then releases the events parked for persons it named.
// Invalid registry events are skipped here: the intake group dead-letters them. A batch whose
// rows do not fit in one store transaction (state.ErrTxnTooBig: a batch of thousands of new
// persons with a small memtable) is applied as two halves, in order, each with its offset, and
// so on down; nothing of the batch that failed was written.
func (i *Intake) applyRegistryBatch(ctx context.Context, p int, batch []kafka.Message) error {
	err := i.applyRegistryRows(ctx, p, batch)
	if errors.Is(err, state.ErrTxnTooBig) && len(batch) > 1 {
		h := len(batch) / 2
		if err := i.applyRegistryBatch(ctx, p, batch[:h]); err != nil {
			return err
		}
		return i.applyRegistryBatch(ctx, p, batch[h:])
	}
	return err
}

func (i *Intake) applyRegistryRows(ctx context.Context, p int, batch []kafka.Message) error {
	i.parkMu.Lock()
	defer i.parkMu.Unlock()
	now := i.cfg.Now()
	rows := map[string]state.Person{}
	var delta int64
	err := i.store.Update(func(tx *state.Tx) error {
		clear(rows)
		delta = 0
		for _, m := range batch {
			raw, derr := feed.Decode(feed.Registry, m.Value, i.cfg.MaxEventBytes, i.cfg.MaxFutureSkew, now)
			if derr != nil {
				continue
			}
			ev := i.pseud.Apply(raw)
			cur, found := rows[ev.PersonKey]
			if !found && !i.persons.noRow(ev.PersonKey) {
				var err error
				if cur, found, err = tx.GetPerson(ev.PersonKey); err != nil {
					return err
				}
			}
			next, changed := applyRegistryFact(cur, found, ev)
			if !changed {
				continue
			}
			if err := tx.PutPerson(ev.PersonKey, next); err != nil {
				return err
			}
			switch {
			case next.Known() && !cur.Known():
				delta++
			case !next.Known() && cur.Known():
				delta--
			}
			rows[ev.PersonKey] = next
		}
		if err := tx.AddPersonCount(delta); err != nil {
			return err
		}
		return tx.SetOffset(i.cfg.Topics.Registry, p, batch[len(batch)-1].Offset+1)
	})
	if err != nil {
		return fmt.Errorf("registry partition %d: write person table: %w", p, err)
	}
	for pk, row := range rows {
		i.persons.set(pk, row.HouseholdID)
	}
	i.metrics.PersonsKnown.Set(float64(i.personsKnown.Add(delta)))
	if i.parkedN.Load() == 0 || !i.parkedCaughtUp.Load() {
		// Until the parked table has read the parked topic it may hold events released since
		// (their tombstones not read yet): the release at start (releaseKnownParked) takes over.
		return nil
	}
	var release []state.ParkedEntry
	err = i.store.View(func(tx *state.Tx) error {
		for pk, row := range rows {
			if !row.Known() {
				continue
			}
			es, err := tx.ParkedFor(pk)
			if err != nil {
				return err
			}
			release = append(release, es...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("find parked events: %w", err)
	}
	return i.release(ctx, i.owned(release), func(pk string) string { return rows[pk].HouseholdID })
}

// release forwards parked events to their household, then forgets them, releaseChunk events
// per write. The caller holds parkMu.
func (i *Intake) release(ctx context.Context, entries []state.ParkedEntry, household func(personKey string) string) error {
	for len(entries) > 0 {
		n := min(len(entries), releaseChunk)
		if err := i.releaseChunk(ctx, entries[:n], household); err != nil {
			return err
		}
		entries = entries[n:]
	}
	return nil
}

func (i *Intake) releaseChunk(ctx context.Context, entries []state.ParkedEntry, household func(personKey string) string) error {
	msgs := make([]kafka.Message, 0, len(entries))
	keys := make([][]byte, 0, len(entries))
	for _, e := range entries {
		m, err := i.releasedMessage(e, household(e.PersonKey))
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
		keys = append(keys, e.Key)
	}
	if err := i.write(ctx, msgs); err != nil {
		return err
	}
	// Released: then the tombstones, so that no instance releases them again.
	if err := i.writeTombstones(ctx, entries); err != nil {
		return err
	}
	if err := i.store.Update(func(tx *state.Tx) error { return tx.DeleteParked(keys...) }); err != nil {
		return fmt.Errorf("forget released events: %w", err)
	}
	i.forgetParked(entries)
	i.metrics.Parked.Set(float64(i.parkedN.Load()))
	i.metrics.Released.Add(float64(len(entries)))
	for _, e := range entries {
		i.metrics.Forwarded.WithLabelValues(e.Feed).Inc()
	}
	i.log.Debug("released parked events", "count", len(entries))
	return nil
}

func (i *Intake) releasedMessage(e state.ParkedEntry, household string) (kafka.Message, error) {
	ev, err := decodeParkedEvent(e)
	if err != nil {
		return kafka.Message{}, err
	}
	if household == "" {
		return kafka.Message{}, errors.New("release a parked event: no household for its person")
	}
	ev.HouseholdID = household
	return i.householdMessage(&ev, nil, nil)
}
