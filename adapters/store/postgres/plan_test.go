package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"invoices/adapters/store"
	"invoices/adapters/store/postgres"
	"invoices/adapters/store/storetest"
	"invoices/domain/invoice"
	"invoices/ports"
)

// planRows is the size of the read model the list plans are checked on:
// large enough that PostgreSQL's planner prefers a sequential scan
// wherever no index serves a filter.
const planRows = 1_000_000

// planEpoch is when the first of the planRows invoices was created; one
// is created every minute after it (about 694 days in all).
var planEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// fillPlanReadModel fills the live invoices table, created by NewReadModel
// with its indexes, with planRows invoices in one INSERT ... SELECT, then
// ANALYZEs it. Invoice i (its seq) is created at planEpoch + i minutes,
// for customer cus_(i mod 20011) (about 50 invoices each), in EUR 3/7 of
// the time, USD 2/7, JPY and KWD 1/7 each; it is void 1 time in 20, paid
// 7 in 20, pending otherwise; two in three have a due date, 0-60 days after
// the day they were created. The periods are coprime, so every
// combination of values occurs.
func fillPlanReadModel(t *testing.T, e storetest.Engine) *store.ReadModel {
	t.Helper()
	ctx := context.Background()
	db := storetest.Must(store.Open(ctx, e.Store, e.Database(t, "plans")))(t)
	t.Cleanup(func() { closeOrReport(t, db) })
	m := storetest.Must(store.NewReadModel(ctx, e.Store, db))(t)
	// Cheap expressions only (no md5, arrays or numeric division): on a
	// small machine computing the rows costs as much as writing them.
	fill := fmt.Sprintf(`INSERT INTO invoices (id, seq, customer_id, amount, currency, due_date, status, version,
			created_at, updated_at, paid_at, voided_at, void_reason)
		SELECT lpad(to_hex(i), 32, '0')::uuid, i, 'cus_' || (i %% 20011), i %% 100000 + 1,
			CASE i %% 7 WHEN 3 THEN 'USD' WHEN 4 THEN 'USD' WHEN 5 THEN 'JPY' WHEN 6 THEN 'KWD' ELSE 'EUR' END,
			CASE WHEN i %% 3 <> 0 THEN to_timestamp(%[1]d + (i / 1440 + i %% 61) * 86400) END,
			CASE WHEN i %% 20 = 0 THEN 'void' WHEN i %% 20 < 8 THEN 'paid' ELSE 'pending' END,
			CASE WHEN i %% 20 < 8 THEN 2 ELSE 1 END,
			to_timestamp(%[1]d + i * 60), to_timestamp(%[1]d + i * 60 + 30),
			CASE WHEN i %% 20 BETWEEN 1 AND 7 THEN to_timestamp(%[1]d + i * 60 + 30) END,
			CASE WHEN i %% 20 = 0 THEN to_timestamp(%[1]d + i * 60 + 30) END,
			CASE WHEN i %% 40 = 0 THEN 'sent twice' END
		FROM generate_series(1, %[2]d) AS i`, planEpoch.Unix(), planRows)
	start := time.Now()
	if err := db.WithContext(ctx).Exec(fill).Error; err != nil {
		t.Fatalf("fill the read model: %v", err)
	}
	if err := db.WithContext(ctx).Exec("ANALYZE invoices").Error; err != nil {
		t.Fatalf("analyze: %v", err)
	}
	t.Logf("%d invoices written and analyzed in %v", planRows, time.Since(start).Round(time.Millisecond))
	return m
}

// TestListPlansUseIndexes fills a read model with a million invoices and
// checks the plan of the first page of the list, as the pgx list path
// sends it, for every filter alone and in combinations: no plan may read
// the whole table. A filter without an index it can use would be a
// sequential scan per page at this size.
func TestListPlansUseIndexes(t *testing.T) {
	e := storetest.RequirePostgres(t)
	ctx := context.Background()
	m := fillPlanReadModel(t, e)
	sqlDB := storetest.Must(m.DB().DB())(t)

	day := func(d int) time.Time { return planEpoch.AddDate(0, 0, d) }
	date := func(d int) invoice.Date { return invoice.DateOf(day(d)) }
	statuses := func(s ...invoice.Status) []invoice.Status { return s }
	tests := []struct {
		name   string
		filter ports.InvoiceFilter
	}{
		{name: "no filter"},
		{name: "pending", filter: ports.InvoiceFilter{Statuses: statuses(invoice.StatusPending)}},
		{name: "paid", filter: ports.InvoiceFilter{Statuses: statuses(invoice.StatusPaid)}},
		{name: "void", filter: ports.InvoiceFilter{Statuses: statuses(invoice.StatusVoid)}},
		{name: "paid or void", filter: ports.InvoiceFilter{Statuses: statuses(invoice.StatusPaid, invoice.StatusVoid)}},
		{name: "customer", filter: ports.InvoiceFilter{CustomerID: "cus_4242"}},
		{name: "unknown customer", filter: ports.InvoiceFilter{CustomerID: "cus_nobody"}},
		{name: "common currency", filter: ports.InvoiceFilter{Currency: "EUR"}},
		{name: "rare currency", filter: ports.InvoiceFilter{Currency: "KWD"}},
		{name: "currency nobody uses", filter: ports.InvoiceFilter{Currency: "CHF"}},
		{name: "created from, recent", filter: ports.InvoiceFilter{CreatedFrom: day(680)}},
		{name: "created from, early", filter: ports.InvoiceFilter{CreatedFrom: day(10)}},
		{name: "created to, early", filter: ports.InvoiceFilter{CreatedTo: day(7)}},
		{name: "created to, recent", filter: ports.InvoiceFilter{CreatedTo: day(680)}},
		{name: "created on one day", filter: ports.InvoiceFilter{CreatedFrom: day(300), CreatedTo: day(301)}},
		{name: "due before, early", filter: ports.InvoiceFilter{DueBefore: date(14)}},
		{name: "due before, late", filter: ports.InvoiceFilter{DueBefore: date(600)}},
		{name: "customer and status", filter: ports.InvoiceFilter{CustomerID: "cus_4242", Statuses: statuses(invoice.StatusPending)}},
		{name: "status and currency", filter: ports.InvoiceFilter{Statuses: statuses(invoice.StatusVoid), Currency: "KWD"}},
		{name: "currency and created between", filter: ports.InvoiceFilter{Currency: "JPY", CreatedFrom: day(100), CreatedTo: day(130)}},
		{name: "status and due before", filter: ports.InvoiceFilter{Statuses: statuses(invoice.StatusPending), DueBefore: date(30)}},
		{name: "all combined", filter: ports.InvoiceFilter{
			Statuses: statuses(invoice.StatusPending, invoice.StatusVoid), CustomerID: "cus_4262", Currency: "EUR",
			CreatedFrom: day(30), CreatedTo: day(600), DueBefore: date(500),
		}},
	}
	for _, tt := range tests {
		for _, limit := range []int{101, 1001} { // the default page and the largest, each with one more to see a next page
			t.Run(fmt.Sprintf("%s/limit=%d", tt.name, limit), func(t *testing.T) {
				query, args := postgres.ListQuery(ports.ListParams{Limit: limit, Filter: tt.filter})
				var doc string
				if err := sqlDB.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+query, args...).Scan(&doc); err != nil {
					t.Fatalf("EXPLAIN %s: %v", query, err)
				}
				nodes, err := planNodes(doc)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range nodes {
					if strings.HasPrefix(strings.TrimSpace(n), "Seq Scan") {
						t.Errorf("plan of %s %v reads the whole table:\n  %s", query, args, strings.Join(nodes, "\n  "))
						break
					}
				}
			})
		}
	}
}

// planNode is a node of EXPLAIN (FORMAT JSON) output.
type planNode struct {
	NodeType  string     `json:"Node Type"`
	Relation  string     `json:"Relation Name"`
	IndexName string     `json:"Index Name"`
	Plans     []planNode `json:"Plans"`
}

// planNodes lists every node of an EXPLAIN (FORMAT JSON) document, depth
// first, as "Node Type [index or relation]".
func planNodes(doc string) ([]string, error) {
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(doc), &plans); err != nil {
		return nil, fmt.Errorf("parse plan: %w\n%s", err, doc)
	}
	var out []string
	var walk func(depth int, n planNode)
	walk = func(depth int, n planNode) {
		s := strings.Repeat("  ", depth) + n.NodeType
		switch {
		case n.IndexName != "":
			s += " using " + n.IndexName
		case n.Relation != "":
			s += " on " + n.Relation
		}
		out = append(out, s)
		for _, c := range n.Plans {
			walk(depth+1, c)
		}
	}
	for _, p := range plans {
		walk(0, p.Plan)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no plan in %s", doc)
	}
	return out, nil
}
