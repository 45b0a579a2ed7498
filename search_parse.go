package loopml

// TEMPORARY: replaced by the real parser (being written concurrently).

// ParseRunFilter parses an MLflow run search filter.
func ParseRunFilter(filter string) ([]Comparison, error) {
	if filter == "" {
		return nil, nil
	}
	return nil, Errorf(ENOTIMPLEMENTED, "filter parser not yet written")
}

// ParseRunOrderBy parses one run order_by clause.
func ParseRunOrderBy(s string) (OrderBy, error) {
	return OrderBy{}, Errorf(ENOTIMPLEMENTED, "order_by parser not yet written")
}

// ParseExperimentFilter parses an MLflow experiment search filter.
func ParseExperimentFilter(filter string) ([]Comparison, error) {
	if filter == "" {
		return nil, nil
	}
	return nil, Errorf(ENOTIMPLEMENTED, "filter parser not yet written")
}

// ParseExperimentOrderBy parses one experiment order_by clause.
func ParseExperimentOrderBy(s string) (OrderBy, error) {
	return OrderBy{}, Errorf(ENOTIMPLEMENTED, "order_by parser not yet written")
}
