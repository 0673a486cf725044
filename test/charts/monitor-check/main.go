// monitor-check decodes ServiceMonitor and PodMonitor objects, one JSON object a
// line on stdin, into prometheus-operator's own API types
// (pkg/apis/monitoring/v1) with unknown fields refused, so a misspelt or
// misplaced field, or a value of the wrong type, in the chart's templates is an
// error. The CRDs' OpenAPI patterns and enums are not checked here. It prints
// one JSON array of error strings ("" for an object that decoded).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
)

func decode(line []byte) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(line, &head); err != nil {
		return err
	}
	if head.APIVersion != "monitoring.coreos.com/v1" {
		return fmt.Errorf("apiVersion %q is not monitoring.coreos.com/v1", head.APIVersion)
	}
	var target any
	switch head.Kind {
	case "ServiceMonitor":
		target = &monitoringv1.ServiceMonitor{}
	case "PodMonitor":
		target = &monitoringv1.PodMonitor{}
	default:
		return fmt.Errorf("kind %q is neither ServiceMonitor nor PodMonitor", head.Kind)
	}
	decoder := json.NewDecoder(bytes.NewReader(line))
	decoder.DisallowUnknownFields()
	return decoder.Decode(target)
}

func main() {
	results := []string{}
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for scanner.Scan() {
		if len(bytes.TrimSpace(scanner.Bytes())) == 0 {
			continue
		}
		if err := decode(scanner.Bytes()); err != nil {
			results = append(results, err.Error())
		} else {
			results = append(results, "")
		}
	}
	if err := scanner.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
