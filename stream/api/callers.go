package api

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// Roles of a caller. A role says which endpoints a caller may use; the caller's area prefix says
// which households those endpoints show.
const (
	// RoleCaseworker reads (and, once casework arrives, acts on) the households of its area.
	RoleCaseworker = "caseworker"
	// RoleSupervisor sees what a caseworker of its area sees, plus the statistics.
	RoleSupervisor = "supervisor"
	// RoleAuditor reads the audit trail and no household data.
	RoleAuditor = "auditor"
	// RoleOperator reads health and statistics and no household data.
	RoleOperator = "operator"
)

// Roles lists the roles in the order the docs give them.
var Roles = []string{RoleCaseworker, RoleSupervisor, RoleAuditor, RoleOperator}

// MinTokenLength is the shortest bearer token start-up accepts.
const MinTokenLength = 32

// MaxAreaDigits is the longest area prefix: a 12-digit village/community code.
const MaxAreaDigits = 12

// Caller is one named API client: its role and the area prefix it is limited to ("" for every
// area). The token itself is kept only as a hash.
type Caller struct {
	Name string
	Role string
	Area string
	hash [32]byte
}

// Covers reports whether the caller's area prefix covers area. A caller limited to an area sees
// no household whose area is not known.
func (c Caller) Covers(area string) bool {
	if c.Area == "" {
		return true
	}
	return area != "" && strings.HasPrefix(area, c.Area)
}

// can reports whether the caller's role may use an endpoint of the given kind.
func (c Caller) can(kind string) bool {
	switch kind {
	case kindHouseholds:
		return c.Role == RoleCaseworker || c.Role == RoleSupervisor
	case kindStats:
		return c.Role == RoleSupervisor || c.Role == RoleOperator
	case kindAudit:
		return c.Role == RoleAuditor
	case kindCases:
		return c.Role == RoleCaseworker || c.Role == RoleSupervisor || c.Role == RoleAuditor
	}
	return false
}

const (
	kindHouseholds = "households"
	kindStats      = "stats"
	kindAudit      = "audit"
	kindCases      = "cases" // the handlers check further (only a supervisor closes)
)

var (
	callerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	areaDigits = regexp.MustCompile(`^[0-9]+$`)
	// placeholders are words that mark a token someone meant to replace. A token containing one
	// (case and punctuation ignored) is refused.
	placeholders = []string{"changeme", "change-me", "secret", "token", "password", "passwd", "test", "example", "sample", "default", "dummy", "placeholder", "replace", "xxxx", "todo", "fixme", "letmein", "qwerty", "123456", "abcdef"}
)

// ParseCaller reads one `name:token[:role[:area_prefix]]` entry. where names the entry in an
// error (e.g. "SAFETYNET_API_TOKENS entry 2"); the error names the caller when the name is
// readable, and never contains the token.
func ParseCaller(entry, where string) (Caller, error) {
	parts := strings.Split(strings.TrimSpace(entry), ":")
	if len(parts) < 2 || len(parts) > 4 {
		return Caller{}, fmt.Errorf("%s: want name:token[:role[:area_prefix]], got %d colon-separated fields", where, len(parts))
	}
	name, token := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])
	if !callerName.MatchString(name) {
		return Caller{}, fmt.Errorf("%s: caller name must be 1–64 letters, digits, '.', '_' or '-' (starting with a letter or digit)", where)
	}
	where = fmt.Sprintf("%s (caller %q)", where, name)
	if err := checkToken(token); err != nil {
		return Caller{}, fmt.Errorf("%s: token %v", where, err)
	}
	c := Caller{Name: name, Role: RoleCaseworker, hash: sha256.Sum256([]byte(token))}
	if len(parts) > 2 && strings.TrimSpace(parts[2]) != "" {
		c.Role = strings.TrimSpace(parts[2])
		if !slices.Contains(Roles, c.Role) {
			return Caller{}, fmt.Errorf("%s: role %q is not one of %s", where, c.Role, strings.Join(Roles, ", "))
		}
	}
	if len(parts) > 3 {
		c.Area = strings.TrimSpace(parts[3])
		if c.Area != "" && (!areaDigits.MatchString(c.Area) || len(c.Area) > MaxAreaDigits) {
			return Caller{}, fmt.Errorf("%s: area prefix %q must be 1–%d digits (e.g. 4201, 420106, 420106001)", where, c.Area, MaxAreaDigits)
		}
	}
	return c, nil
}

// CheckInternalToken checks the instances' shared credential as strictly as a caller's token.
func CheckInternalToken(token string) error { return checkToken(token) }

// checkToken refuses short tokens and tokens that look like placeholders. Its errors never
// quote the token.
func checkToken(token string) error {
	if len(token) < MinTokenLength {
		return fmt.Errorf("is %d characters; at least %d are required (e.g. `openssl rand -hex 32`)", len(token), MinTokenLength)
	}
	folded := strings.ToLower(token)
	for _, p := range placeholders {
		if strings.Contains(folded, p) || strings.Contains(strings.NewReplacer("-", "", "_", "", ".", "").Replace(folded), p) {
			return fmt.Errorf("contains the placeholder word %q; generate a random one (e.g. `openssl rand -hex 32`)", p)
		}
	}
	distinct := map[rune]bool{}
	for _, r := range token {
		distinct[r] = true
	}
	if len(distinct) < 8 {
		return fmt.Errorf("uses only %d distinct characters (repeated characters are not a secret); generate a random one", len(distinct))
	}
	return nil
}

// ParseCallers reads the entries of SAFETYNET_API_TOKENS (entries) and of the tokens file (file,
// may be nil; one entry a line, `#` comments and blank lines allowed). Names and tokens must be
// unique. Errors name the variable and the entry by position and caller name.
func ParseCallers(entries []string, entriesVar string, file io.Reader, fileVar string) ([]Caller, error) {
	var out []Caller
	var errs []string
	add := func(entry, where string) {
		c, err := ParseCaller(entry, where)
		if err != nil {
			errs = append(errs, err.Error())
			return
		}
		for _, o := range out {
			if o.Name == c.Name {
				errs = append(errs, fmt.Sprintf("%s: caller %q is named twice", where, c.Name))
				return
			}
			if o.hash == c.hash {
				errs = append(errs, fmt.Sprintf("%s (caller %q): same token as caller %q; give every caller its own", where, c.Name, o.Name))
				return
			}
		}
		out = append(out, c)
	}
	n := 0
	for _, e := range entries {
		if strings.TrimSpace(e) == "" {
			continue
		}
		n++
		add(e, fmt.Sprintf("%s entry %d", entriesVar, n))
	}
	if file != nil {
		sc := bufio.NewScanner(file)
		line := 0
		for sc.Scan() {
			line++
			e := strings.TrimSpace(sc.Text())
			if e == "" || strings.HasPrefix(e, "#") {
				continue
			}
			add(e, fmt.Sprintf("%s line %d", fileVar, line))
		}
		if err := sc.Err(); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", fileVar, err))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

// NewCaller is for embedding and tests: a caller with the given token, checked as start-up
// checks one.
func NewCaller(name, token, role, area string) (Caller, error) {
	return ParseCaller(name+":"+token+":"+role+":"+area, "caller")
}
