package dynupstream

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits of a dyups body.
const (
	// MaxDyupsBody is the largest body POST /resty/upstreams/NAME reads.
	MaxDyupsBody  = 1 << 20
	maxStatements = 10000
	maxStmtTokens = 32
)

// ParseDyups parses the body of an nginx dyups update
// (ngx_http_dyups_module's POST /upstream/NAME): statements ended by `;`,
// such as
//
//	server 10.0.0.1:80 weight=2; server 10.0.0.2:80 backup;
//
// with the directives of the Caddyfile's upstream block (server,
// health_check, lb_policy, and nginx's least_conn, ip_hash, random and
// hash $http_NAME / $cookie_NAME). Words are separated by white space;
// a word may be quoted with " or '; `#` starts a comment that runs to
// the end of the line; the `;` of the last statement may be left out.
// The body must name at least one server. The result is validated.
func ParseDyups(body string) (*ClusterConfig, error) {
	stmts, err := splitDyups(body)
	if err != nil {
		return nil, err
	}
	c := new(ClusterConfig)
	for _, st := range stmts {
		if err := applyDirective(c, st.words); err != nil {
			return nil, fmt.Errorf("line %d: %w", st.line, err)
		}
	}
	if len(c.Servers) == 0 {
		return nil, errors.New("no server in the body (want `server ADDR [weight=N] …;`)")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

type statement struct {
	line  int
	words []string
}

// splitDyups splits a dyups body into statements.
func splitDyups(body string) ([]statement, error) {
	var (
		stmts []statement
		cur   statement
		word  strings.Builder
		in    bool // inside a word
		line  = 1
	)
	endWord := func() error {
		if !in {
			return nil
		}
		if len(cur.words) == maxStmtTokens {
			return fmt.Errorf("line %d: too many words in one statement", line)
		}
		if len(cur.words) == 0 {
			cur.line = line
		}
		cur.words = append(cur.words, word.String())
		word.Reset()
		in = false
		return nil
	}
	endStmt := func() error {
		if len(cur.words) == 0 {
			return fmt.Errorf("line %d: unexpected ';'", line)
		}
		if len(stmts) == maxStatements {
			return fmt.Errorf("line %d: too many statements", line)
		}
		stmts = append(stmts, cur)
		cur = statement{}
		return nil
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if err := endWord(); err != nil {
				return nil, err
			}
			if c == '\n' {
				line++
			}
		case c == '#':
			if err := endWord(); err != nil {
				return nil, err
			}
			for i+1 < len(body) && body[i+1] != '\n' {
				i++
			}
		case c == ';':
			if err := endWord(); err != nil {
				return nil, err
			}
			if err := endStmt(); err != nil {
				return nil, err
			}
		case c == '{' || c == '}':
			return nil, fmt.Errorf("line %d: unexpected %q: a dyups body has no blocks", line, c)
		case c == '"' || c == '\'':
			if in {
				return nil, fmt.Errorf("line %d: unexpected quote inside a word", line)
			}
			end := strings.IndexByte(body[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated quoted word", line)
			}
			quoted := body[i+1 : i+1+end]
			line += strings.Count(quoted, "\n")
			word.WriteString(quoted)
			in = true
			i += end + 1
			if i+1 < len(body) && !isDyupsSeparator(body[i+1]) {
				return nil, fmt.Errorf("line %d: unexpected character after a quoted word", line)
			}
		case c < ' ' || c == 0x7f:
			return nil, fmt.Errorf("line %d: unexpected control character %q", line, c)
		default:
			word.WriteByte(c)
			in = true
		}
	}
	if err := endWord(); err != nil {
		return nil, err
	}
	if len(cur.words) > 0 {
		if err := endStmt(); err != nil {
			return nil, err
		}
	}
	return stmts, nil
}

func isDyupsSeparator(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '#'
}

// FormatDyups writes c as a dyups body, one statement per line; ParseDyups
// reads it back to the same configuration.
func FormatDyups(c *ClusterConfig) string {
	var b strings.Builder
	for _, s := range c.Servers {
		b.WriteString("server ")
		b.WriteString(s.Address)
		if s.Weight != 0 {
			b.WriteString(" weight=" + strconv.Itoa(s.Weight))
		}
		if s.MaxFails != nil {
			b.WriteString(" max_fails=" + strconv.Itoa(*s.MaxFails))
		}
		if !s.FailTimeout.IsZero() {
			b.WriteString(" fail_timeout=" + s.FailTimeout.String())
		}
		if s.Backup {
			b.WriteString(" backup")
		}
		if s.Down {
			b.WriteString(" down")
		}
		if s.Drain {
			b.WriteString(" drain")
		}
		b.WriteString(";\n")
	}
	if h := c.HealthCheck; h != nil {
		b.WriteString("health_check " + h.Path)
		if h.Host != "" {
			b.WriteString(" host=" + h.Host)
		}
		if !h.Interval.IsZero() {
			b.WriteString(" interval=" + h.Interval.String())
		}
		if !h.Timeout.IsZero() {
			b.WriteString(" timeout=" + h.Timeout.String())
		}
		if h.Expect != "" {
			b.WriteString(" expect=" + string(h.Expect))
		}
		if h.HealthyThreshold != 0 {
			b.WriteString(" passes=" + strconv.Itoa(h.HealthyThreshold))
		}
		if h.UnhealthyThreshold != 0 {
			b.WriteString(" fails=" + strconv.Itoa(h.UnhealthyThreshold))
		}
		b.WriteString(";\n")
	}
	if p := c.LBPolicy; p != nil {
		b.WriteString("lb_policy " + p.Policy)
		switch {
		case p.Field != "":
			b.WriteString(" " + quoteWord(p.Field))
		case p.Name != "":
			b.WriteString(" " + quoteWord(p.Name))
		}
		b.WriteString(";\n")
	}
	return b.String()
}

// quoteWord quotes a word of a dyups body that has a character the
// tokenizer would take as syntax. (Validated configurations have such
// characters only in header and cookie names, which never hold '"'.)
func quoteWord(w string) string {
	if strings.ContainsAny(w, " \t\r\n;#\"'{}") {
		if !strings.Contains(w, `"`) {
			return `"` + w + `"`
		}
		return "'" + w + "'"
	}
	return w
}
