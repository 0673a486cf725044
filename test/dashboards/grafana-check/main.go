// grafana-check decodes Grafana dashboard JSON files with the Grafana
// Foundation SDK's strict decoder (dashboard.Dashboard.UnmarshalJSONStrict,
// generated from Grafana's dashboard schema), with every panel and data-query
// plugin the SDK knows registered so that panel options and Prometheus targets
// are decoded strictly too, then runs the schema's constraints (Validate). A
// missing required field, a field of the wrong type or a field the schema does
// not have is an error. It prints, per file, the schema version the file
// declares and every error, as JSON; the SDK's own schema version comes first.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

type result struct {
	SchemaVersion uint16   `json:"schemaVersion"`
	Errors        []string `json:"errors"`
}

type report struct {
	SDKSchemaVersion uint16            `json:"sdkSchemaVersion"`
	Files            map[string]result `json:"files"`
}

func main() {
	plugins.RegisterDefaultPlugins()
	out := report{SDKSchemaVersion: dashboard.NewDashboard().SchemaVersion, Files: map[string]result{}}
	for _, file := range os.Args[1:] {
		raw, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		var board dashboard.Dashboard
		res := result{Errors: []string{}}
		if err := board.UnmarshalJSONStrict(raw); err != nil {
			res.Errors = append(res.Errors, messages(err)...)
		} else if err := board.Validate(); err != nil {
			res.Errors = append(res.Errors, messages(err)...)
		}
		res.SchemaVersion = board.SchemaVersion
		out.Files[file] = res
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

// messages splits the SDK's error list into one line per problem, each with its path.
func messages(err error) []string {
	var list cog.BuildErrors
	if errors.As(err, &list) {
		lines := make([]string, 0, len(list))
		for _, e := range list {
			lines = append(lines, e.Error())
		}
		return lines
	}
	return []string{err.Error()}
}
