package state

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/klauspost/compress/s2"
)

// An alert past its retention is no longer listed; one within it is.
func TestAlertIndexRetention(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	retention := 3 * 365 * 24 * time.Hour
	old, recent := now.Add(-retention-time.Hour), now.Add(-time.Hour)
	err = s.Update(func(tx *Tx) error {
		if err := tx.IndexAlertUntil(old, "old", []byte(`{"alert_id":"old"}`), old.Add(retention)); err != nil {
			return err
		}
		return tx.IndexAlertUntil(recent, "recent", []byte(`{"alert_id":"recent"}`), recent.Add(retention))
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := s.Alerts(nil, func(_, v []byte) bool { got = append(got, string(v)); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != `{"alert_id":"recent"}` {
		t.Errorf("alerts listed %q, want only the recent one", got)
	}
}

// The alert index stores its values compressed and gives them back as they were given; entries
// written by earlier versions (S2 without the dictionary, or no compression at all) are read as
// they are, and the audit walk (EachRecord) sees the alert as given, not its compressed bytes.
func TestAlertIndexCompressed(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	// an alert that is not in the dictionary: another household, score, reasons and cause
	alert := []byte(`{"alert_id":"5e0c2a9d7b1f4c3e8a6d2b0f9c1e7a34","household_id":"H330100042","area_code":"330106001002","status":"raised","level":"watch","previous_level":"none","episode":3,"score":31.2,"threshold":30,"summary":"WATCH raised household H330100042: score 31.2 (above the watch line 30.0) — 1 of 2 members unemployed for 7 months; per-capita income ¥1,120 a month, 1.12 times the minimum living standard","dimensions":[{"name":"demographic","score":20,"weight":0.15},{"name":"income","score":52.4,"weight":0.25},{"name":"employment","score":60,"weight":0.15},{"name":"health","score":0,"weight":0.2},{"name":"disability","score":0,"weight":0.1},{"name":"rigid_expenditure","score":8,"weight":0.15}],"reasons":[{"code":"employment.unemployed","dimension":"employment","points":60,"contribution":9,"zh":"2 名劳动年龄成员中 1 人失业 7 个月","en":"1 of 2 members unemployed for 7 months"},{"code":"income.per_capita","dimension":"income","points":52.4,"contribution":13.1,"zh":"人均月收入 1120 元，为低保标准的 1.12 倍","en":"per-capita income ¥1,120 a month, 1.12 times the minimum living standard"}],"triggers":[],"cause":{"kind":"event","event_id":"emp-20261130-88231","feed":"employment","topic":"safetynet.feed.employment","partition":1,"offset":5521},"model_version":"default-2025.1","event_time":"2026-11-30T08:00:00Z","assessed_at":"2026-11-30T08:00:00.412Z","emitted_at":"2026-11-30T08:00:00.420Z"}`)
	s2Only := []byte(`{"alert_id":"s2","summary":"` + strings.Repeat("人均收入低于低保标准 per-capita income below the standard; ", 30) + `"}`)
	plain := []byte(`{"alert_id":"plain"}`)
	err = s.Update(func(tx *Tx) error {
		if err := tx.IndexAlertUntil(now, "new", alert, now.Add(time.Hour)); err != nil {
			return err
		}
		// as the index wrote alerts before it had a dictionary, and before it compressed them
		if err := tx.txn.SetEntry(badger.NewEntry(AlertKey(now.Add(-time.Second), "s2"), s2.Encode(nil, s2Only)).WithMeta(metaS2)); err != nil {
			return err
		}
		return tx.txn.SetEntry(badger.NewEntry(AlertKey(now.Add(-2*time.Second), "plain"), plain))
	})
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	if err := s.Alerts(nil, func(_, v []byte) bool { got = append(got, v); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !bytes.Equal(got[0], alert) || !bytes.Equal(got[1], s2Only) || !bytes.Equal(got[2], plain) {
		t.Fatalf("alerts listed %q, want the new alert as given, then the two older ones", got)
	}
	usage, err := s.Usage()
	if err != nil {
		t.Fatal(err)
	}
	// S2 alone takes this alert to 61% of its size; with the dictionary it is under a third
	stored := int64(len(s2.Encode(nil, s2Only)) + len(plain))
	for _, u := range usage {
		if u.Kind == "alert index" && u.Bytes-stored > int64(len(alert)/3) {
			t.Errorf("the alert index takes %d bytes for an alert of %d: the dictionary is not used", u.Bytes-stored, len(alert))
		}
	}
	var audited bool
	err = s.EachRecord(func(k, v []byte) error {
		audited = audited || bytes.Equal(v, alert)
		return nil
	})
	if err != nil || !audited {
		t.Errorf("EachRecord did not give the alert as given (err %v)", err)
	}
}

// The alerts stored with the dictionary can only be read with the same bytes: a changed
// alertdict1.jsonl would make them unreadable. A better dictionary is a new file with a new mark.
func TestAlertDictionaryUnchanged(t *testing.T) {
	const want = "ccf929a399cc29952c55a4770a3674563261a6c1158842bff0c37c0807749799"
	if got := fmt.Sprintf("%x", sha256.Sum256(alertDict1Text)); got != want {
		t.Fatalf("alertdict1.jsonl has changed (sha256 %s, was %s): alerts stored with it could no longer be read; restore it and add a new dictionary beside it", got, want)
	}
}
