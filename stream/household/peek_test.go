package household

import "testing"

func TestPartitionOf(t *testing.T) {
	for _, tc := range []struct {
		name      string
		id        string
		partition int
	}{{"zero", "H-1", 0}, {"large", "H-with-a-longer-id-" + string(make([]byte, 200)), 1023}, {"one", "", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Encode(New(tc.id, tc.partition))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := PartitionOf(v)
			if !ok || got != tc.partition {
				t.Errorf("PartitionOf = %d, %v; want %d", got, ok, tc.partition)
			}
			if _, ok := PartitionOf(v[:2]); ok && len(tc.id) > 1 {
				t.Errorf("truncated value read as a partition")
			}
		})
	}
	if _, ok := PartitionOf([]byte(`{"id":"H"}`)); ok {
		t.Error("JSON value read as binary")
	}
}
