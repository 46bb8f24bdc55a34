package household

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// filler sets every field reachable from a value to a non-zero value, each one different from
// the others, so that a field the binary codec forgets, or two fields it swaps, come back
// changed. A field of a kind it does not know is an error: the test is then taught to fill it,
// rather than passing over the field.
type filler struct {
	n    int
	errs []string
}

func (f *filler) next() int { f.n++; return f.n }

func (f *filler) fill(v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			n := f.next()
			if strings.HasSuffix(path, ".BirthDate") {
				// Birth dates are kept to the month past intake (privacy): the first of a
				// distinct month.
				v.Set(reflect.ValueOf(time.Date(1950+n, time.Month(1+n%12), 1, 0, 0, 0, 0, time.UTC)))
				return
			}
			// Whole seconds plus distinct nanoseconds, in UTC: the form Decode gives back.
			v.Set(reflect.ValueOf(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n)*time.Hour + time.Duration(n))))
			return
		}
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				f.errs = append(f.errs, fmt.Sprintf("%s.%s: unexported field; the test cannot set it", path, sf.Name))
				continue
			}
			f.fill(v.Field(i), path+"."+sf.Name)
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem(), path)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			f.fill(s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			f.fill(k, path+"[key]")
			e := reflect.New(v.Type().Elem()).Elem()
			f.fill(e, path+"[]")
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", f.next()))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(f.next()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(f.next()))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(f.next()) + 0.25)
	default:
		f.errs = append(f.errs, fmt.Sprintf("%s: kind %s; teach the test to fill it", path, v.Kind()))
	}
}

// zeroFields lists the fields reachable from v that are still zero.
func zeroFields(v reflect.Value, path string, out *[]string) {
	if v.IsZero() {
		*out = append(*out, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			zeroFields(v.Field(i), path+"."+v.Type().Field(i).Name, out)
		}
	case reflect.Pointer:
		zeroFields(v.Elem(), path, out)
	case reflect.Slice:
		for i := range v.Len() {
			zeroFields(v.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			zeroFields(it.Value(), fmt.Sprintf("%s[%v]", path, it.Key()), out)
		}
	}
}

// Every field of Household, Person, Fact and AlertRef, set by reflection, survives the binary
// form: a field added to one of them that the codec does not write or read fails here.
func TestHouseholdCodecEncodesEveryField(t *testing.T) {
	var h Household
	f := &filler{}
	f.fill(reflect.ValueOf(&h).Elem(), "Household")
	for _, e := range f.errs {
		t.Error(e)
	}
	var unset []string
	zeroFields(reflect.ValueOf(h), "Household", &unset)
	if len(unset) > 0 {
		t.Fatalf("the filler left fields zero: %v", unset)
	}
	// The walk reaches every struct the codec writes.
	for _, typ := range []reflect.Type{reflect.TypeFor[Person](), reflect.TypeFor[Fact](), reflect.TypeFor[AlertRef]()} {
		if !reaches(reflect.TypeFor[Household](), typ, map[reflect.Type]bool{}) {
			t.Errorf("Household no longer contains %s: walk it separately", typ)
		}
	}

	b, err := Encode(&h)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, &h) {
		var lost []string
		diffFields(reflect.ValueOf(got).Elem(), reflect.ValueOf(&h).Elem(), "Household", &lost)
		if len(lost) > 8 {
			lost = append(lost[:8], fmt.Sprintf("and %d more", len(lost)-8))
		}
		t.Fatalf("fields lost or changed by Encode/Decode: %s", strings.Join(lost, ", "))
	}
}

func reaches(from, to reflect.Type, seen map[reflect.Type]bool) bool {
	if from == to {
		return true
	}
	if seen[from] {
		return false
	}
	seen[from] = true
	switch from.Kind() {
	case reflect.Pointer, reflect.Slice:
		return reaches(from.Elem(), to, seen)
	case reflect.Map:
		return reaches(from.Key(), to, seen) || reaches(from.Elem(), to, seen)
	case reflect.Struct:
		for i := range from.NumField() {
			if reaches(from.Field(i).Type, to, seen) {
				return true
			}
		}
	}
	return false
}

// diffFields names the leaf fields that differ, for the failure message.
func diffFields(got, want reflect.Value, path string, out *[]string) {
	if reflect.DeepEqual(got.Interface(), want.Interface()) {
		return
	}
	switch want.Kind() {
	case reflect.Struct:
		if want.Type() != reflect.TypeFor[time.Time]() {
			for i := range want.NumField() {
				diffFields(got.Field(i), want.Field(i), path+"."+want.Type().Field(i).Name, out)
			}
			return
		}
	case reflect.Pointer:
		if !got.IsNil() && !want.IsNil() {
			diffFields(got.Elem(), want.Elem(), path, out)
			return
		}
	case reflect.Slice:
		if got.Len() == want.Len() {
			for i := range want.Len() {
				diffFields(got.Index(i), want.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
			}
			return
		}
	case reflect.Map:
		it := want.MapRange()
		for it.Next() {
			if g := got.MapIndex(it.Key()); g.IsValid() {
				diffFields(g, it.Value(), fmt.Sprintf("%s[%v]", path, it.Key()), out)
			} else {
				*out = append(*out, fmt.Sprintf("%s[%v] (missing)", path, it.Key()))
			}
		}
		return
	}
	*out = append(*out, path)
}
