package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// serviceMetrics reads the values of series from one fetch of the service's /metrics at addr,
// in the order named. A series is named as the page spells it: the metric's name, then its
// labels if it has any (`name{label="value"}`).
func serviceMetrics(ctx context.Context, addr string, series ...string) ([]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	values, found := make([]float64, len(series)), 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for i, name := range series {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				if values[i], err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
					return nil, fmt.Errorf("/metrics %s: %w", name, err)
				}
				found++
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if found < len(series) {
		return nil, fmt.Errorf("/metrics lacks some of %v", series)
	}
	return values, nil
}
