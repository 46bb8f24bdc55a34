package contracts

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"safetynet/stream/feed"
	"safetynet/stream/topics"
)

// block is one fenced code block of a Markdown file.
type block struct {
	file   string
	line   int    // of the opening fence
	lang   string // info string
	schema string // from a <!-- schema: X --> comment just before the fence
	body   []string
}

var schemaComment = regexp.MustCompile(`^<!--\s*schema:\s*(\S+)\s*-->$`)

func codeBlocks(t *testing.T, file string) []block {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []block
	var cur *block
	prev := ""
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &block{file: file, line: i + 1, lang: strings.TrimPrefix(trimmed, "```")}
			if m := schemaComment.FindStringSubmatch(prev); m != nil {
				cur.schema = m[1]
			}
		case cur != nil && trimmed == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.body = append(cur.body, line)
		}
		if trimmed != "" {
			prev = trimmed
		}
	}
	return out
}

var kcatTopic = regexp.MustCompile(`kcat\b.*\s-t\s+(\S+)`)

// kcatRecords finds the records a shell block produces with kcat: lines "key|{json}" (a heredoc
// after `kcat … -P`, or echoed into a kcat on the next line), with the topic they go to.
func kcatRecords(b block) (records []struct {
	topic, value string
	line         int
}) {
	for i, line := range b.body {
		start, end := strings.Index(line, "{"), strings.LastIndex(line, "}")
		if start < 0 || end < start || !strings.Contains(line[:start], "|") {
			continue
		}
		topic := ""
		for j := i; j >= 0 && topic == ""; j-- { // the heredoc's kcat, or this line's
			if m := kcatTopic.FindStringSubmatch(b.body[j]); m != nil && strings.Contains(b.body[j], "-P") {
				topic = m[1]
			}
			if j < i && strings.TrimSpace(b.body[j]) == "EOF" {
				break
			}
		}
		for j := i + 1; j < len(b.body) && topic == ""; j++ { // echo '…' | kcat on the next line
			if m := kcatTopic.FindStringSubmatch(b.body[j]); m != nil && strings.Contains(b.body[j], "-P") {
				topic = m[1]
			}
		}
		records = append(records, struct {
			topic, value string
			line         int
		}{topic, line[start : end+1], b.line + 1 + i})
	}
	return records
}

// TestDocExamples: every JSON example in the docs validates against the schema its comment
// names, and every record the README and docs produce with kcat validates against its feed's
// schema and passes the decoder.
func TestDocExamples(t *testing.T) {
	s := loadSchemas(t)
	files, err := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(repo, "README.md"))
	topics := topics.Default()
	jsonBlocks, kcat := 0, 0
	for _, f := range files {
		for _, b := range codeBlocks(t, f) {
			where := filepath.Base(b.file) + ":" + strconv.Itoa(b.line)
			switch b.lang {
			case "json":
				jsonBlocks++
				if b.schema == "" {
					t.Errorf("%s: a JSON example without a <!-- schema: … --> comment before it", where)
					continue
				}
				if err := s.Validate("schemas/"+b.schema, []byte(strings.Join(b.body, "\n"))); err != nil {
					t.Errorf("%s: example does not match %s: %v", where, b.schema, err)
				}
				if strings.HasPrefix(b.schema, "feeds/") {
					name := strings.TrimSuffix(strings.TrimPrefix(b.schema, "feeds/"), ".schema.json")
					if _, derr := feed.Decode(name, []byte(strings.Join(b.body, "\n")), feed.DefaultMaxEventBytes, feed.DefaultMaxFutureSkew, time.Now()); derr != nil {
						t.Errorf("%s: the decoder refuses the example: %v", where, derr)
					}
				}
			case "sh", "bash", "":
				for _, r := range kcatRecords(b) {
					kcat++
					name, ok := topics.FeedOf(r.topic)
					if !ok {
						t.Errorf("%s:%d: kcat produces to %q, not a feed topic", filepath.Base(b.file), r.line, r.topic)
						continue
					}
					if err := s.Validate("schemas/feeds/"+name+".schema.json", []byte(r.value)); err != nil {
						t.Errorf("%s:%d: %s record does not match its schema: %v", filepath.Base(b.file), r.line, name, err)
					}
					if name == feed.Casework {
						if _, derr := feed.DecodeCasework([]byte(r.value), feed.DefaultMaxEventBytes, feed.DefaultMaxFutureSkew, time.Now()); derr != nil {
							t.Errorf("%s:%d: the decoder refuses the casework record: %v", filepath.Base(b.file), r.line, derr)
						}
					} else if _, derr := feed.Decode(name, []byte(r.value), feed.DefaultMaxEventBytes, feed.DefaultMaxFutureSkew, time.Now()); derr != nil {
						t.Errorf("%s:%d: the decoder refuses the %s record: %v", filepath.Base(b.file), r.line, name, derr)
					}
				}
			}
		}
	}
	// README: 2 kcat records; feeds.md: 1 kcat record, 5 feed, 1 household-event, 1 dead-letter
	// JSON examples; alerts.md: 1 alert.
	if jsonBlocks < 8 || kcat < 3 {
		t.Errorf("found %d JSON examples and %d kcat records in the docs, want at least 8 and 3", jsonBlocks, kcat)
	}
	t.Logf("%d JSON examples, %d kcat records", jsonBlocks, kcat)
}
