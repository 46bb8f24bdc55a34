package feed_test

import (
	"sync"
	"testing"
	"time"

	"safetynet/stream/feed"
	"safetynet/stream/feedgen"
)

// benchRecords are generated feed records, by feed, and the household events intake makes of
// them: the per-event work of intake (Decode, then the event's encoding) and of the monitor (the
// event's decoding) on realistic input.
var benchRecords = sync.OnceValue(func() (r struct {
	byFeed map[string][][]byte
	events []feed.HouseholdEvent
}) {
	start := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	g := feedgen.New(feedgen.Config{Seed: 7, Households: 2000, Start: start})
	p, err := feed.NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	if err != nil {
		panic(err)
	}
	r.byFeed = map[string][][]byte{}
	add := func(ev feedgen.Event, offset int) {
		if len(r.byFeed[ev.Feed]) >= 500 {
			return
		}
		raw, derr := feed.Decode(ev.Feed, ev.Value, feed.DefaultMaxEventBytes, feed.DefaultMaxFutureSkew, now)
		if derr != nil {
			return
		}
		r.byFeed[ev.Feed] = append(r.byFeed[ev.Feed], ev.Value)
		he := p.Apply(raw)
		if he.HouseholdID == "" {
			he.HouseholdID = "H-0001234"
		}
		he.Source = feed.Source{Topic: "safetynet.feed." + ev.Feed, Partition: offset % 8, Offset: int64(offset)}
		he.ProducedAt = now.Add(-time.Duration(offset) * time.Millisecond)
		he.IngestedAt = now.Add(time.Duration(offset) * time.Microsecond)
		r.events = append(r.events, he)
	}
	for i, ev := range g.Registry() {
		add(ev, i)
	}
	for i := 0; i < 200_000 && len(r.events) < 5*500; i++ {
		add(g.Next(), i)
	}
	for _, f := range feed.Feeds {
		if len(r.byFeed[f]) == 0 {
			panic("no generated records of feed " + f)
		}
	}
	return r
})

// BenchmarkHouseholdEvent is intake's encoding and the monitor's decoding of the household
// event, one generated event (of any feed) per operation.
func BenchmarkHouseholdEvent(b *testing.B) {
	evs := benchRecords().events
	encoded := make([][]byte, len(evs))
	for i := range evs {
		v, err := feed.AppendHouseholdEvent(nil, &evs[i])
		if err != nil {
			b.Fatal(err)
		}
		encoded[i] = v
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := feed.AppendHouseholdEvent(nil, &evs[i%len(evs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("encode-batch", func(b *testing.B) { // intake's way: one EventEncoder, reset every 500 events
		b.ReportAllocs()
		enc := feed.NewEventEncoder()
		i := 0
		for b.Loop() {
			if i%500 == 0 {
				enc.Reset()
			}
			if _, err := enc.Encode(&evs[i%len(evs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		var ev feed.HouseholdEvent
		for b.Loop() {
			if err := feed.DecodeHouseholdEvent(encoded[i%len(encoded)], &ev); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkDecode is intake's validation of a feed record, per feed.
func BenchmarkDecode(b *testing.B) {
	recs := benchRecords().byFeed
	now := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range feed.Feeds {
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, derr := feed.Decode(f, recs[f][i%len(recs[f])], feed.DefaultMaxEventBytes, feed.DefaultMaxFutureSkew, now); derr != nil {
					b.Fatal(derr)
				}
				i++
			}
		})
	}
}

// BenchmarkApply is the pseudonymisation of a decoded registry record (person key and masked
// ID number).
func BenchmarkApply(b *testing.B) {
	p, err := feed.NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	var raws []feed.RawEvent
	for _, v := range benchRecords().byFeed[feed.Employment] {
		raw, derr := feed.Decode(feed.Employment, v, feed.DefaultMaxEventBytes, feed.DefaultMaxFutureSkew, now)
		if derr != nil {
			b.Fatal(derr)
		}
		raws = append(raws, raw)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = p.Apply(raws[i%len(raws)])
		i++
	}
}

// BenchmarkCheckResidentID is the validation of one ID number (check character, birth date).
func BenchmarkCheckResidentID(b *testing.B) {
	now := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if _, derr := feed.CheckResidentID("11010519491231002X", now); derr != nil {
			b.Fatal(derr)
		}
	}
}
