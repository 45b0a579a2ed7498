package main

import (
	"fmt"

	"github.com/loopml/loopml/httpapi"
	"github.com/spf13/cobra"
)

func newEndpointsListCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the stored serving endpoints",
		Example: `  loopml endpoints list -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			list, err := svc.endpoints.ListEndpoints(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				views := []endpointView{}
				for _, e := range list {
					views = append(views, httpapi.ToEndpointJSON(e))
				}
				return writeJSON(out, views)
			}
			tw := newTable(out)
			fmt.Fprintln(tw, "NAME\tTARGETS\tSHADOW\tSTICKY\tDEFAULT\tROLLOUT")
			for _, e := range list {
				ro := "-"
				if e.Rollout != nil {
					ro = e.Rollout.State + " -> " + e.Rollout.Candidate
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, fmtTargets(e.Targets), fmtShadow(e.Shadow), orDash(e.StickyHeader), fmtActive(e.Default), ro)
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}

func newEndpointsShowCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "show NAME",
		Short:   "Show a serving endpoint and its rollout",
		Example: `  loopml endpoints show recs`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			e, err := svc.endpoints.GetEndpoint(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printEndpoint(cmd.OutOrStdout(), o.output, e)
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}

func newEndpointsDeleteCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete a serving endpoint (servers stop serving it within a second)",
		Example: `  loopml endpoints delete recs`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			if err := svc.endpoints.DeleteEndpoint(cmd.Context(), args[0]); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, map[string]string{"name": args[0]})
			}
			_, err = fmt.Fprintf(out, "Deleted endpoint %s\n", args[0])
			return err
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}
