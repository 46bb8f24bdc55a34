// Package feedgen generates a synthetic population of households and the raw JSON change events
// the partner agencies would publish about it: the civil-affairs registry, hospital admissions
// and discharges, pensions, employment and disability certificates, asset facts (deposits,
// provident fund payments, vehicle, property and business registrations) and aid applications
// with their declarations and decisions, in the formats of docs/feeds.md
// (the feed contract of docs/design.md). It feeds the demo, the benchmarks and the kill tests;
// stream/feedgen/produce sends its events to any Kafka cluster, and stream/feedgen/wire writes
// each event as an agency would (and the ways agencies get it wrong).
//
// A Generator is deterministic: the same Config gives the same events, byte for byte. It holds
// the whole population in memory (about 60 MB for the default 130,000 households) and is not
// safe for concurrent use.
//
// It knows nothing of the risk model: people's lives are simulated (jobs lost and found,
// admissions, pensions, disabilities, births, deaths) and households end at risk as a
// consequence, not by construction; households apply for aid by the simulation's own measure of
// need (applications.go), not the model's. It imports nothing of the project but its own wire format
// (and, through it, stream/feed's feed names).
package feedgen

import (
	"math/rand/v2"
	"time"

	"safetynet/stream/feedgen/wire"
)

// Config describes the population and the feed. Zero values take the defaults.
type Config struct {
	// Seed selects the population and its history; the same Config gives the same events.
	Seed uint64
	// Households is the number of households at the start (default 130,000, about 212,000
	// people).
	Households int
	// Start is the simulated "now": change events begin about 18 months before it and reach it
	// after some 3.5 events per person, then go on past it. Default: today, 00:00 UTC.
	Start time.Time
	// MalformedRate is the fraction of events made invalid the ways real feeds are: bad check
	// digit, missing field, wrong JSON type, impossible date, unknown type, broken JSON.
	// 0 means the default 0.002; negative means none.
	MalformedRate float64
	// DuplicateRate is the fraction of events that resend a recent event unchanged (same
	// event_id). 0 means the default 0.001; negative means none.
	DuplicateRate float64
	// UnknownPersonRate is the fraction of events about people the registry never names.
	// 0 means the default 0.0005; negative means none.
	UnknownPersonRate float64
	// NoAssets leaves out the assets feed: deposit balances, provident fund payments, vehicle,
	// property and business registrations (assets.go). Nobody then holds any.
	NoAssets bool
	// NoApplications leaves out the applications feed: aid applications with their
	// declarations and decisions (applications.go).
	NoApplications bool
	// MisstatementRate is the share of applications that hide something the household has (a
	// wage, a vehicle, a business, deposits). 0 means the default 0.2; negative means none.
	MisstatementRate float64
}

// Defaults.
const (
	DefaultHouseholds        = 130_000
	DefaultMalformedRate     = 0.002
	DefaultDuplicateRate     = 0.001
	DefaultUnknownPersonRate = 0.0005
	DefaultMisstatementRate  = 0.2
	// History is how far before Start the change events begin.
	History = 548 * 24 * time.Hour
)

// Reason codes of events that intake must dead-letter (Event.Reason).
const (
	ReasonMalformedJSON = wire.ReasonMalformedJSON
	ReasonMissingField  = wire.ReasonMissingField
	ReasonBadType       = wire.ReasonBadType
	ReasonBadValue      = wire.ReasonBadValue
	ReasonBadPersonID   = wire.ReasonBadPersonID
	ReasonBadTime       = wire.ReasonBadTime
	ReasonUnknownType   = wire.ReasonUnknownType
	// ReasonUnknownPerson marks a valid event about a person the registry never names: intake
	// parks it and dead-letters it only after its wait. Such an event is not Malformed.
	ReasonUnknownPerson = "unknown_person"
)

// Event is one raw feed event, as an agency would produce it.
type Event struct {
	// Feed is one of feed.Feeds; the caller maps it to a topic.
	Feed string
	// Key is the raw person_id as the agency keys its records (for a malformed event, whatever
	// stands in its person_id field, possibly invalid).
	Key []byte
	// Value is the JSON event. Key and Value may be shared with other events (resends); do not
	// modify them.
	Value []byte
	// Malformed events are invalid; Reason is the dead-letter reason code intake should give.
	Malformed bool
	Reason    string
	// Duplicate is a resend of an earlier event, byte for byte.
	Duplicate bool
	// UnknownPerson is a valid event about a person never in the registry (Reason
	// "unknown_person").
	UnknownPerson bool
	// Misstated, on a submitted application, names what its declaration hides (Misstated*
	// constants); empty for a true declaration and for every other event.
	Misstated string
}

// Generator produces the events. Create it with New.
type Generator struct {
	cfg   Config
	rng   *rand.Rand
	start int64 // Config.Start, Unix seconds
	ws    int64 // start of the change events, Unix seconds
	now   int64 // occurred_at of the last simulated event

	households     []household
	persons        []person
	initialPersons int
	ids            map[[18]byte]struct{}
	unknown        [][18]byte

	queue     eventHeap
	admission uint64

	assets    []asset // every registered vehicle, property and business, ever
	assetSeq  uint32
	appSeq    uint64
	apps      int // applications submitted, and those with something to hide
	canHide   int
	misstated string // of the application the last simulated event submitted

	ring    [ringSize]ringItem // recent valid events, for resends and for corrupting
	ringLen int
	ringPos int

	enc *wire.Encoder // numbers the events per feed and writes them
	rec wire.Record
}

const ringSize = 1024

type ringItem struct {
	rec wire.Record
	ev  Event
}

// New builds the population of cfg.
func New(cfg Config) *Generator {
	if cfg.Households <= 0 {
		cfg.Households = DefaultHouseholds
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Now().UTC().Truncate(24 * time.Hour)
	}
	cfg.MalformedRate = rateOrDefault(cfg.MalformedRate, DefaultMalformedRate)
	cfg.DuplicateRate = rateOrDefault(cfg.DuplicateRate, DefaultDuplicateRate)
	cfg.UnknownPersonRate = rateOrDefault(cfg.UnknownPersonRate, DefaultUnknownPersonRate)
	cfg.MisstatementRate = rateOrDefault(cfg.MisstatementRate, DefaultMisstatementRate)
	g := &Generator{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x5afe7e1e_5afe7e1e)),
		start: cfg.Start.Unix(),
	}
	g.ws = g.start - int64(History/time.Second)
	g.now = g.ws
	g.enc = wire.NewEncoder(hex6(splitmix(cfg.Seed))) // per-seed part of event ids: two seeds never share one
	g.queue = make(eventHeap, 0, cfg.Households*3)
	g.buildPopulation(cfg.Households)
	g.enc.Skip(feedRegistry, uint64(g.initialPersons)) // Registry numbers the initial population
	return g
}

func rateOrDefault(r, def float64) float64 {
	switch {
	case r < 0:
		return 0
	case r == 0:
		return def
	case r > 1:
		return 1
	}
	return r
}

// Config returns the configuration with defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Population returns the number of households and people at the start of the history.
func (g *Generator) Population() (households, people int) {
	return len(g.households), g.initialPersons
}

// Now returns the simulated clock: the occurred_at of the latest change event from Next.
func (g *Generator) Now() time.Time { return time.Unix(g.now, 0).UTC() }

// Registry returns a member_joined event for every person of the initial population, household
// by household, dated before the change events. Produce it before anything from Next so that
// the person table exists when other feeds name people. It does not change the Generator and
// returns the same events every time.
func (g *Generator) Registry() []Event {
	out := make([]Event, 0, g.initialPersons)
	var r wire.Record
	for i := 0; i < g.initialPersons; i++ {
		p := &g.persons[i]
		r = wire.Record{
			Feed:  feedRegistry,
			Type:  "member_joined",
			Seq:   uint64(i) + 1,
			PID:   p.id,
			HH:    g.households[p.hh].id,
			Area:  g.households[p.hh].areaCode(),
			At:    g.joinTime(i),
			Birth: int64(p.birth),
			Sex:   p.sex,
			Rel:   p.rel,
		}
		out = append(out, g.encode(&r, nil))
	}
	return out
}

// joinTime is when person i of the initial population entered the registry: within the two
// years before the change events, never before birth. It is a hash of the index, so that
// Registry leaves the random stream alone.
func (g *Generator) joinTime(i int) int64 {
	h := splitmix(g.cfg.Seed ^ uint64(i)*0x9e3779b97f4a7c15)
	t := g.ws - 30*secondsPerDay - int64(h%(700*secondsPerDay))
	if b := daysToSec(int64(g.persons[i].birth)) + 3600*9; t < b {
		t = b
	}
	return t
}

// Next returns the next change event. Valid events come in order of occurred_at; malformed
// events, resends and events about unknown people are mixed in at the configured rates.
func (g *Generator) Next() Event {
	if g.ringLen > 0 {
		u := g.rng.Float64()
		m, d := g.cfg.MalformedRate, g.cfg.DuplicateRate
		switch {
		case u < m:
			return g.malformed()
		case u < m+d:
			it := &g.ring[g.rng.IntN(g.ringLen)]
			ev := it.ev
			ev.Duplicate = true
			return ev
		case u < m+d+g.cfg.UnknownPersonRate:
			return g.unknownPerson()
		}
	}
	g.misstated = ""
	g.simulate(&g.rec)
	ev := g.encode(&g.rec, nil)
	ev.Misstated = g.misstated
	it := &g.ring[g.ringPos]
	it.rec, it.ev = g.rec, ev
	g.ringPos = (g.ringPos + 1) % ringSize
	if g.ringLen < ringSize {
		g.ringLen++
	}
	return ev
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func hex6(x uint64) string {
	const digits = "0123456789abcdef"
	var b [6]byte
	for i := range b {
		b[i] = digits[x>>(4*i)&0xf]
	}
	return string(b[:])
}

// feed indexes (package wire's), in the order of feed.Feeds.
const (
	feedRegistry     = wire.Registry
	feedHospital     = wire.Hospital
	feedPension      = wire.Pension
	feedEmployment   = wire.Employment
	feedDisability   = wire.Disability
	feedApplications = wire.Applications
	feedAssets       = wire.Assets
)

const secondsPerDay = 86400

// encode writes rec (numbering it if it is not yet), applying mut if not nil.
func (g *Generator) encode(rec *wire.Record, mut *wire.Mutation) Event {
	f, k, v := g.enc.Encode(rec, mut)
	return Event{Feed: f, Key: k, Value: v}
}
