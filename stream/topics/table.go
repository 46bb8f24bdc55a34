package topics

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable prints a plan as a table: name, partitions, replication, configs, purpose.
func WriteTable(w io.Writer, plan []Topic) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tREPLICATION\tCONFIGS\tWHAT")
	for _, t := range plan {
		parts := fmt.Sprint(t.Partitions)
		if t.CoPartitioned {
			parts += " (co-partitioned)"
		}
		var cfg []string
		for _, k := range []string{"cleanup.policy", "retention.ms", "min.insync.replicas"} {
			if v, ok := t.Configs[k]; ok {
				cfg = append(cfg, k+"="+v)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", t.Name, parts, t.ReplicationFactor, strings.Join(cfg, " "), t.Description)
	}
	tw.Flush()
}
