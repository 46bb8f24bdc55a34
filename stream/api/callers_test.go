package api

import (
	"strings"
	"testing"
)

// TestParseCallers: the entry format, defaults, and every refusal; errors name the entry and
// never print the token.
func TestParseCallers(t *testing.T) {
	const good = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	for _, tc := range []struct {
		name, entry string
		want        Caller // Name, Role, Area
		err         string // substring of the error; "" for none
	}{
		{"defaults", "alice:" + good, Caller{Name: "alice", Role: RoleCaseworker}, ""},
		{"role", "bob:" + good + ":supervisor", Caller{Name: "bob", Role: RoleSupervisor}, ""},
		{"role and area", "cw-7:" + good + ":caseworker:420106001", Caller{Name: "cw-7", Role: RoleCaseworker, Area: "420106001"}, ""},
		{"empty role keeps the default", "cw:" + good + "::4201", Caller{Name: "cw", Role: RoleCaseworker, Area: "4201"}, ""},
		{"no token", "alice", Caller{}, "want name:token"},
		{"too many fields", "a:" + good + ":caseworker:4201:x", Caller{}, "5 colon-separated"},
		{"bad name", "al ice:" + good, Caller{}, "caller name"},
		{"short", "alice:0123456789abcdef", Caller{}, `(caller "alice"): token is 16 characters; at least 32`},
		{"changeme", "alice:CHANGE-ME-0123456789abcdef0123456789", Caller{}, `placeholder word "change`},
		{"changeme folded", "alice:Change_Me_0123456789abcdef0123456789", Caller{}, `placeholder word "changeme"`},
		{"password", "alice:MyPassword0123456789abcdef012345", Caller{}, `"password"`},
		{"example", "alice:example-9f8e7d6c5b4a39281706f5e4d3c2", Caller{}, `"example"`},
		{"repeated character", "alice:" + strings.Repeat("a", 40), Caller{}, "distinct characters"},
		{"repeated pair", "alice:" + strings.Repeat("ab", 20), Caller{}, "distinct characters"},
		{"bad role", "alice:" + good + ":admin", Caller{}, `role "admin" is not one of caseworker, supervisor, auditor, operator`},
		{"area with letters", "alice:" + good + ":caseworker:42A1", Caller{}, `area prefix "42A1"`},
		{"area too long", "alice:" + good + ":caseworker:4201060010011", Caller{}, "1–12 digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCaller(tc.entry, "SAFETYNET_API_TOKENS entry 1")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				if !strings.Contains(err.Error(), "SAFETYNET_API_TOKENS entry 1") {
					t.Errorf("error %q does not name the entry", err)
				}
				if tok := strings.Split(tc.entry, ":"); len(tok) > 1 && len(tok[1]) > 3 && strings.Contains(err.Error(), tok[1]) {
					t.Errorf("error %q prints the token", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tc.want.Name || got.Role != tc.want.Role || got.Area != tc.want.Area {
				t.Errorf("got %s/%s/%s, want %s/%s/%s", got.Name, got.Role, got.Area, tc.want.Name, tc.want.Role, tc.want.Area)
			}
		})
	}
}

// TestParseCallersFileAndDuplicates: the file's comments and blank lines, its line numbers in
// errors, and the refusal of a name or token given twice.
func TestParseCallersFileAndDuplicates(t *testing.T) {
	const a, b = "9f8e7d6c5b4a39281706f5e4d3c2b1a0", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	file := "# callers of district 4201\n\n  cw-1:" + b + ":caseworker:4201  \naudit:" + a + "x:auditor\n"
	cs, err := ParseCallers([]string{"sup:" + a + ":supervisor", ""}, "SAFETYNET_API_TOKENS", strings.NewReader(file), "SAFETYNET_API_TOKENS_FILE")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 || cs[1].Name != "cw-1" || cs[1].Area != "4201" || cs[2].Role != RoleAuditor {
		t.Errorf("callers %+v", cs)
	}
	_, err = ParseCallers([]string{"sup:" + a}, "SAFETYNET_API_TOKENS", strings.NewReader("# x\nsup:"+b+"\nother:"+a+"\nbad:short\n"), "SAFETYNET_API_TOKENS_FILE")
	for _, want := range []string{`SAFETYNET_API_TOKENS_FILE line 2: caller "sup" is named twice`,
		`SAFETYNET_API_TOKENS_FILE line 3 (caller "other"): same token as caller "sup"`,
		`SAFETYNET_API_TOKENS_FILE line 4 (caller "bad"): token is 5 characters`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
	if err != nil && (strings.Contains(err.Error(), a) || strings.Contains(err.Error(), b)) {
		t.Error("error prints a token")
	}
}
