package household

import (
	"reflect"
	"testing"
	"time"
)

// TestCaseSummarySameSeesEveryField: the monitor rewrites a case's index entry only when Same
// says its summary changed, so a field Same does not compare would leave the index stale. Each
// field is changed alone and must make the summaries differ.
func TestCaseSummarySameSeesEveryField(t *testing.T) {
	base := CaseSummary{OpenedAt: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	if !base.Same(&base) {
		t.Fatal("a summary differs from itself")
	}
	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		other := base
		f := reflect.ValueOf(&other).Elem().Field(i)
		switch v := f.Addr().Interface().(type) {
		case *string:
			*v = "x"
		case *int:
			*v = 7
		case *bool:
			*v = true
		case *[]string:
			*v = []string{"income"}
		case *time.Time:
			*v = base.OpenedAt.Add(time.Hour)
		default:
			t.Fatalf("field %s: type %s not handled by this test; teach it and Same", typ.Field(i).Name, f.Type())
		}
		if base.Same(&other) || other.Same(&base) {
			t.Errorf("Same does not compare field %s", typ.Field(i).Name)
		}
	}
	sameInstant := base
	sameInstant.OpenedAt = base.OpenedAt.In(time.FixedZone("CST", 8*3600))
	if !base.Same(&sameInstant) {
		t.Error("the same instant in another zone counts as a change")
	}
}
