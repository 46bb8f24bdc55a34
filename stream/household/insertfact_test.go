package household

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

// insertFact keeps the newest keep facts in stamp order, whatever order they arrive in, and a
// full list (replaced in its own array) ends up as an insert followed by a trim would leave it.
func TestInsertFactKeepsTheNewest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for round := range 200 {
		keep := 1 + r.IntN(8)
		var got []Fact
		var all []Fact
		for n := range 40 {
			f := Fact{At: base.Add(time.Duration(r.IntN(30)) * time.Hour), ID: "e" + strconv.Itoa(r.IntN(60))}
			if n%3 == 0 {
				// a list as the decoder gives it: capacity equal to its length
				got = got[:len(got):len(got)]
			}
			insertFact(&got, f, keep)
			if !slices.ContainsFunc(all, func(g Fact) bool { return g.At.Equal(f.At) && g.ID == f.ID }) {
				all = append(all, f)
			}
			want := slices.Clone(all)
			slices.SortFunc(want, compareFacts)
			// every fact older than one dropped for room was refused or dropped too
			if len(want) > keep {
				want = want[len(want)-keep:]
			}
			if !slices.EqualFunc(got, want, func(a, b Fact) bool { return a.At.Equal(b.At) && a.ID == b.ID }) {
				t.Fatalf("round %d, keep %d, after %d facts:\n got %v\nwant %v", round, keep, n+1, got, want)
			}
		}
	}
}
