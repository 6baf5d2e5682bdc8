package audit

import "context"

// ListSQLForTest returns the SQL and arguments List runs for f, so tests can
// check its query plan.
func (s *Store) ListSQLForTest(ctx context.Context, f Filter, before int64) (string, []any, error) {
	q, err := s.compile(ctx, f)
	if err != nil {
		return "", nil, err
	}
	sqlText, args := q.page(before, DefaultPageSize+1)
	return sqlText, args, nil
}
